"""The payment gateway: ``HttpPaymentGateway`` against the simulator over real HTTP, and the fake, to one contract.

Idempotency: the same key always gets the first answer and never moves money twice — after a 429,
a 5xx, a lost answer, or a caller-level retry. Declines raise ``PaymentDeclined`` (and a decline is
replayed under its key too). ``void`` is "cancel or refund". A refund never exceeds what was taken.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.payment_gateway import HttpPaymentGateway
from fulfillment.errors import PaymentDeclined, PlatformRejected, TransientError
from fulfillment.model import Order
from fulfillment.model.payment import capture_key, cash_key, refund_key, void_key
from fulfillment.ports import PaymentGateway
from local.payment_simulator import PaymentSimulator
from local.stub_api import Fault
from tests.fakes import make_order, money
from tests.fakes_payment import FakePaymentGateway

API_KEY = "sk_test_local"


class Controls(Protocol):
    """What the simulator and the fake both offer tests."""

    declining_orders: set[str]

    def authorize(self, order_key: str, amount: int, currency: str = "EUR", card: str = ...) -> None: ...
    def decline_next(self, order_key: str, code: str = ...) -> None: ...
    def charges_for(self, order_key: str, kind: Any = None) -> list[Any]: ...


@dataclass
class Harness:
    gateway: PaymentGateway
    controls: Controls


def http_client(**overrides: Any) -> HttpClient:
    settings: dict[str, Any] = {"timeout": 1.0, "attempts": 3, "base_delay": 0.01, "sleep": lambda _: None}
    return HttpClient(**(settings | overrides))


@pytest.fixture
def simulator() -> Iterator[PaymentSimulator]:
    with PaymentSimulator(api_key=API_KEY) as sim:
        yield sim


@pytest.fixture(params=["http", "fake"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "fake":
        fake = FakePaymentGateway(auto_authorize=False)
        yield Harness(fake, fake)
        return
    with PaymentSimulator(api_key=API_KEY) as sim:
        yield Harness(HttpPaymentGateway(sim.url, http_client(), API_KEY), sim)


def authorized_order(controls: Controls, **overrides: Any) -> Order:
    order = make_order(platform_refs={"payment_method": "authorized"}, **overrides)
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
        order = make_order(platform_refs={"payment_method": "authorized"})
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
    def test_cash_is_collected_once(self, harness: Harness) -> None:
        order = cod_order()

        collected = harness.gateway.collect_cash(order, money("34.90"), cash_key(order))

        assert (collected.status, collected.amount) == ("collected", money("34.90"))
        assert harness.gateway.collect_cash(order, money("34.90"), cash_key(order)) == collected
        assert harness.gateway.collect_cash(order, money("34.90"), "cash:again").status == "already"
        assert [c.kind for c in harness.controls.charges_for(order.key)] == ["cash"]
        with pytest.raises(PlatformRejected):  # cash on delivery is collected, not captured
            harness.gateway.capture(order, money("34.90"), capture_key(order))

    def test_refused_cash_is_a_decline(self, harness: Harness) -> None:
        order = cod_order()
        harness.controls.decline_next(order.key, "cash_refused")
        with pytest.raises(PaymentDeclined) as declined:
            harness.gateway.collect_cash(order, money("34.90"), cash_key(order))
        assert declined.value.decline_code == "cash_refused"
        assert harness.controls.charges_for(order.key) == []

    def test_cancelled_before_delivery_nothing_is_held_and_nothing_is_collected_later(self, harness: Harness) -> None:
        order = cod_order()
        released = harness.gateway.void(order, void_key(order))
        assert (released.status, released.amount) == ("already", money("0.00"))
        with pytest.raises(PlatformRejected):
            harness.gateway.collect_cash(order, money("34.90"), cash_key(order))
        assert harness.controls.charges_for(order.key) == []

    def test_collected_cash_can_be_refunded_and_no_more(self, harness: Harness) -> None:
        order = cod_order()
        harness.gateway.collect_cash(order, money("34.90"), cash_key(order))
        assert harness.gateway.refund(order, money("34.90"), refund_key(f"{order.key}:R4")).status == "refunded"
        with pytest.raises(PlatformRejected):
            harness.gateway.refund(order, money("0.01"), refund_key(f"{order.key}:R2"))


# --- over HTTP only: transport faults and the wire format ------------------------------------------------
def gateway_for(sim: PaymentSimulator, **client: Any) -> HttpPaymentGateway:
    return HttpPaymentGateway(sim.url, http_client(**client), API_KEY)


def wait_until(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


class TestOverHttp:
    def test_every_post_carries_the_key_and_the_api_key(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        gateway_for(simulator).capture(order, money("34.90"), capture_key(order))

        [request] = simulator.received("POST")
        assert request.path == "/payments/kaffeekontor%3A4711/capture"
        assert request.headers["idempotency-key"] == "capture:kaffeekontor:4711"
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        assert request.json() == {"amount": 3490, "currency": "EUR"}

    def test_order_keys_are_escaped_in_the_path(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator, external_id="A/17?x")
        assert gateway_for(simulator).capture(order, money("34.90"), capture_key(order)).status == "captured"
        assert simulator.payment("kaffeekontor:A/17?x") is not None

    def test_a_429_is_waited_out_and_resent_charging_once(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        simulator.fail_next("POST", PaymentSimulator.CAPTURE, Fault(429, retry_after="0"))

        assert gateway_for(simulator).capture(order, money("34.90"), capture_key(order)).status == "captured"

        assert len(simulator.received("POST")) == 2
        assert len(simulator.charges_for(order.key)) == 1

    def test_a_server_error_is_resent_because_the_key_makes_it_safe(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        simulator.fail_next("POST", PaymentSimulator.CAPTURE, Fault(503), Fault(500))

        assert gateway_for(simulator).capture(order, money("34.90"), capture_key(order)).status == "captured"

        assert len(simulator.received("POST")) == 3
        assert len(simulator.charges_for(order.key)) == 1

    def test_a_lost_answer_is_resent_with_the_same_key_and_charges_once(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        # The first request is processed after the client stopped waiting: its answer is lost.
        simulator.fail_next("POST", PaymentSimulator.CAPTURE, Fault.slow(1.0))

        result = gateway_for(simulator, timeout=0.3).capture(order, money("34.90"), capture_key(order))

        wait_until(lambda: simulator.replays >= 1)  # the slow first request, answered from the key table
        assert result.status == "captured"
        assert len(simulator.received("POST")) >= 2
        assert [c.reference for c in simulator.charges_for(order.key)] == [result.reference]

    def test_a_caller_retry_after_a_lost_answer_gets_the_first_answer(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        simulator.fail_next("POST", PaymentSimulator.CAPTURE, Fault.slow(0.4))
        once = gateway_for(simulator, timeout=0.1, attempts=1)

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
        order = make_order()
        simulator.authorize(order.key, 3490, "EUR", card="4000000000009995")
        with pytest.raises(PaymentDeclined) as declined:
            gateway_for(simulator).capture(order, money("34.90"), capture_key(order))
        assert declined.value.decline_code == "insufficient_funds"

    def test_a_wrong_api_key_is_refused(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        with pytest.raises(PlatformRejected) as rejected:
            HttpPaymentGateway(simulator.url, http_client(), "sk_wrong").capture(order, money("1.00"), "k")
        assert rejected.value.status == 401
        assert simulator.charges_for(order.key) == []

    def test_a_post_without_a_key_is_refused_and_moves_nothing(self, simulator: PaymentSimulator) -> None:
        order = authorized_order(simulator)
        with pytest.raises(PlatformRejected) as rejected:
            http_client().request(
                "POST",
                f"{simulator.url}/payments/kaffeekontor%3A4711/capture",
                headers={"Authorization": f"Bearer {API_KEY}"},
                json_body={"amount": 3490, "currency": "EUR"},
            )
        assert rejected.value.status == 400
        assert simulator.charges_for(order.key) == []

    def test_auto_authorize_serves_a_local_runtime_where_no_checkout_authorized(self) -> None:
        order = make_order(platform_refs={"payment_method": "authorized"})
        with PaymentSimulator(api_key=API_KEY, auto_authorize=True) as sim:
            assert gateway_for(sim).capture(order, money("34.90"), capture_key(order)).status == "captured"
            assert http_client().request("GET", f"{sim.url}/payments/kaffeekontor%3A4711").json() == {
                "order_key": order.key,
                "currency": "EUR",
                "authorized": 3490,
                "method": "card",
                "captured": 3490,
                "collected": 0,
                "refunded": 0,
                "voided": False,
            }
