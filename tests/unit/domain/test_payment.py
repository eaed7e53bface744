"""Payment rules: which method an order was paid with, when its money is taken, and the keys that make it once."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fulfillment.errors import DomainError, OrderInvalid, PaymentDeclined
from fulfillment.model import OrderStatus
from fulfillment.model.payment import (
    CapturePoint,
    PaymentMethod,
    PaymentResult,
    amount_to_collect,
    capture_key,
    capture_point,
    cash_key,
    payment_due_at,
    payment_method,
    refund_key,
    void_key,
)
from tests.fakes import make_order, money, woo_store


class TestPaymentMethod:
    @pytest.mark.parametrize(
        "name",
        ["cod", "COD", "cashondelivery", "Cash on Delivery", "Cash on Delivery (COD)", "cash_on_delivery", "Nachnahme"],
    )
    def test_cash_on_delivery_wins_even_when_the_store_calls_the_order_paid(self, name: str) -> None:
        # WooCommerce moves COD orders to "processing", which its adapter reads as paid.
        assert payment_method(make_order(paid=True, platform_refs={"payment_method": name})) is (
            PaymentMethod.CASH_ON_DELIVERY
        )
        assert payment_method(make_order(paid=False, platform_refs={"payment_method": name})) is (
            PaymentMethod.CASH_ON_DELIVERY
        )

    @pytest.mark.parametrize("name", ["authorized", "Authorised", "authorize", "auth_only"])
    def test_an_authorization_is_ours_to_capture(self, name: str) -> None:
        assert payment_method(make_order(platform_refs={"payment_method": name})) is PaymentMethod.AUTHORIZED

    @pytest.mark.parametrize("refs", [{}, {"payment_method": "prepaid"}, {"payment_method": "stripe"}])
    def test_a_paid_order_without_cod_or_authorization_was_captured_by_the_store(self, refs: dict[str, str]) -> None:
        assert payment_method(make_order(paid=True, platform_refs=refs)) is PaymentMethod.PREPAID

    @pytest.mark.parametrize("refs", [{}, {"payment_method": "bacs"}])
    def test_an_unpaid_order_we_cannot_collect_is_invalid(self, refs: dict[str, str]) -> None:
        with pytest.raises(OrderInvalid, match="not paid"):
            payment_method(make_order(paid=False, platform_refs=refs))


class TestCapturePoint:
    def test_delivery_unless_the_store_says_otherwise(self) -> None:
        assert capture_point(woo_store()) is CapturePoint.DELIVERY
        assert capture_point(woo_store().model_copy(update={"options": {"capture_on": ""}})) is CapturePoint.DELIVERY

    @pytest.mark.parametrize(("value", "point"), [("shipment", CapturePoint.SHIPMENT), (" Delivery ", "delivery")])
    def test_the_store_option(self, value: str, point: str) -> None:
        assert capture_point(woo_store().model_copy(update={"options": {"capture_on": value}})) == point

    def test_a_misspelt_option_is_refused_rather_than_guessed(self) -> None:
        with pytest.raises(ValueError, match="capture_on"):
            capture_point(woo_store().model_copy(update={"options": {"capture_on": "shipping"}}))

    @pytest.mark.parametrize(
        ("method", "point", "due"),
        [
            (PaymentMethod.PREPAID, CapturePoint.SHIPMENT, None),
            (PaymentMethod.PREPAID, CapturePoint.DELIVERY, None),
            (PaymentMethod.AUTHORIZED, CapturePoint.SHIPMENT, OrderStatus.SHIPPED),
            (PaymentMethod.AUTHORIZED, CapturePoint.DELIVERY, OrderStatus.DELIVERED),
            (PaymentMethod.CASH_ON_DELIVERY, CapturePoint.SHIPMENT, OrderStatus.DELIVERED),
            (PaymentMethod.CASH_ON_DELIVERY, CapturePoint.DELIVERY, OrderStatus.DELIVERED),
        ],
    )
    def test_when_the_money_is_taken(self, method: PaymentMethod, point: CapturePoint, due: OrderStatus | None) -> None:
        assert payment_due_at(method, point) == due


class TestAmounts:
    def test_the_grand_total_less_what_the_store_refunded(self) -> None:
        assert amount_to_collect(make_order()) == money("34.90")
        assert amount_to_collect(make_order(refunded=money("4.90"))) == money("30.00")
        assert amount_to_collect(make_order(refunded=money("50.00"))) == money("0.00")


class TestIdempotencyKeys:
    def test_one_key_per_effect_and_order_stable_across_reloads(self) -> None:
        order, same, other = make_order(), make_order(), make_order(external_id="4712")
        keys = [capture_key(order), cash_key(order), void_key(order), refund_key(f"{order.key}:R1")]
        assert len(set(keys)) == 4
        assert keys == [capture_key(same), cash_key(same), void_key(same), refund_key(f"{same.key}:R1")]
        assert capture_key(other) != capture_key(order)

    def test_two_equal_partial_refunds_are_two_refunds(self) -> None:
        order = make_order()
        first = refund_key(f"{order.key}:R1")  # keyed on the return, not the amount: two returns of 5.00 each
        second = refund_key(f"{order.key}:R2")
        assert first != second
        assert first == refund_key(make_order().key + ":R1")  # a retry of the first


class TestResultAndErrors:
    def test_a_result_is_one_of_the_known_outcomes(self) -> None:
        result = PaymentResult(status="captured", amount=money("34.90"), reference="ch_1")
        assert result.model_dump(mode="json") == {
            "status": "captured",
            "amount": {"minor": 3490, "currency": "EUR"},
            "reference": "ch_1",
        }
        with pytest.raises(ValidationError):
            PaymentResult.model_validate({"status": "authorized", "amount": money("1.00"), "reference": "x"})

    def test_a_decline_is_a_business_error_the_state_machine_catches_by_name(self) -> None:
        error = PaymentDeclined("card declined", "insufficient_funds")
        assert isinstance(error, DomainError)
        assert type(error).__name__ == "PaymentDeclined"
        assert (error.code, error.decline_code, str(error)) == (
            "payment_declined",
            "insufficient_funds",
            "card declined",
        )
