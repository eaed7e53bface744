"""The payment gateway: ``StripePaymentGateway`` (Stripe's SDK) against the Stripe-compatible stub over real HTTP,
and the fake, to one contract.

Idempotency: the same key always gets the first answer and never moves money twice — after a 5xx, a lost answer,
or a caller-level retry. Declines raise ``PaymentDeclined`` (and a decline is replayed under its key too). ``void``
is "cancel or refund". A refund never exceeds what was captured; a capture after a cancel is refused.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

import pytest
import stripe

from fulfillment.adapters.payment_gateway import StripePaymentGateway
from fulfillment.errors import PaymentDeclined, PlatformRejected, RefundNotPossible, TransientError
from fulfillment.model import Order
from fulfillment.model.payment import capture_key, cash_key, refund_key, void_key
from fulfillment.ports import PaymentGateway
from local.payment_simulator import PaymentSimulator, intent_id_for
from local.stub_api import Fault
from tests.fakes import make_order, money
from tests.fakes_payment import FakePaymentGateway

API_KEY = "sk_test_local"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "stripe"


class Controls(Protocol):
    """What the stub and the fake both offer tests."""

    declining_orders: set[str]

    def authorize(self, order_key: str, amount: int, currency: str = "EUR", card: str = ...) -> Any: ...
    def decline_next(self, order_key: str, code: str = ...) -> None: ...
    def charges_for(self, order_key: str, kind: Any = None) -> list[Any]: ...


@dataclass
class Harness:
    gateway: PaymentGateway
    controls: Controls


@pytest.fixture
def simulator() -> Iterator[PaymentSimulator]:
    sim = PaymentSimulator(api_key=API_KEY)
    with sim:
        yield sim


@pytest.fixture(params=["stripe", "fake"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "fake":
        fake = FakePaymentGateway(auto_authorize=False)
        yield Harness(fake, fake)
        return
    sim = PaymentSimulator(api_key=API_KEY)
    with sim:
        yield Harness(gateway_for(sim), sim)


def with_intent(order: Order) -> Order:
    """The order as the platform adapter reads it: the checkout's PaymentIntent as its authorization id."""
    order.payment.authorization_ids = [intent_id_for(order.key)]
    return order


def authorized_order(controls: Controls, **overrides: Any) -> Order:
    order = with_intent(make_order(platform_refs={"payment_method": "authorized"}, **overrides))
    controls.authorize(order.key, order.totals.grand_total.minor, order.currency)
    return order


def cod_order(**overrides: Any) -> Order:
    return make_order(platform_refs={"payment_method": "cod"}, **overrides)


# --- the contract: the HTTP gateway and the fake alike ---------------------------------------------------
class TestCapture:
    def test_the_same_key_twice_charges_once_and_answers_the_same(self, harness: Harness) -> None:
        order = authorized_order(harness.controls)

        first = harness.gateway.capture(order, money("34.90"), capture_key(order))
        again = harness.gateway.capture(order, money("34.90"), capture_key(order))

        assert first.status == "captured"
        assert first.amount == money("34.90")
        assert again == first
        assert [c.amount for c in harness.controls.charges_for(order.key)] == [3490]

    def test_a_second_capture_under_another_key_is_already_done(self, harness: Harness) -> None:
        order = authorized_order(harness.controls)
        first = harness.gateway.capture(order, money("34.90"), capture_key(order))

        second = harness.gateway.capture(order, money("34.90"), "capture:a-re-run-with-a-new-key")

        assert (second.status, second.amount, second.reference) == ("already", money("34.90"), first.reference)
        assert len(harness.controls.charges_for(order.key, "capture")) == 1

    def test_less_than_authorized_may_be_captured_more_may_not(self, harness: Harness) -> None:
        order = authorized_order(harness.controls)
        with pytest.raises(PlatformRejected):
            harness.gateway.capture(order, money("34.91"), capture_key(order))
        assert harness.gateway.capture(order, money("30.00"), "capture:partial").amount == money("30.00")
        assert harness.controls.charges_for(order.key) != []

    def test_an_order_never_authorized_cannot_be_captured(self, harness: Harness) -> None:
        order = with_intent(make_order(platform_refs={"payment_method": "authorized"}))
        with pytest.raises(PlatformRejected):
            harness.gateway.capture(order, money("34.90"), capture_key(order))
        assert harness.controls.charges_for(order.key) == []

    def test_a_key_reused_for_another_amount_is_refused(self, harness: Harness) -> None:
        order = authorized_order(harness.controls)
        harness.gateway.capture(order, money("10.00"), "capture:k")
        with pytest.raises(PlatformRejected):
            harness.gateway.capture(order, money("20.00"), "capture:k")
        assert [c.amount for c in harness.controls.charges_for(order.key)] == [1000]


class TestDeclines:
    def test_a_decline_raises_and_charges_nothing(self, harness: Harness) -> None:
        order = authorized_order(harness.controls)
        harness.controls.decline_next(order.key, "insufficient_funds")

        with pytest.raises(PaymentDeclined) as declined:
            harness.gateway.capture(order, money("34.90"), capture_key(order))

        assert declined.value.decline_code == "insufficient_funds"
        assert harness.controls.charges_for(order.key) == []

    def test_a_decline_is_kept_under_its_key_a_new_attempt_needs_a_new_key(self, harness: Harness) -> None:
        order = authorized_order(harness.controls)
        harness.controls.decline_next(order.key)
        with pytest.raises(PaymentDeclined):
            harness.gateway.capture(order, money("34.90"), "capture:first")

        with pytest.raises(PaymentDeclined):  # the same key: the first answer, the card is not tried again
            harness.gateway.capture(order, money("34.90"), "capture:first")
        assert harness.gateway.capture(order, money("34.90"), "capture:second").status == "captured"
        assert len(harness.controls.charges_for(order.key)) == 1

    def test_a_declining_order_is_always_declined(self, harness: Harness) -> None:
        order = authorized_order(harness.controls)
        harness.controls.declining_orders.add(order.key)
        for attempt in range(2):
            with pytest.raises(PaymentDeclined):
                harness.gateway.capture(order, money("34.90"), f"capture:{attempt}")
        assert harness.controls.charges_for(order.key) == []


class TestVoid:
    def test_an_uncaptured_authorization_is_voided_and_can_no_longer_be_captured(self, harness: Harness) -> None:
        order = authorized_order(harness.controls)

        voided = harness.gateway.void(order, void_key(order))

        assert (voided.status, voided.amount) == ("voided", money("34.90"))
        assert harness.gateway.void(order, void_key(order)) == voided  # a retry
        assert harness.gateway.void(order, "void:again").status == "already"
        with pytest.raises(PlatformRejected):
            harness.gateway.capture(order, money("34.90"), capture_key(order))
        assert [c.kind for c in harness.controls.charges_for(order.key)] == ["void"]

    def test_a_captured_payment_is_refunded_in_full_by_a_void(self, harness: Harness) -> None:
        order = authorized_order(harness.controls)
        harness.gateway.capture(order, money("34.90"), capture_key(order))
        harness.gateway.refund(order, money("4.90"), refund_key(f"{order.key}:R1"))

        released = harness.gateway.void(order, void_key(order))

        assert (released.status, released.amount) == ("refunded", money("30.00"))
        assert harness.gateway.void(order, "void:again").status == "already"
        with pytest.raises(PlatformRejected):
            harness.gateway.refund(order, money("0.01"), "refund:more")
        refunds = harness.controls.charges_for(order.key, "refund")
        assert sum(c.amount for c in refunds) == 3490


class TestRefunds:
    def test_refunds_never_exceed_what_was_captured(self, harness: Harness) -> None:
        order = authorized_order(harness.controls)
        harness.gateway.capture(order, money("34.90"), capture_key(order))

        assert harness.gateway.refund(order, money("10.00"), refund_key(f"{order.key}:R1")).status == "refunded"
        assert harness.gateway.refund(order, money("20.00"), refund_key(f"{order.key}:R2")).status == "refunded"
        with pytest.raises(PlatformRejected):
            harness.gateway.refund(order, money("5.00"), refund_key(f"{order.key}:R3"))
        harness.gateway.refund(order, money("4.90"), refund_key(f"{order.key}:R4"))
        harness.gateway.refund(order, money("4.90"), refund_key(f"{order.key}:R4"))  # a retry: no new refund

        refunds = harness.controls.charges_for(order.key, "refund")
        assert [c.amount for c in refunds] == [1000, 2000, 490]

    def test_nothing_captured_nothing_to_refund(self, harness: Harness) -> None:
        order = authorized_order(harness.controls)
        with pytest.raises(PlatformRejected):
            harness.gateway.refund(order, money("1.00"), refund_key(f"{order.key}:R1"))
        assert harness.controls.charges_for(order.key) == []


class TestCashOnDelivery:
    """Stripe has no part in cash on delivery: the collection is recorded, and cash cannot be refunded by Stripe."""

    def test_cash_is_recorded_without_a_call(self, simulator: PaymentSimulator) -> None:
        order = cod_order()
        collected = gateway_for(simulator).collect_cash(order, money("34.90"), cash_key(order))
        assert (collected.status, collected.amount, collected.reference) == (
            "collected",
            money("34.90"),
            f"cash:{cash_key(order)}",
        )
        assert simulator.received() == []

    def test_cancelled_before_delivery_nothing_is_held(self, harness: Harness) -> None:
        order = cod_order()
        released = harness.gateway.void(order, void_key(order))
        assert (released.status, released.amount) == ("already", money("0.00"))
        assert harness.controls.charges_for(order.key) == []

    def test_collected_cash_is_not_refunded_by_the_gateway(self, harness: Harness) -> None:
        order = cod_order()
        harness.gateway.collect_cash(order, money("34.90"), cash_key(order))
        with pytest.raises(RefundNotPossible):
            harness.gateway.refund(order, money("34.90"), refund_key(f"{order.key}:R1"))
        assert [c.kind for c in harness.controls.charges_for(order.key) if c.kind == "refund"] == []

    def test_an_order_without_a_payment_intent_cannot_be_captured(self, simulator: PaymentSimulator) -> None:
        order = make_order(platform_refs={"payment_method": "authorized"})
        with pytest.raises(PlatformRejected, match="names no PaymentIntent"):
            gateway_for(simulator).capture(order, money("34.90"), capture_key(order))
        assert simulator.received() == []


# --- over HTTP only: transport faults and the wire format ------------------------------------------------
def gateway_for(sim: PaymentSimulator, *, timeout: float = 2.0, retries: int = 2, key: str = API_KEY) -> PaymentGateway:
    client = stripe.StripeClient(
        key,
        base_addresses={"api": sim.url},
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )
    return StripePaymentGateway(sim.url, key, client=client)


def wait_until(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


class TestOverHttp:
    def test_every_post_is_the_sdks_form_with_the_key_and_the_api_key(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        gateway_for(simulator).capture(order, money("34.90"), capture_key(order))

        # The SDK may send it again (a read timeout on a loaded machine): the same request under the same key.
        request, *again = simulator.received("POST")
        same = ("idempotency-key", "authorization")
        assert all(
            (r.path, r.body, [r.headers.get(h) for h in same])
            == (request.path, request.body, [request.headers.get(h) for h in same])
            for r in again
        )
        assert request.path == f"/v1/payment_intents/{intent_id_for(order.key)}/capture"
        assert request.headers["idempotency-key"] == "capture:kaffeekontor:4711"
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        assert parse_qs(request.body.decode()) == {
            "amount_to_capture": ["3490"],
            "metadata[order_key]": ["kaffeekontor:4711"],
        }

    def test_refunds_and_cancels_carry_the_key_too(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        gateway = gateway_for(simulator)
        gateway.capture(order, money("34.90"), capture_key(order))
        gateway.refund(order, money("1.00"), refund_key(f"{order.key}:R1"))
        gateway.void(order, void_key(order))

        posts = simulator.received("POST")
        keys = [r.headers.get("idempotency-key") for r in posts]
        assert list(dict.fromkeys(keys)) == [  # an SDK retry of one is the same key again
            capture_key(order),
            refund_key(f"{order.key}:R1"),
            void_key(order),
        ]
        refund = next(r for r in posts if r.headers.get("idempotency-key") == refund_key(f"{order.key}:R1"))
        assert parse_qs(refund.body.decode())["amount"] == ["100"]

    def test_a_429_is_transient_and_the_retry_charges_once(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        simulator.fail_next("POST", PaymentSimulator.CAPTURE, Fault(429))

        with pytest.raises(TransientError):  # the SDK retries 429 only when Stripe says Stripe-Should-Retry
            gateway_for(simulator).capture(order, money("34.90"), capture_key(order))
        assert gateway_for(simulator).capture(order, money("34.90"), capture_key(order)).status == "captured"
        assert len(simulator.charges_for(order.key)) == 1

    def test_a_server_error_is_resent_by_the_sdk_because_the_key_makes_it_safe(
        self, simulator: PaymentSimulator
    ) -> None:
        order = authorized_order(simulator)
        simulator.fail_next("POST", PaymentSimulator.CAPTURE, Fault(503), Fault(500))

        assert gateway_for(simulator).capture(order, money("34.90"), capture_key(order)).status == "captured"

        posts = simulator.received("POST")
        assert len(posts) == 3
        assert {r.headers["idempotency-key"] for r in posts} == {capture_key(order)}
        assert len(simulator.charges_for(order.key)) == 1

    def test_a_lost_answer_is_resent_with_the_same_key_and_charges_once(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        # The first request is processed after the client stopped waiting: its answer is lost.
        simulator.fail_next("POST", PaymentSimulator.CAPTURE, Fault.slow(1.0))

        result = gateway_for(simulator, timeout=0.3).capture(order, money("34.90"), capture_key(order))

        wait_until(
            lambda: (
                len(simulator.charges_for(order.key)) == 1 and simulator.replays + len(simulator.received("POST")) >= 2
            )
        )
        assert result.status == "captured"
        assert [c.reference for c in simulator.charges_for(order.key)] == [result.reference]

    def test_a_caller_retry_after_a_lost_answer_gets_the_first_answer(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        simulator.fail_next("POST", PaymentSimulator.CAPTURE, Fault.slow(0.4))
        once = gateway_for(simulator, timeout=0.1, retries=0)

        with pytest.raises(TransientError):  # the Lambda fails; Step Functions retries the step
            once.capture(order, money("34.90"), capture_key(order))
        wait_until(lambda: len(simulator.charges_for(order.key)) == 1)  # … but the charge went through
        retried = once.capture(order, money("34.90"), capture_key(order))

        [charge] = simulator.charges_for(order.key)
        assert (retried.status, retried.reference) == ("captured", charge.reference)
        assert simulator.replays == 1

    def test_server_errors_that_outlast_the_attempts_are_transient(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        simulator.fail_next("POST", PaymentSimulator.CAPTURE, *[Fault(502)] * 3)

        with pytest.raises(TransientError):
            gateway_for(simulator).capture(order, money("34.90"), capture_key(order))
        assert simulator.charges_for(order.key) == []
        assert gateway_for(simulator).capture(order, money("34.90"), capture_key(order)).status == "captured"

    def test_concurrent_captures_charge_once(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        gateway = gateway_for(simulator)
        results: list[str] = []

        def capture(key: str) -> None:
            results.append(gateway.capture(order, money("34.90"), key).status)

        threads = [threading.Thread(target=capture, args=(f"capture:{i % 2}",)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(set(results)) == ["already", "captured"]
        assert len(simulator.charges_for(order.key)) == 1

    def test_stripe_declining_test_cards_are_declined(self, simulator: PaymentSimulator) -> None:
        order = with_intent(make_order())
        simulator.authorize(order.key, 3490, "EUR", card="4000000000009995")
        with pytest.raises(PaymentDeclined) as declined:
            gateway_for(simulator).capture(order, money("34.90"), capture_key(order))
        assert declined.value.decline_code == "insufficient_funds"

    def test_a_wrong_api_key_is_refused(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        with pytest.raises(PlatformRejected) as rejected:
            gateway_for(simulator, key="sk_wrong").capture(order, money("1.00"), "k")
        assert rejected.value.status == 401
        assert simulator.charges_for(order.key) == []

    def test_auto_authorize_serves_a_local_runtime_where_no_checkout_authorized(self) -> None:
        order = with_intent(make_order(platform_refs={"payment_method": "authorized"}))
        sim = PaymentSimulator(api_key=API_KEY, auto_authorize=True)
        with sim:
            assert gateway_for(sim).capture(order, money("34.90"), capture_key(order)).status == "captured"
            intent = sim.intent_of(order.key)
            assert intent is not None
            assert (intent.order_key, intent.status, intent.amount_received) == (order.key, "succeeded", 3490)


class TestStubAnswersAreStripesObjects:
    """The stub's answers parse as the SDK's objects, with the fields the published examples have."""

    def test_a_captured_payment_intent(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        gateway_for(simulator).capture(order, money("34.90"), capture_key(order))
        answer = _get(simulator, f"/v1/payment_intents/{intent_id_for(order.key)}")
        published = json.loads((FIXTURES / "payment_intent.json").read_text())

        intent = stripe.PaymentIntent.construct_from(answer, API_KEY)
        assert isinstance(intent, stripe.PaymentIntent)
        assert set(answer) <= set(published)
        assert (intent.object, intent.status, intent.amount_received, intent.currency) == (
            "payment_intent",
            "succeeded",
            3490,
            "eur",
        )

    def test_a_refund(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        gateway = gateway_for(simulator)
        gateway.capture(order, money("34.90"), capture_key(order))
        gateway.refund(order, money("4.90"), refund_key(f"{order.key}:R1"))
        [answer] = _get(simulator, f"/v1/refunds?payment_intent={intent_id_for(order.key)}")["data"]
        published = json.loads((FIXTURES / "refund.json").read_text())

        refund = stripe.Refund.construct_from(answer, API_KEY)
        assert set(answer) <= set(published)
        assert (refund.object, refund.amount, refund.status) == ("refund", 490, "succeeded")

    def test_a_capture_after_a_cancel_is_stripes_error_and_a_clear_refusal(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        gateway = gateway_for(simulator)
        gateway.void(order, void_key(order))

        with pytest.raises(PlatformRejected) as refused:
            gateway.capture(order, money("34.90"), capture_key(order))

        cause = refused.value.__cause__
        assert isinstance(cause, stripe.InvalidRequestError)  # the SDK read the stub's error as Stripe's
        assert (cause.http_status, cause.code) == (400, "payment_intent_unexpected_state")
        assert "payment_intent_unexpected_state" in str(refused.value)
        published = json.loads((FIXTURES / "error.json").read_text())["error"]
        assert cause.error is not None
        assert {"type", "code", "message"} <= set(published) and cause.error.type == published["type"]
        assert [c.kind for c in simulator.charges_for(order.key)] == ["void"]


def _get(sim: PaymentSimulator, path: str) -> Any:
    import urllib.request

    request = urllib.request.Request(sim.url + path, headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=2) as answer:
        return json.loads(answer.read())
