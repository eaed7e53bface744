"""The carrier port on EasyPost's official Python SDK (``easypost``), one client per store API key.

EasyPost API reference (docs.easypost.com/docs): Shipments ("Create a Shipment": ``to_address``, ``from_address``,
``parcel`` in inches and ounces, ``customs_info``, ``options``, ``reference``; the response carries ``rates``),
"Buy a Shipment" (``rate: {id}``; the response carries ``postage_label.label_url``, ``tracking_code`` and the
``tracker`` EasyPost creates for every label it sells, with its ``public_url``), "Refund a Shipment"
(``refund_status``: submitted, refunded, rejected, not_applicable), Errors (``{"error": {"code", "message",
"errors": [{"field", "message"}]}}``; 422 for a request it cannot process, 429 rate limited, 5xx its own).
The request bodies are checked against the SDK's own recorded examples in ``tests/fixtures/easypost/``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fulfillment.errors import ShipmentRejected, TransientError
from fulfillment.model.labels import Label, Rate
from fulfillment.model.money import Money
from fulfillment.model.shipping import Shipment, ShipmentRequest

if TYPE_CHECKING:
    from easypost.easypost_client import EasyPostClient

    from fulfillment.model.order import Address

GRAMS_PER_OUNCE = 28.349523125
MM_PER_INCH = 25.4


def ounces(grams: int) -> float:
    """EasyPost weighs in ounces (to 0.1 oz); rounded up, so a label never declares less than the parcel weighs."""
    return math.ceil(grams / GRAMS_PER_OUNCE * 10) / 10


def inches(millimetres: int) -> float:
    return math.ceil(millimetres / MM_PER_INCH * 10) / 10


def address_body(address: Address, email: str = "") -> dict[str, Any]:
    """EasyPost's Address: ``street1``/``street2``, ``state`` and ``zip``; empty fields left out."""
    lines = [line for line in address.lines if line.strip()]
    fields = {
        "name": address.name,
        "company": address.company,
        "street1": lines[0] if lines else "",
        "street2": ", ".join(lines[1:]),
        "city": address.city,
        "state": address.region,
        "zip": address.postal_code,
        "country": address.country,
        "phone": address.phone,
        "email": email,
    }
    return {key: value for key, value in fields.items() if value}


def shipment_body(request: ShipmentRequest) -> dict[str, Any]:
    """The ``shipment`` object of "Create a Shipment"."""
    parcel: dict[str, Any] = {"weight": ounces(request.weight_g)}
    if request.dims_mm:
        length, width, height = request.dims_mm
        parcel = {"length": inches(length), "width": inches(width), "height": inches(height)} | parcel
    options: dict[str, Any] = {"label_format": request.label_format, "label_size": request.label_size}
    if request.invoice_number:
        options["invoice_number"] = request.invoice_number
    if request.cod_amount is not None:
        # Shipment options "cod_amount" (a string: the carrier collects it from the recipient) and "cod_method"
        # (CASH, CHECK, MONEY_ORDER): https://docs.easypost.com/docs/shipments/options. The options name no
        # currency for it ("currency" is the rates' display currency): the carrier account's currency applies.
        options["cod_amount"] = f"{request.cod_amount.to_decimal():.2f}"
        options["cod_method"] = "CASH"
    body: dict[str, Any] = {
        "to_address": address_body(request.ship_to, request.ship_to_email),
        "from_address": address_body(request.ship_from, request.ship_from_email),
        "parcel": parcel,
        "options": options,
        "reference": request.reference,
    }
    if request.customs:
        body["customs_info"] = {
            "customs_certify": True,
            "customs_signer": request.customs.signer,
            "contents_type": request.customs.contents_type,
            "contents_explanation": "",
            "restriction_type": "none",
            "non_delivery_option": "return",
            "eel_pfc": "NOEEI 30.37(a)",  # no export filing: the exemption EasyPost's own example uses
            "customs_items": [
                {
                    "description": line.description[:255],
                    "quantity": line.quantity,
                    "weight": ounces(line.weight_g),
                    "value": float(line.value.to_decimal()),
                    "currency": line.value.currency,
                    "hs_tariff_number": line.hs_code,
                    "origin_country": line.origin_country,
                }
                for line in request.customs.lines
            ],
        }
    if request.carrier_accounts:
        body["carrier_accounts"] = list(request.carrier_accounts)
    return body


def read_shipment(data: Mapping[str, Any]) -> Shipment:
    """Our view of an EasyPost Shipment object."""
    rates = tuple(
        Rate(
            id=str(rate["id"]),
            carrier=str(rate.get("carrier") or ""),
            service=str(rate.get("service") or ""),
            cost=Money.parse(str(rate["rate"]), str(rate.get("currency") or "USD")),
            delivery_days=rate.get("delivery_days"),
        )
        for rate in data.get("rates") or []
    )
    label = None
    postage, chosen = data.get("postage_label") or {}, data.get("selected_rate") or {}
    if data.get("tracking_code") and postage:
        tracker = data.get("tracker") or {}
        label = Label(
            carrier=str(chosen.get("carrier") or ""),
            service=str(chosen.get("service") or ""),
            tracking_number=str(data["tracking_code"]),
            tracking_url=tracker.get("public_url"),
            label_url=postage.get("label_url") or postage.get("label_pdf_url") or postage.get("label_zpl_url"),
            cost=Money.parse(str(chosen["rate"]), str(chosen.get("currency") or "USD")) if chosen.get("rate") else None,
            rate_id=str(chosen.get("id") or ""),
        )
    return Shipment(id=str(data["id"]), rates=rates, label=label, refund_status=data.get("refund_status"))


class EasyPostCarrier:
    name = "easypost"

    def __init__(self, api_base: str | None = None, timeout: int = 10) -> None:
        self._api_base = api_base
        self._timeout = timeout
        self._clients: dict[str, EasyPostClient] = {}
        self._lock = threading.Lock()

    def _client(self, api_key: str) -> EasyPostClient:
        with self._lock:
            if api_key not in self._clients:
                from easypost.easypost_client import (
                    EasyPostClient,
                )  # imported on first use: only the ship and void steps need it

                kwargs: dict[str, Any] = {"timeout": self._timeout}
                if self._api_base:
                    kwargs["api_base"] = self._api_base
                self._clients[api_key] = EasyPostClient(api_key, **kwargs)
            return self._clients[api_key]

    def create_shipment(self, api_key: str, request: ShipmentRequest) -> Shipment:
        client = self._client(api_key)
        return _call(lambda: client.shipment.create(**shipment_body(request)), f"shipment {request.reference}")

    def shipment(self, api_key: str, shipment_id: str) -> Shipment:
        client = self._client(api_key)
        return _call(lambda: client.shipment.retrieve(shipment_id), f"shipment {shipment_id}")

    def buy(self, api_key: str, shipment_id: str, rate_id: str) -> Shipment:
        client = self._client(api_key)
        return _call(lambda: client.shipment.buy(shipment_id, rate={"id": rate_id}), f"label for {shipment_id}")

    def refund(self, api_key: str, shipment_id: str) -> Shipment:
        client = self._client(api_key)
        return _call(lambda: client.shipment.refund(shipment_id), f"refund of {shipment_id}")


def _call(request: Any, what: str) -> Shipment:
    from easypost.errors.api.api_error import ApiError
    from easypost.errors.api.http_error import HttpError
    from easypost.errors.api.json_error import JsonError
    from easypost.errors.api.rate_limit_error import RateLimitError
    from easypost.errors.api.timeout_error import TimeoutError as EasyPostTimeout

    try:
        result = request()
    except (RateLimitError, EasyPostTimeout, HttpError, JsonError) as error:
        raise TransientError(f"EasyPost {what}: {error.message}") from error
    except ApiError as error:
        if (error.http_status or 0) >= 500:
            raise TransientError(f"EasyPost {what}: {error.http_status} {error.message}") from error
        details = "; ".join(
            f"{detail.get('field', '')}: {detail.get('message', '')}" if isinstance(detail, dict) else str(detail)
            for detail in error.errors or []
        )
        raise ShipmentRejected(
            f"EasyPost refused the {what} ({error.http_status} {error.code}): {error.message}"
            + (f" ({details})" if details else "")
        ) from error
    return read_shipment(result.to_dict())
