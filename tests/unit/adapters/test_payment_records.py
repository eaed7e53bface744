"""Who holds the money, read from each platform's own payload (issue #11, item 1): paid at checkout, authorized
on the platform (a capture obligation, not prepaid), cash on delivery; and each platform's capability table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fulfillment.adapters.platforms import bigcommerce, ecwid, magento, opencart, shopify, woocommerce
from fulfillment.adapters.platforms.registry import payment_capabilities, platform_names, platform_spec
from fulfillment.model import Money, Order
from fulfillment.model.capabilities import NO_PAYMENT_API, Capture, Refund
from fulfillment.model.payment import PaymentMethod, amount_to_collect, payment_method
from fulfillment.model.store import Store

EVENTS = Path(__file__).resolve().parents[3] / "events"
README = Path(__file__).resolve().parents[3] / "README.md"
CAPABILITY_TABLE = "| Platform | Capture | Refund | Cancel with refund | Void | Through |"


def _json(path: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / path).read_text(encoding="utf-8"))
    return document


def _store(platform: str) -> Store:
    return Store(store_id="kaffeekontor", platform=platform, secret_ref="/ref")


def _shopify(**changes: Any) -> Order:
    return shopify.to_order(
        shopify.ShopifyOrder.model_validate(_json("shopify/02_orders_paid.json") | changes), _store("shopify")
    )


def _bigcommerce(**changes: Any) -> Order:
    raw = bigcommerce.BcOrder.model_validate(_json("bigcommerce/rest_GET_v2_orders_1187.json") | changes)
    rows: list[dict[str, Any]] = json.loads((EVENTS / "bigcommerce/rest_GET_v2_orders_1187_products.json").read_text())
    products = [bigcommerce.BcProduct.model_validate(row) for row in rows]
    return bigcommerce.to_order(_store("bigcommerce"), raw, products, [])


def _magento(**changes: Any) -> Order:
    return magento.to_order(
        magento.MagentoOrder.model_validate(_json("magento/rest_GET_V1_orders_318.json") | changes), _store("magento")
    )


def _woo(**changes: Any) -> Order:
    raw = woocommerce.WooOrder.model_validate(_json("woocommerce/order_updated_paid.json") | changes)
    return woocommerce.WooCommerceInbound._to_order(raw, _store("woocommerce"))


def _ecwid(**changes: Any) -> Order:
    raw = _json("ecwid/rest_GET_api_v3_31415926_orders_KX7Q2.json") | changes
    return ecwid.to_order(ecwid.EcwidOrder.model_validate(raw), _store("ecwid"), "EUR")


def _opencart(**changes: Any) -> Order:
    raw = _json("opencart/02_order_status_processing_paid.json")["order"] | changes
    order = opencart.OcOrder.model_validate(raw)
    return opencart.to_order(order, _store("opencart"), None, opencart.PAID_STATUSES)


class TestShopify:
    def test_paid_is_paid_at_checkout(self) -> None:
        order = _shopify()
        assert (payment_method(order), order.paid, order.payment.authorized) == (PaymentMethod.PREPAID, True, None)

    def test_authorized_enters_fulfillment_with_the_outstanding_total_to_capture(self) -> None:
        order = _shopify(financial_status="authorized", total_outstanding="66.14", gateway="shopify_payments")
        assert order.paid  # capture-later is what the authorization is for
        assert payment_method(order) is PaymentMethod.PLATFORM_AUTHORIZED
        assert order.payment.authorized == Money.parse("66.14", order.currency)
        assert order.payment.gateway == "shopify_payments"

    def test_pending_cash_on_delivery_is_fulfilled_and_collected(self) -> None:
        order = _shopify(financial_status="pending", gateway="Cash on Delivery (COD)")
        assert (payment_method(order), order.paid) == (PaymentMethod.CASH_ON_DELIVERY, True)

    def test_pending_bank_deposit_is_not_paid(self) -> None:
        assert not _shopify(financial_status="pending", gateway="Bank Deposit").paid

    def test_cash_on_delivery_after_a_gift_card_is_still_cash_on_delivery(self) -> None:
        # payment_gateway_names lists every gateway; the deprecated gateway field only the first
        order = _shopify(
            financial_status="partially_paid",
            gateway="gift_card",
            payment_gateway_names=["gift_card", "Cash on Delivery (COD)"],
            total_outstanding="80.90",
        )
        assert (payment_method(order), order.paid) == (PaymentMethod.CASH_ON_DELIVERY, True)
        assert amount_to_collect(order) == Money.parse("80.90", order.currency)  # the gift card paid 25.00

    def test_cash_on_delivery_collects_the_whole_total_when_nothing_was_paid(self) -> None:
        order = _shopify(financial_status="pending", gateway="Cash on Delivery (COD)", total_outstanding="105.90")
        assert order.payment.due_on_delivery is None and amount_to_collect(order) == order.totals.grand_total

    def test_cash_on_delivery_the_merchant_marked_paid_is_not_collected_again(self) -> None:
        order = _shopify(financial_status="paid", gateway="Cash on Delivery (COD)")
        assert payment_method(order) is PaymentMethod.PREPAID

    def test_point_of_sale_cash_is_paid_in_the_shop_not_on_delivery(self) -> None:
        # Shopify POS's gateway "cash": taken at the till
        order = _shopify(financial_status="paid", gateway="cash", payment_gateway_names=["cash"])
        assert payment_method(order) is PaymentMethod.PREPAID
        assert not _shopify(financial_status="pending", gateway="cash", payment_gateway_names=["cash"]).paid


class TestBigCommerce:
    def test_captured_is_paid(self) -> None:
        order = _bigcommerce(payment_status="captured", payment_method="Credit Card")
        assert payment_method(order) is PaymentMethod.PREPAID

    @pytest.mark.parametrize("status", ["authorized", "capture pending"])
    def test_an_authorization_is_a_capture_obligation(self, status: str) -> None:
        order = _bigcommerce(payment_status=status, payment_method="Credit Card", status_id=11)
        assert (payment_method(order), order.paid) == (PaymentMethod.PLATFORM_AUTHORIZED, True)
        assert order.payment.authorized == order.totals.grand_total

    def test_cash_on_delivery_awaiting_payment_is_fulfilled(self) -> None:
        order = _bigcommerce(payment_status="", payment_method="Cash on Delivery", status_id=7)
        assert (payment_method(order), order.paid) == (PaymentMethod.CASH_ON_DELIVERY, True)

    def test_a_cancelled_cash_on_delivery_order_is_not_fulfilled(self) -> None:
        assert not _bigcommerce(payment_method="Cash on Delivery", status_id=5).paid

    @pytest.mark.parametrize("status_id", [0, 1])  # Incomplete, Pending: the checkout never finished
    def test_an_unfinished_cash_on_delivery_checkout_is_not_fulfilled(self, status_id: int) -> None:
        assert not _bigcommerce(payment_status="", payment_method="Cash on Delivery", status_id=status_id).paid


class TestMagento:
    def test_invoiced_is_paid(self) -> None:
        order = _magento(total_due=0, payment={"method": "checkmo"})
        assert payment_method(order) is PaymentMethod.PREPAID

    def test_processing_with_the_total_due_and_an_authorization_is_a_capture_obligation(self) -> None:
        payment = {"method": "braintree", "amount_authorized": 107.94, "last_trans_id": "kx9t2c"}
        order = _magento(state="processing", total_due=107.94, payment=payment)
        assert (payment_method(order), order.paid) == (PaymentMethod.PLATFORM_AUTHORIZED, True)
        assert order.payment.authorized == Money.parse("107.94", order.currency)
        assert order.payment.authorization_ids == ["kx9t2c"]

    def test_a_new_cash_on_delivery_order_is_fulfilled(self) -> None:
        order = _magento(state="new", total_due=107.94, payment={"method": "cashondelivery"})
        assert (payment_method(order), order.paid) == (PaymentMethod.CASH_ON_DELIVERY, True)

    def test_a_held_order_is_not(self) -> None:
        assert not _magento(state="holded", payment={"method": "cashondelivery"}).paid


class TestWooCommerce:
    def test_processing_is_paid(self) -> None:
        assert payment_method(_woo()) is PaymentMethod.PREPAID

    def test_on_hold_with_an_uncaptured_stripe_charge_is_a_capture_obligation(self) -> None:
        meta = [{"id": 1, "key": "_stripe_charge_captured", "value": "no"}]
        order = _woo(status="on-hold", payment_method="stripe", transaction_id="pi_3Q", meta_data=meta)
        assert (payment_method(order), order.paid) == (PaymentMethod.PLATFORM_AUTHORIZED, True)
        assert (order.payment.gateway, order.payment.authorization_ids) == ("stripe", ["pi_3Q"])
        assert order.payment.authorized == order.totals.grand_total

    def test_on_hold_with_a_woopayments_authorization_is_a_capture_obligation(self) -> None:
        meta = [{"id": 1, "key": "_intention_status", "value": "requires_capture"}]
        order = _woo(status="on-hold", payment_method="woocommerce_payments", meta_data=meta)
        assert payment_method(order) is PaymentMethod.PLATFORM_AUTHORIZED

    def test_on_hold_bank_transfer_is_not_paid(self) -> None:
        assert not _woo(status="on-hold", payment_method="bacs").paid

    @pytest.mark.parametrize("status", ["processing", "on-hold"])  # WC_Gateway_COD: on-hold when it has downloads
    def test_a_placed_cash_on_delivery_order_is_fulfilled(self, status: str) -> None:
        order = _woo(status=status, payment_method="cod")
        assert (payment_method(order), order.paid) == (PaymentMethod.CASH_ON_DELIVERY, True)

    @pytest.mark.parametrize("status", ["pending", "failed", "checkout-draft"])
    def test_an_unfinished_cash_on_delivery_checkout_is_not_fulfilled(self, status: str) -> None:
        assert not _woo(status=status, payment_method="cod").paid


class TestEcwidAndOpenCart:
    def test_ecwid_cash_on_delivery_awaiting_payment_is_fulfilled(self) -> None:
        order = _ecwid(paymentStatus="AWAITING_PAYMENT", paymentMethod="Cash on delivery")
        assert (payment_method(order), order.paid) == (PaymentMethod.CASH_ON_DELIVERY, True)

    def test_ecwid_incomplete_cash_on_delivery_is_a_checkout_left_unfinished(self) -> None:
        assert not _ecwid(paymentStatus="INCOMPLETE", paymentMethod="Cash on delivery").paid

    def test_ecwid_paid_is_paid(self) -> None:
        assert payment_method(_ecwid(paymentStatus="PAID")) is PaymentMethod.PREPAID

    def test_opencart_cash_on_delivery_pending_is_fulfilled(self) -> None:
        order = _opencart(order_status_id="1", payment_method={"name": "Paiement à la livraison", "code": "cod.cod"})
        assert (payment_method(order), order.paid) == (PaymentMethod.CASH_ON_DELIVERY, True)

    def test_opencart_bank_transfer_pending_is_not(self) -> None:
        assert not _opencart(order_status_id="1").paid


class TestCapabilities:
    def test_every_platform_declares_what_its_api_can_do_with_money(self) -> None:
        table = {name: payment_capabilities(name) for name in platform_names()}
        assert table["ecwid"] == table["opencart"] == NO_PAYMENT_API
        assert table["shopify"].capture is Capture.PARTIAL and table["shopify"].cancel_with_refund
        assert table["bigcommerce"].capture_async and table["bigcommerce"].refund is Refund.ONLINE
        assert table["magento"].refund is Refund.ONLINE_IF_GATEWAY
        assert table["woocommerce"].captures_on_status == frozenset({"stripe"})

    def test_an_unknown_platform_can_do_nothing(self) -> None:
        assert payment_capabilities("acme") == NO_PAYMENT_API

    @pytest.mark.parametrize("name", platform_names())
    def test_readme_shows_each_platforms_capabilities(self, name: str) -> None:
        capabilities, title = payment_capabilities(name), platform_spec(name).title
        table = README.read_text(encoding="utf-8").split(CAPABILITY_TABLE, 1)[1].split("\n\n", 1)[0]
        row = next((line for line in table.splitlines() if line.startswith(f"| {title} |")), None)
        assert row is not None, f"README's payment capability table has no row for {title}"
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1:6] == [
            str(capabilities.capture) + (", asynchronous" if capabilities.capture_async else ""),
            str(capabilities.refund),
            "yes" if capabilities.cancel_with_refund else "no",
            "yes" if capabilities.void else "no",
            capabilities.how,
        ]
