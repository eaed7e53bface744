"""``PaymentGateway`` over a small Stripe-like JSON API (locally: ``local/payment_simulator.py``).

    POST /payments/{order_key}/capture  {"amount": minor, "currency": "EUR"}  → 200 captured
    POST /payments/{order_key}/void     {"currency": "EUR"}                   → 200 voided | refunded | already
    POST /payments/{order_key}/refunds  {"amount": minor, "currency": "EUR"}  → 201 refunded
    POST /payments/{order_key}/cash     {"amount": minor, "currency": "EUR"}  → 201 collected

Answers carry ``{"status", "amount", "currency", "id"}``. ``402`` is a decline (``PaymentDeclined``,
with the gateway's ``decline_code``); ``409 already_captured`` / ``already_collected`` means the money
was taken before, under another key, and reads as ``PaymentResult(status="already")``; other 4xx
(unknown payment, a refund over what is left, a key reused for another request) raise
``PlatformRejected``.

Every POST carries an ``Idempotency-Key``: the gateway answers a repeated key with its first answer
and moves no money. That makes resending safe, so unlike the store clients this adapter lets
``HttpClient`` resend after 5xx, timeouts and lost connections too, not only after 429; when its
attempts run out, ``TransientError`` goes to the caller, whose retry (Step Functions) sends the same
key again.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from fulfillment.adapters.http_client import HttpClient, HttpResponse
from fulfillment.errors import PaymentDeclined, PlatformRejected
from fulfillment.model import Money, Order
from fulfillment.model.payment import PaymentResult

_ALREADY = frozenset({"already_captured", "already_collected"})


class _Answer(BaseModel):
    status: Literal["captured", "collected", "voided", "refunded", "already"]
    amount: int
    currency: str
    id: str


class HttpPaymentGateway:
    def __init__(self, base_url: str, http: HttpClient, api_key: str) -> None:
        self._base = base_url.rstrip("/")
        self._http = http
        self._api_key = api_key

    def capture(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        return self._post(order, "capture", idempotency_key, _amount(amount))

    def void(self, order: Order, idempotency_key: str) -> PaymentResult:
        return self._post(order, "void", idempotency_key, {"currency": order.currency})

    def refund(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        return self._post(order, "refunds", idempotency_key, _amount(amount))

    def collect_cash(self, order: Order, amount: Money, idempotency_key: str) -> PaymentResult:
        return self._post(order, "cash", idempotency_key, _amount(amount))

    def _post(self, order: Order, action: str, idempotency_key: str, body: dict[str, Any]) -> PaymentResult:
        url = f"{self._base}/payments/{quote(order.key, safe='')}/{action}"
        headers = {"Authorization": f"Bearer {self._api_key}", "Idempotency-Key": idempotency_key}
        try:
            response = self._http.request("POST", url, headers=headers, json_body=body, retry=True)
        except PlatformRejected as rejected:
            error = _error_body(rejected.body)
            if rejected.status == 402:
                reason = str(error.get("decline_code") or error.get("error") or "declined")
                message = str(error.get("message") or reason)
                raise PaymentDeclined(f"{action} for order {order.key} declined: {message}", reason) from rejected
            if rejected.status == 409 and error.get("error") in _ALREADY:
                return _result(error, "already", url)
            raise
        return _result(_json(response, url), None, url)


def _amount(amount: Money) -> dict[str, Any]:
    return {"amount": amount.minor, "currency": amount.currency}


def _error_body(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _json(response: HttpResponse, url: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise PlatformRejected(f"POST {url} answered {response.status} without a JSON object", status=response.status)
    return body


def _result(body: dict[str, Any], status: Literal["already"] | None, url: str) -> PaymentResult:
    try:
        answer = _Answer.model_validate(body if status is None else {**body, "status": status})
        return PaymentResult(
            status=answer.status, amount=Money(minor=answer.amount, currency=answer.currency), reference=answer.id
        )
    except ValidationError as exc:
        raise PlatformRejected(f"POST {url}: unreadable payment answer {body!r}: {exc}") from exc
