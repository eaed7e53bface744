"""BigCommerce intake: Standard Webhooks signatures with replay window, thin deliveries, and the V2 order mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.bigcommerce import (
    BcOrder,
    BcProduct,
    BcShippingAddress,
    BigCommerceInbound,
    _carrier_fields,
    _refund_payments,
    bigcommerce_signature,
    build,
    refund_reports,
    to_order,
)
from fulfillment.errors import InvalidSignature, MalformedPayload, PlatformRejected, RefundNotPossible
from fulfillment.model import Address, Money, Order
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest

EVENTS = Path(__file__).resolve().parents[3] / "events" / "bigcommerce"
SECRET = "test-secret"
CREDENTIALS = StoreCredentials(webhook_secret=SECRET)
STORE = Store(store_id="bigshop", platform="bigcommerce", secret_ref="ref", platform_store_id="k3h9x2ab7q")

# webhook-signature of the recorded deliveries (secret "test-secret"), copied from their headers.
SAMPLE_SIGNATURES = {
    "01_store_order_created": "QzDW+9o56a2BilhHWS0ZC/ZUH0ft0sCn0wOrx1B2ElE=",
    "02_store_order_statusUpdated_paid": "pSB6DDLjszA7qPhvm61ajy+BkcF7/n7qRj2pccA7W2g=",
    "03_store_order_updated": "/TL0R2CwMUmOpxMMGCyd+sK2nbsn4EqbZfJuu423rR8=",
    "04_store_order_refund_created": "HG+bVSu61lw93082Ir/Jhln96dswLCpTUA6K5zGTrPY=",
    "05_store_shipment_created": "feuJ7gA0U+dusTgov9qluwQaxFBfhODQ33SM8okq/Rs=",
    "06_store_order_statusUpdated_cancelled": "45CRdVCEoN0LZ3imOVSJTJ7tAa5m5jATrBowP9ih/v0=",
}
FETCHED = {
    "01_store_order_created": ("store/order/created", "1187", "21c19d33-9e01-59b2-80c0-ee53e1e8bfaf"),
    "02_store_order_statusUpdated_paid": ("store/order/statusUpdated", "1187", "82399583-2323-5742-a3ac-e8824ee0f08d"),
    "03_store_order_updated": ("store/order/updated", "1187", "17a1cacb-379a-5697-a260-e1ca43ba44f1"),
    "04_store_order_refund_created": ("store/order/refund/created", "1187", "d14245fb-9c95-554c-88c3-86e664926060"),
    "06_store_order_statusUpdated_cancelled": (
        "store/order/statusUpdated",
        "1188",
        "c490d915-f169-5ec1-b950-4b51557b9497",
    ),
}

inbound = BigCommerceInbound()


def _delivery(name: str) -> WebhookRequest:
    headers = json.loads((EVENTS / f"{name}.headers.json").read_text())
    return WebhookRequest(
        body=(EVENTS / f"{name}.json").read_bytes(),
        headers={key.lower(): value for key, value in headers.items()},
    )


def _signed_at(request: WebhookRequest) -> int:
    return int(request.headers["webhook-timestamp"])


def _changed(request: WebhookRequest, *, body: bytes | None = None, **headers: str | None) -> WebhookRequest:
    merged = {**request.headers, **{key.replace("_", "-"): value for key, value in headers.items()}}
    return WebhookRequest(
        body=request.body if body is None else body,
        headers={key: value for key, value in merged.items() if value is not None},
    )


def _verify(request: WebhookRequest, now: float | None = None, secret: str = SECRET) -> None:
    moment = _signed_at(_delivery("01_store_order_created")) if now is None else now
    inbound.verify(request, StoreCredentials(webhook_secret=secret), moment)


def _thin(body: dict[str, Any], **headers: str) -> WebhookRequest:
    return WebhookRequest(body=json.dumps(body).encode(), headers={"content-type": "application/json", **headers})


class TestSignature:
    @pytest.mark.parametrize("name", SAMPLE_SIGNATURES)
    def test_accepts_every_recorded_delivery_within_the_window(self, name: str) -> None:
        request = _delivery(name)
        inbound.verify(request, CREDENTIALS, _signed_at(request) + 1)

    @pytest.mark.parametrize(("name", "signature"), SAMPLE_SIGNATURES.items())
    def test_computes_the_recorded_signatures_over_id_timestamp_and_body(self, name: str, signature: str) -> None:
        request = _delivery(name)
        headers = request.headers
        computed = bigcommerce_signature(SECRET, headers["webhook-id"], headers["webhook-timestamp"], request.body)
        assert computed == signature
        assert headers["webhook-signature"] == f"v1,{signature}"

    def test_refuses_a_body_with_one_byte_changed(self) -> None:
        request = _delivery("02_store_order_statusUpdated_paid")
        forged = request.body.replace(b'"new_status_id":11', b'"new_status_id":10')
        assert forged != request.body
        with pytest.raises(InvalidSignature):
            inbound.verify(_changed(request, body=forged), CREDENTIALS, _signed_at(request))

    def test_refuses_a_body_with_a_trailing_newline(self) -> None:
        request = _delivery("01_store_order_created")
        with pytest.raises(InvalidSignature):
            inbound.verify(_changed(request, body=request.body + b"\n"), CREDENTIALS, _signed_at(request))

    def test_refuses_a_signature_with_one_character_changed(self) -> None:
        request = _delivery("01_store_order_created")
        signature = request.headers["webhook-signature"]
        tampered = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
        with pytest.raises(InvalidSignature):
            inbound.verify(_changed(request, webhook_signature=tampered), CREDENTIALS, _signed_at(request))

    def test_refuses_another_secret(self) -> None:
        request = _delivery("01_store_order_created")
        with pytest.raises(InvalidSignature):
            inbound.verify(request, StoreCredentials(webhook_secret="other-secret"), _signed_at(request))

    def test_the_webhook_id_is_signed(self) -> None:
        request = _delivery("01_store_order_created")
        with pytest.raises(InvalidSignature):
            inbound.verify(_changed(request, webhook_id="another-id"), CREDENTIALS, _signed_at(request))

    def test_the_timestamp_is_signed(self) -> None:
        request = _delivery("01_store_order_created")
        moved = _signed_at(request) + 1
        with pytest.raises(InvalidSignature):
            inbound.verify(_changed(request, webhook_timestamp=str(moved)), CREDENTIALS, moved)

    @pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
    def test_refuses_a_delivery_missing_a_signature_header(self, header: str) -> None:
        request = _delivery("01_store_order_created")
        with pytest.raises(InvalidSignature, match="required"):
            inbound.verify(_changed(request, **{header.replace("-", "_"): None}), CREDENTIALS, _signed_at(request))

    def test_accepts_the_right_signature_among_several(self) -> None:
        request = _delivery("01_store_order_created")
        listed = f"v1,bm90IHRoaXMgb25l v2,xyz {request.headers['webhook-signature']}"
        inbound.verify(_changed(request, webhook_signature=listed), CREDENTIALS, _signed_at(request))

    def test_refuses_the_right_value_under_another_version(self) -> None:
        request = _delivery("01_store_order_created")
        relabelled = request.headers["webhook-signature"].replace("v1,", "v1a,")
        with pytest.raises(InvalidSignature):
            inbound.verify(_changed(request, webhook_signature=relabelled), CREDENTIALS, _signed_at(request))

    def test_refuses_a_bare_signature_without_its_version(self) -> None:
        request = _delivery("01_store_order_created")
        bare = request.headers["webhook-signature"].removeprefix("v1,")
        with pytest.raises(InvalidSignature):
            inbound.verify(_changed(request, webhook_signature=bare), CREDENTIALS, _signed_at(request))


class TestReplayWindow:
    @pytest.mark.parametrize("offset", [-300, 0, 300])
    def test_accepts_deliveries_up_to_five_minutes_either_way(self, offset: int) -> None:
        request = _delivery("03_store_order_updated")
        inbound.verify(request, CREDENTIALS, _signed_at(request) + offset)

    @pytest.mark.parametrize("offset", [301, -301, 86_400])
    def test_refuses_deliveries_further_away(self, offset: int) -> None:
        request = _delivery("03_store_order_updated")
        with pytest.raises(InvalidSignature, match="away from now"):
            inbound.verify(request, CREDENTIALS, _signed_at(request) + offset)

    def test_refuses_the_recorded_2025_deliveries_today(self) -> None:
        with pytest.raises(InvalidSignature):
            inbound.verify(_delivery("03_store_order_updated"), CREDENTIALS, datetime.now(UTC).timestamp())

    def test_refuses_a_timestamp_that_is_not_a_number(self) -> None:
        request = _delivery("03_store_order_updated")
        with pytest.raises(InvalidSignature, match="timestamp"):
            inbound.verify(
                _changed(request, webhook_timestamp="2025-06-04T07:12:41Z"), CREDENTIALS, _signed_at(request)
            )


class TestReadingOrderScopes:
    @pytest.mark.parametrize(("name", "expected"), FETCHED.items())
    def test_order_scopes_ask_for_the_order_to_be_fetched(self, name: str, expected: tuple[str, str, str]) -> None:
        scope, order_id, webhook_id = expected
        event = inbound.read(_delivery(name), STORE)
        assert event.platform == "bigcommerce"
        assert event.topic == scope
        assert event.needs_fetch is True
        assert event.external_order_id == order_id
        assert event.order is None
        assert event.ignore_reason is None
        assert event.event_id == webhook_id
        assert event.store_identity == "k3h9x2ab7q"

    def test_archived_orders_are_fetched_too(self) -> None:
        body = {"scope": "store/order/archived", "producer": "stores/k3h9x2ab7q", "data": {"type": "order", "id": 7}}
        event = inbound.read(_thin(body, **{"webhook-id": "w-1"}), STORE)
        assert (event.needs_fetch, event.external_order_id) == (True, "7")

    def test_the_body_hash_is_the_event_id_when_there_is_no_webhook_id(self) -> None:
        body = {"scope": "store/order/updated", "producer": "stores/abc", "data": {"id": 5}, "hash": "f00d"}
        assert inbound.read(_thin(body), STORE).event_id == "f00d"

    def test_the_store_id_names_the_store_when_there_is_no_producer(self) -> None:
        body = {"scope": "store/order/updated", "store_id": "1001542287", "data": {"id": 5}}
        assert inbound.read(_thin(body), STORE).store_identity == "1001542287"


class TestIgnoredScopes:
    def test_shipments_are_acknowledged_and_left_to_the_status_update(self) -> None:
        event = inbound.read(_delivery("05_store_shipment_created"), STORE)
        assert event.ignore_reason is not None
        assert "statusUpdated" in event.ignore_reason
        assert event.needs_fetch is False
        assert event.external_order_id == "1187"
        assert event.event_id == "b47b6a0d-6d9c-55fb-9b0e-c664f83b9670"
        assert event.store_identity == "k3h9x2ab7q"

    @pytest.mark.parametrize(
        "scope", ["store/cart/converted", "store/order/transaction/created", "store/order/message/created"]
    )
    def test_scopes_that_change_no_order_are_ignored(self, scope: str) -> None:
        body = {"scope": scope, "producer": "stores/k3h9x2ab7q", "data": {"type": "cart", "id": 3}}
        event = inbound.read(_thin(body), STORE)
        assert event.ignore_reason == f"scope {scope} does not change an order"
        assert event.needs_fetch is False

    def test_there_is_no_handshake(self) -> None:
        assert inbound.handshake(_delivery("01_store_order_created")) is None


class TestMalformedDeliveries:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"not json", "not a BigCommerce webhook: body: Invalid JSON"),
            (b"[]", "not a BigCommerce webhook"),
            (b'{"data": {"id": 1}}', "not a BigCommerce webhook: scope: Field required"),
            (b'{"scope": "store/order/created"}', "not a BigCommerce webhook: data: Field required"),
            (b'{"scope": "store/order/created", "data": {"type": "order"}}', "data.id is None"),
            (b'{"scope": "store/order/created", "data": {"id": "12/../13"}}', "data.id is '12/../13'"),
        ],
    )
    def test_unreadable_deliveries_are_malformed_with_a_reason(self, body: bytes, message: str) -> None:
        with pytest.raises(MalformedPayload, match=message.replace("(", r"\(").replace(".", r"\.")):
            inbound.read(WebhookRequest(body=body), STORE)


def _rest(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def _order(status_id: int | None = None, *, addresses: bool = True, **fields: Any) -> Order:
    raw = {**_rest("rest_GET_v2_orders_1187.json"), **fields}
    if status_id is not None:
        raw["status_id"] = status_id
    return to_order(
        STORE,
        BcOrder.model_validate(raw),
        [BcProduct.model_validate(row) for row in _rest("rest_GET_v2_orders_1187_products.json")],
        [BcShippingAddress.model_validate(row) for row in _rest("rest_GET_v2_orders_1187_shipping_addresses.json")]
        if addresses
        else [],
    )


def usd(amount: str) -> Money:
    return Money.parse(amount, "USD")


class TestOrderMapping:
    def test_the_fetched_order_maps_exactly(self) -> None:
        order = _order()
        assert (order.store_id, order.platform, order.external_id, order.number) == (
            "bigshop",
            "bigcommerce",
            "1187",
            "1187",
        )
        assert order.currency == "USD"
        assert order.customer.email == "renee.oconnor@example.com"
        assert order.customer.name == "Renée O'Connor-Núñez"
        assert order.customer.external_id == "231"
        assert order.placed_at == datetime(2025, 6, 3, 12, 21, 7, tzinfo=UTC)
        assert order.source_modified_at == datetime(2025, 6, 4, 7, 12, 40, tzinfo=UTC)
        assert (order.paid, order.cancelled, order.refunded) == (True, False, None)
        assert order.platform_refs == {"order_address_id": "1455"}

    def test_addresses_come_from_the_billing_address_and_the_first_shipping_address(self) -> None:
        order = _order()
        assert order.billing_address == Address(
            name="Renée O'Connor-Núñez",
            lines=("1100 Congress Ave", "Suite 4B"),
            city="Austin",
            region="Texas",
            postal_code="78701",
            country="US",
            phone="+1 512 555 0142",
        )
        assert order.shipping_address == Address(
            name="Renée O'Connor-Núñez",
            company="Núñez & Daughters LLC",
            lines=("2207 E Cesar Chavez St",),
            city="Austin",
            region="Texas",
            postal_code="78702",
            country="US",
            phone="+1 512 555 0142",
        )

    def test_an_order_without_shipping_addresses_ships_to_the_billing_address(self) -> None:
        order = _order(addresses=False)
        assert order.shipping_address == order.billing_address
        assert order.platform_refs == {}

    def test_lines_are_the_order_product_rows_at_their_exact_prices(self) -> None:
        lines = [(line.line_id, line.sku, line.name, line.quantity, line.unit_price) for line in _order().lines]
        assert lines == [
            ("2301", "MUG-CC-BLU", "Café Crème Mug", 2, usd("14.50")),
            ("2302", "TEE-ORG-M-GRN", "Organic Cotton Tee „Pine“", 1, usd("29.00")),
            ("2303", "TORCH-CB-01", "Crème Brûlée Torch 🔥", 1, usd("42.00")),
        ]

    def test_totals_are_exact_and_add_up(self) -> None:
        totals = _order().totals
        assert (totals.items, totals.shipping, totals.tax, totals.discount, totals.grand_total) == (
            usd("100"),
            usd("7.95"),
            usd("8.91"),
            usd("0"),
            usd("116.86"),
        )
        assert totals.items + totals.shipping + totals.tax - totals.discount == totals.grand_total

    def test_handling_wrapping_and_coupons_keep_the_totals_adding_up(self) -> None:
        totals = _order(
            handling_cost_ex_tax="2.0000",
            wrapping_cost_ex_tax="1.5000",
            coupon_discount="5.0000",
            discount_amount="1.0000",
            total_inc_tax="114.3600",
        ).totals
        assert totals.shipping == usd("11.45")
        assert totals.discount == usd("6.00")
        assert totals.items + totals.shipping + totals.tax - totals.discount == totals.grand_total

    def test_a_guest_has_no_customer_id(self) -> None:
        assert _order(customer_id=0).customer.external_id is None

    def test_a_missing_sku_falls_back_to_the_product_id(self) -> None:
        row = {**_rest("rest_GET_v2_orders_1187_products.json")[0], "sku": None}
        order = to_order(
            STORE, BcOrder.model_validate(_rest("rest_GET_v2_orders_1187.json")), [BcProduct.model_validate(row)], []
        )
        assert order.lines[0].sku == "bc-product-112"

    def test_an_unreadable_date_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="RFC 2822"):
            BcOrder.model_validate({**_rest("rest_GET_v2_orders_1187.json"), "date_modified": "yesterday"})


def _refund(**fields: Any) -> dict[str, Any]:
    return {
        "id": 41,
        "order_id": 1187,
        "reason": "",
        "total_amount": 34.72,
        "items": [{"item_type": "PRODUCT", "item_id": 2301, "quantity": 2, "requested_amount": "34.72", "reason": ""}],
        **fields,
    }


class TestRefundsMadeInTheStore:
    def test_product_items_are_lines_and_the_total_was_paid_back(self) -> None:
        (report,) = refund_reports({"data": [_refund(reason="mugs chipped")], "meta": {}}, _order(10))
        assert (report.external_id, report.reason, report.refunded_minor) == ("refund-41", "mugs chipped", 3472)
        assert [(line.line_id, line.quantity) for line in report.lines] == [("2301", 2)]

    def test_a_refund_of_the_order_amount_or_shipping_is_money_only(self) -> None:
        items = [
            {"item_type": "ORDER", "item_id": 1187, "requested_amount": "5.00", "reason": "late"},
            {"item_type": "SHIPPING", "item_id": 1455, "requested_amount": "7.00"},
        ]
        (report,) = refund_reports({"data": [_refund(items=items, total_amount="12.00")]}, _order(10))
        assert (report.lines, report.reason, report.refunded_minor) == ((), "late", 1200)

    def test_a_product_row_of_another_order_names_no_line(self) -> None:
        items = [{"item_type": "PRODUCT", "item_id": 9999, "quantity": 1}]
        (report,) = refund_reports({"data": [_refund(items=items)]}, _order(10))
        assert report.lines == ()

    def test_the_item_reasons_carry_our_write_back_marker(self) -> None:
        items = [{"item_type": "ORDER", "item_id": 1187, "reason": "Refund [bigshop:1187:refunded:1570]"}]
        (report,) = refund_reports(
            {"data": [_refund(items=items, reason="Refund [bigshop:1187:refunded:1570]")]}, _order(10)
        )
        assert report.reason == "Refund [bigshop:1187:refunded:1570]"  # repeated reasons kept once

    def test_no_refunds_is_no_report(self) -> None:
        assert refund_reports({"data": [], "meta": {}}, _order(10)) == ()

    def test_an_answer_that_is_not_a_list_is_rejected(self) -> None:
        with pytest.raises(PlatformRejected):
            refund_reports({"data": {"id": 41}}, _order(10))


class TestStatusRule:
    @pytest.mark.parametrize(
        ("status_id", "paid", "cancelled"),
        [
            (0, False, False),  # Incomplete
            (1, False, False),  # Pending
            (2, True, False),  # Shipped
            (3, True, False),  # Partially Shipped
            (4, False, True),  # Refunded
            (5, False, True),  # Cancelled
            (6, False, True),  # Declined
            (7, False, False),  # Awaiting Payment
            (8, True, False),  # Awaiting Pickup
            (9, True, False),  # Awaiting Shipment
            (10, True, False),  # Completed
            (11, True, False),  # Awaiting Fulfillment
            (12, False, False),  # Manual Verification Required
            (13, False, False),  # Disputed
            (14, True, False),  # Partially Refunded
        ],
    )
    def test_status_ids_decide_paid_and_cancelled(self, status_id: int, paid: bool, cancelled: bool) -> None:
        order = _order(status_id)
        assert (order.paid, order.cancelled) == (paid, cancelled)

    def test_a_partial_refund_is_the_refunded_amount(self) -> None:
        assert _order(14, refunded_amount="15.7000").refunded == usd("15.70")

    def test_a_full_refund_is_the_refunded_amount(self) -> None:
        assert _order(4, refunded_amount="116.8600").refunded == usd("116.86")

    def test_an_order_marked_refunded_without_an_amount_counts_its_grand_total(self) -> None:
        assert _order(4, refunded_amount="0.0000").refunded == usd("116.86")

    def test_nothing_refunded_is_none(self) -> None:
        assert _order(11, refunded_amount="0.0000").refunded is None


class TestCarrierFields:
    def test_bigcommerce_shipping_modules_are_shipping_providers(self) -> None:
        assert _carrier_fields("UPS", None) == {"shipping_provider": "ups"}

    def test_other_carriers_are_tracking_carriers_with_an_optional_link(self) -> None:
        assert _carrier_fields("dhl", "https://t.example/1") == {
            "shipping_provider": "",
            "tracking_carrier": "dhl",
            "tracking_link": "https://t.example/1",
        }

    def test_third_party_shipping_providers_keep_their_carrier_id(self) -> None:
        assert _carrier_fields("carrier_42", None) == {"shipping_provider": "carrier_42"}


class TestRefundMethodChoice:
    def test_prefers_a_method_that_pays_back_online(self) -> None:
        offline = [{"provider_id": "custom", "amount": 5.0, "offline": True}]
        online = [{"provider_id": "stripev3", "amount": 5.0, "offline": False}]
        assert _refund_payments({"refund_methods": [offline, online]}) == [
            {"provider_id": "stripev3", "amount": 5.0, "offline": False}
        ]

    def test_only_offline_methods_mean_the_refund_cannot_be_paid_through_the_api(self) -> None:
        offline = [{"provider_id": "bankdeposit", "amount": 5.0, "offline": True}]
        with pytest.raises(RefundNotPossible, match="bankdeposit"):
            _refund_payments({"refund_methods": [offline]})

    def test_store_credit_only_where_the_store_opts_in(self) -> None:
        # BigCommerce's own example quote: "all as store credit" first, then the card.
        credit = [{"provider_id": "storecredit", "amount": 5.0, "offline": False}]
        card = [{"provider_id": "braintree", "amount": 5.0, "offline": False}]
        assert _refund_payments({"refund_methods": [credit, card]}, store_credit=False)[0]["provider_id"] == "braintree"
        with pytest.raises(RefundNotPossible):
            _refund_payments({"refund_methods": [credit]}, store_credit=False)
        assert _refund_payments({"refund_methods": [credit]}, store_credit=True)[0]["provider_id"] == "storecredit"

    def test_a_quote_without_methods_is_refused(self) -> None:
        with pytest.raises(PlatformRejected, match="no refund method"):
            _refund_payments({"refund_methods": []})


class TestBuild:
    def test_provides_inbound_source_and_write_back(self) -> None:
        adapters = build(HttpClient())
        assert adapters.inbound.name == "bigcommerce"
        assert adapters.source is not None
        assert adapters.write_back is not None
