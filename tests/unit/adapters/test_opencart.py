"""OpenCart intake: our extension's signed deliveries, verified over the exact bytes and read into orders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fulfillment.adapters.platforms.opencart import OpenCartInbound, opencart_signature, shop_utc_offset
from fulfillment.errors import InvalidSignature, MalformedPayload
from fulfillment.model import Address, Money
from fulfillment.model.inbound import InboundEvent
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest

EVENTS = Path(__file__).resolve().parents[3] / "events" / "opencart"
SECRET = "test-secret"
CREDENTIALS = StoreCredentials(webhook_secret=SECRET)
STORE = Store(
    store_id="torrefaction-lyon",
    platform="opencart",
    secret_ref="/fulfillment/test/stores/torrefaction-lyon/webhook-secret",
    site_url="https://boutique.lyon-torrefaction.example/",
)
PENDING = "01_order_confirmed_pending.json"
PAID = "02_order_status_processing_paid.json"
SHIPPED = "03_order_status_shipped_tracking_in_comment.json"
REFUNDED = "04_order_status_refunded.json"
CANCELED = "05_order_status_canceled.json"
SAMPLES = (PENDING, PAID, SHIPPED, REFUNDED, CANCELED)


def _body(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def _headers(name: str) -> dict[str, str]:
    recorded = json.loads((EVENTS / name).with_name(name.replace(".json", ".headers.json")).read_text())
    return {key.lower(): value for key, value in recorded.items()}


def _recorded(name: str) -> WebhookRequest:
    return WebhookRequest(body=_body(name), headers=_headers(name))


def _timestamp(name: str) -> float:
    return float(_headers(name)["x-oc-webhook-timestamp"])


def _signed(body: bytes, timestamp: int = 1749112802, secret: str = SECRET) -> WebhookRequest:
    return WebhookRequest(
        body=body,
        headers={
            "content-type": "application/json",
            "x-oc-webhook-id": "9e0b0c1e-0000-4000-8000-000000000001",
            "x-oc-webhook-timestamp": str(timestamp),
            "x-oc-webhook-signature": opencart_signature(secret, str(timestamp), body),
        },
    )


def _edited(name: str, envelope: dict[str, Any] | None = None, **order: Any) -> bytes:
    document = json.loads(_body(name))
    document.update(envelope or {})
    document["order"].update(order)
    return json.dumps(document).encode()


def _read(body: bytes, store: Store = STORE) -> InboundEvent:
    inbound = OpenCartInbound()
    inbound.verify(_signed(body), CREDENTIALS, now=1749112802)
    return inbound.read(_signed(body), store)


def _order(body: bytes, store: Store = STORE) -> Any:
    event = _read(body, store)
    assert event.order is not None
    return event.order


class TestSignature:
    @pytest.mark.parametrize("name", SAMPLES)
    def test_every_sample_delivery_verifies_with_the_test_secret(self, name: str) -> None:
        OpenCartInbound().verify(_recorded(name), CREDENTIALS, now=_timestamp(name))

    @pytest.mark.parametrize("name", SAMPLES)
    def test_a_one_byte_change_to_the_body_is_refused(self, name: str) -> None:
        request = _recorded(name)
        tampered = request.model_copy(update={"body": request.body.replace(b'"1207"', b'"1208"', 1)})
        assert tampered.body != request.body
        with pytest.raises(InvalidSignature):
            OpenCartInbound().verify(tampered, CREDENTIALS, now=_timestamp(name))

    def test_a_one_character_change_to_the_signature_is_refused(self) -> None:
        request = _recorded(PAID)
        signature = request.headers["x-oc-webhook-signature"]
        forged = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
        headers = {**request.headers, "x-oc-webhook-signature": forged}
        with pytest.raises(InvalidSignature):
            OpenCartInbound().verify(request.model_copy(update={"headers": headers}), CREDENTIALS, now=_timestamp(PAID))

    def test_the_signature_covers_the_timestamp(self) -> None:
        request = _recorded(PAID)
        later = str(int(_timestamp(PAID)) + 1)
        headers = {**request.headers, "x-oc-webhook-timestamp": later}
        with pytest.raises(InvalidSignature):
            OpenCartInbound().verify(request.model_copy(update={"headers": headers}), CREDENTIALS, now=float(later))

    def test_another_deliverys_signature_is_refused(self) -> None:
        request = _recorded(PAID)
        headers = {**request.headers, "x-oc-webhook-signature": _headers(SHIPPED)["x-oc-webhook-signature"]}
        with pytest.raises(InvalidSignature):
            OpenCartInbound().verify(request.model_copy(update={"headers": headers}), CREDENTIALS, now=_timestamp(PAID))

    def test_another_secret_is_refused(self) -> None:
        with pytest.raises(InvalidSignature):
            OpenCartInbound().verify(_recorded(PAID), StoreCredentials(webhook_secret="other"), now=_timestamp(PAID))

    def test_a_reserialised_body_is_refused(self) -> None:
        request = _recorded(PAID)
        reserialised = json.dumps(json.loads(request.body), ensure_ascii=False).encode()
        with pytest.raises(InvalidSignature):
            OpenCartInbound().verify(
                request.model_copy(update={"body": reserialised}), CREDENTIALS, now=_timestamp(PAID)
            )

    @pytest.mark.parametrize("missing", ["x-oc-webhook-signature", "x-oc-webhook-timestamp"])
    def test_a_missing_header_is_refused(self, missing: str) -> None:
        request = _recorded(PAID)
        headers = {key: value for key, value in request.headers.items() if key != missing}
        with pytest.raises(InvalidSignature):
            OpenCartInbound().verify(request.model_copy(update={"headers": headers}), CREDENTIALS, now=_timestamp(PAID))

    @pytest.mark.parametrize("timestamp", ["", "soon", "1749021160.5", "+1749021160"])
    def test_a_malformed_timestamp_is_refused(self, timestamp: str) -> None:
        request = _recorded(PAID)
        headers = {**request.headers, "x-oc-webhook-timestamp": timestamp}
        with pytest.raises(InvalidSignature):
            OpenCartInbound().verify(request.model_copy(update={"headers": headers}), CREDENTIALS, now=_timestamp(PAID))

    @pytest.mark.parametrize("drift", [-301, 301, 86_400])
    def test_a_delivery_signed_more_than_five_minutes_away_is_refused(self, drift: int) -> None:
        with pytest.raises(InvalidSignature, match="300 s"):
            OpenCartInbound().verify(_recorded(PAID), CREDENTIALS, now=_timestamp(PAID) + drift)

    @pytest.mark.parametrize("drift", [-300, 0, 300])
    def test_a_delivery_within_five_minutes_is_accepted(self, drift: int) -> None:
        OpenCartInbound().verify(_recorded(PAID), CREDENTIALS, now=_timestamp(PAID) + drift)

    def test_whitespace_around_the_signature_is_tolerated(self) -> None:
        request = _recorded(PAID)
        headers = {**request.headers, "x-oc-webhook-signature": f" {request.headers['x-oc-webhook-signature']} "}
        OpenCartInbound().verify(request.model_copy(update={"headers": headers}), CREDENTIALS, now=_timestamp(PAID))


class TestHandshake:
    @pytest.mark.parametrize("name", SAMPLES)
    def test_no_delivery_is_a_handshake(self, name: str) -> None:
        assert OpenCartInbound().handshake(_recorded(name)) is None


class TestTheEvent:
    @pytest.mark.parametrize("name", SAMPLES)
    def test_each_sample_names_its_event_id_store_and_order(self, name: str) -> None:
        event = OpenCartInbound().read(_recorded(name), STORE)
        assert event.platform == "opencart"
        assert event.topic == "order.history_added"
        assert event.event_id == _headers(name)["x-oc-webhook-id"]
        assert event.store_identity == "https://boutique.lyon-torrefaction.example/"
        assert event.external_order_id == "1207"
        assert event.order is not None
        assert event.ignore_reason is None
        assert not event.needs_fetch

    def test_the_header_names_the_event_when_the_envelope_does_not(self) -> None:
        document = json.loads(_body(PAID))
        del document["event_id"]
        assert _read(json.dumps(document).encode()).event_id == "9e0b0c1e-0000-4000-8000-000000000001"


class TestStatus:
    @pytest.mark.parametrize(
        ("name", "paid", "cancelled", "refunded"),
        [
            (PENDING, False, False, None),
            (PAID, True, False, None),
            (SHIPPED, True, False, None),
            (REFUNDED, False, True, Money.parse("126.00", "EUR")),
            (CANCELED, False, True, None),
        ],
    )
    def test_each_sample_maps_to_paid_cancelled_and_refunded(
        self, name: str, paid: bool, cancelled: bool, refunded: Money | None
    ) -> None:
        order = OpenCartInbound().read(_recorded(name), STORE).order
        assert order is not None
        assert (order.paid, order.cancelled, order.refunded) == (paid, cancelled, refunded)

    @pytest.mark.parametrize(
        ("status_id", "paid", "cancelled", "refunded"),
        [
            (1, False, False, False),
            (2, True, False, False),
            (3, True, False, False),
            (5, True, False, False),
            (7, False, True, False),
            (8, False, True, False),
            (9, False, False, False),
            (10, False, True, False),
            (11, False, True, True),
            (12, False, True, True),
            (13, False, True, True),
            (14, False, True, False),
            (15, True, False, False),
            (16, False, True, False),
            (17, False, False, False),
        ],
    )
    def test_the_install_data_statuses(self, status_id: int, paid: bool, cancelled: bool, refunded: bool) -> None:
        order = _order(_edited(PAID, order_status_id=str(status_id)))
        assert (order.paid, order.cancelled, order.refunded is not None) == (paid, cancelled, refunded)

    def test_the_status_comes_from_the_order_as_stored_after_the_change(self) -> None:
        # A fraud check may store another status than addHistory was asked for.
        body = _edited(PAID, {"args": {"order_id": 1207, "order_status_id": 2}}, order_status_id="1")
        assert not _order(body).paid

    def test_a_store_can_name_its_own_paid_statuses(self) -> None:
        custom = STORE.model_copy(update={"options": {"paid_status_ids": "15, 17"}})
        assert _order(_edited(PAID, order_status_id="17"), custom).paid
        assert not _order(_edited(PAID, order_status_id="2"), custom).paid

    def test_a_paid_status_list_without_ids_keeps_the_default(self) -> None:
        blank = STORE.model_copy(update={"options": {"paid_status_ids": " , "}})
        assert _order(_edited(PAID, order_status_id="2"), blank).paid


class TestRefundedStatus:
    def test_a_change_into_refunded_is_one_money_only_report(self) -> None:
        order = OpenCartInbound().read(_recorded(REFUNDED), STORE).order
        assert order is not None
        (report,) = order.reported_returns
        assert (report.external_id, report.lines, report.reason, report.refunded_minor) == (
            "status-refunded-1166949b-2dd9-5143-9c96-57e37f401042",
            (),
            "Remboursement total (retour reçu).",
            12600,
        )

    def test_a_comment_added_while_refunded_reports_nothing(self) -> None:
        assert _order(_edited(REFUNDED, {"previous_order_status_id": 11})).reported_returns == ()

    @pytest.mark.parametrize("name", [PAID, SHIPPED, CANCELED])
    def test_other_statuses_report_nothing(self, name: str) -> None:
        assert _order(_body(name)).reported_returns == ()

    @pytest.mark.parametrize("status_id", ["12", "13"])
    def test_reversals_and_chargebacks_are_not_store_refunds(self, status_id: str) -> None:
        assert _order(_edited(REFUNDED, order_status_id=status_id)).reported_returns == ()

    def test_without_an_event_id_the_delivery_header_names_the_change(self) -> None:
        (report,) = _order(_edited(REFUNDED, {"event_id": None})).reported_returns
        assert report.external_id == "status-refunded-9e0b0c1e-0000-4000-8000-000000000001"

    def test_our_own_refund_status_keeps_its_marker_for_the_service(self) -> None:
        comment = "Refunded (ref: torrefaction-lyon:1207:refunded:12600)"
        body = _edited(REFUNDED, {"args": {"order_id": 1207, "order_status_id": 11, "comment": comment}})
        (report,) = _order(body).reported_returns
        assert report.reason == comment


class TestTheOrder:
    def test_the_paid_sample_reads_exactly(self) -> None:
        order = OpenCartInbound().read(_recorded(PAID), STORE).order
        assert order is not None
        assert (order.store_id, order.platform, order.external_id, order.number) == (
            "torrefaction-lyon",
            "opencart",
            "1207",
            "1207",
        )
        assert order.currency == "EUR"
        assert order.customer.email == "helene.lefevre@example.fr"
        assert order.customer.name == "Hélène Lefèvre-Nguyễn"
        assert order.customer.external_id == "58"
        assert [(line.line_id, line.sku, line.quantity, line.unit_price.minor) for line in order.lines] == [
            ("951", "MUG-CC-BLU", 2, 1450),
            ("952", "TEE-ORG-M-GRN", 1, 2900),
            ("953", "TORCH-CB-01", 1, 4200),
        ]
        assert order.lines[2].name == "Chalumeau crème brûlée 🔥"
        totals = order.totals
        assert [totals.items, totals.shipping, totals.tax, totals.discount, totals.grand_total] == [
            Money.parse(value, "EUR") for value in ("100.00", "5.00", "21.00", "0", "126.00")
        ]

    def test_the_addresses_read_from_the_payment_and_shipping_columns(self) -> None:
        order = OpenCartInbound().read(_recorded(PAID), STORE).order
        assert order is not None
        expected = Address(
            name="Hélène Lefèvre-Nguyễn",
            lines=("12 rue de l’Église", "Bâtiment B"),
            city="Lyon",
            region="69",
            postal_code="69002",
            country="FR",
            phone="+33 4 72 00 00 00",
        )
        assert order.billing_address == expected
        assert order.shipping_address == expected
        assert order.problems_for_fulfillment() == []

    def test_a_separate_shipping_address_is_kept_apart(self) -> None:
        body = _edited(
            PAID,
            shipping_firstname="Marc",
            shipping_lastname="Dubois",
            shipping_company="Atelier Dubois",
            shipping_address_1="3 quai Saint-Antoine",
            shipping_address_2="",
            shipping_city="Lyon",
            shipping_postcode="69002",
            shipping_zone_code="",
            shipping_zone="Rhône",
            shipping_iso_code_2="fr",
        )
        shipping = _order(body).shipping_address
        assert shipping == Address(
            name="Marc Dubois",
            company="Atelier Dubois",
            lines=("3 quai Saint-Antoine",),
            city="Lyon",
            region="Rhône",
            postal_code="69002",
            country="FR",
            phone="+33 4 72 00 00 00",
        )

    def test_an_order_without_shipping_ships_to_the_billing_address(self) -> None:
        body = _edited(PAID, shipping_address_1="", shipping_firstname="", shipping_iso_code_2="")
        order = _order(body)
        assert order.shipping_address == order.billing_address

    def test_a_product_without_a_model_gets_an_sku_from_its_product_id(self) -> None:
        document = json.loads(_body(PAID))
        document["order"]["products"][0]["model"] = " "
        assert _order(json.dumps(document).encode()).lines[0].sku == "oc-product-50"

    def test_a_guest_has_no_customer_id(self) -> None:
        assert _order(_edited(PAID, customer_id="0")).customer.external_id is None

    def test_amounts_convert_into_the_order_currency_with_its_rate(self) -> None:
        # OpenCart stores amounts in the default currency; currency_value converts, rounding half up.
        order = _order(_edited(PAID, currency_code="USD", currency_value="1.13450000"))
        assert order.currency == "USD"
        assert order.lines[0].unit_price == Money.parse("16.45", "USD")  # 14.5 x 1.1345 = 16.45025
        assert order.totals.grand_total == Money.parse("142.95", "USD")  # 126 x 1.1345 = 142.947
        assert order.totals.tax == Money.parse("23.82", "USD")  # 21 x 1.1345 = 23.8245

    def test_a_currency_without_minor_units_rounds_to_whole_units(self) -> None:
        order = _order(_edited(PAID, currency_code="JPY", currency_value="163.50000000"))
        assert order.totals.grand_total == Money(minor=20601, currency="JPY")  # 126 x 163.5 = 20601

    def test_coupons_and_vouchers_add_up_to_the_discount(self) -> None:
        document = json.loads(_body(PAID))
        document["order"]["totals"][3:3] = [
            {"code": "coupon", "title": "Coupon (BIENVENUE)", "value": "-10.0000"},
            {"code": "voucher", "title": "Chèque cadeau", "value": "-5.5000"},
        ]
        assert _order(json.dumps(document).encode()).totals.discount == Money.parse("15.50", "EUR")

    def test_without_a_sub_total_the_items_add_up_from_the_lines(self) -> None:
        document = json.loads(_body(PAID))
        document["order"]["totals"] = [row for row in document["order"]["totals"] if row["code"] != "sub_total"]
        assert _order(json.dumps(document).encode()).totals.items == Money.parse("100.00", "EUR")

    def test_numbers_sent_as_numbers_read_like_strings(self) -> None:
        document = json.loads(_body(PAID))
        document["order"].update(order_id=1207, total=126, order_status_id=2)
        document["order"]["products"][0].update(order_product_id=951, quantity=2, price=14.5)
        order = _order(json.dumps(document).encode())
        assert (order.external_id, order.totals.grand_total.minor, order.lines[0].unit_price.minor) == (
            "1207",
            12600,
            1450,
        )


class TestTimes:
    def test_the_snapshot_time_is_when_the_history_was_added(self) -> None:
        order = OpenCartInbound().read(_recorded(SHIPPED), STORE).order
        assert order is not None
        assert order.source_modified_at == datetime(2025, 6, 5, 8, 40, 2, tzinfo=UTC)  # occurred_at 1749112802

    def test_the_placed_time_moves_from_shop_time_to_utc(self) -> None:
        # date_added 14:21:07 in Lyon (UTC+2 in June): occurred_at vs date_modified gives the offset.
        order = OpenCartInbound().read(_recorded(PENDING), STORE).order
        assert order is not None
        assert order.placed_at == datetime(2025, 6, 3, 12, 21, 7, tzinfo=UTC)

    def test_without_occurred_at_the_local_times_are_taken_as_utc(self) -> None:
        document = json.loads(_body(SHIPPED))
        del document["occurred_at"]
        order = _order(json.dumps(document).encode())
        assert order.source_modified_at == datetime(2025, 6, 5, 10, 40, 2, tzinfo=UTC)
        assert order.placed_at == datetime(2025, 6, 3, 14, 21, 7, tzinfo=UTC)

    def test_later_history_changes_are_later_snapshots(self) -> None:
        times = [OpenCartInbound().read(_recorded(name), STORE).order for name in (PENDING, PAID, SHIPPED, REFUNDED)]
        moments = [order.source_modified_at for order in times if order is not None]
        assert moments == sorted(moments)
        assert len(set(moments)) == 4

    @pytest.mark.parametrize(
        ("local", "occurred_at", "offset"),
        [
            (datetime(2025, 6, 5, 10, 40, 2), 1749112802, timedelta(hours=2)),
            (datetime(2025, 6, 5, 10, 40, 3), 1749112802, timedelta(hours=2)),  # written a second apart
            (datetime(2025, 6, 5, 3, 40, 2), 1749112802, timedelta(hours=-5)),
            (datetime(2025, 6, 5, 14, 25, 2), 1749112802, timedelta(hours=5, minutes=45)),  # Kathmandu
            (datetime(2025, 6, 8, 10, 40, 2), 1749112802, timedelta(0)),  # days apart: not an offset
        ],
    )
    def test_the_shop_offset_is_read_to_the_quarter_hour(
        self, local: datetime, occurred_at: int, offset: timedelta
    ) -> None:
        assert shop_utc_offset(occurred_at, local) == offset

    def test_no_offset_without_both_times(self) -> None:
        assert shop_utc_offset(None, datetime(2025, 6, 5, 10, 40, 2)) == timedelta(0)
        assert shop_utc_offset(1749112802, None) == timedelta(0)


class TestIgnored:
    def test_another_event_is_acknowledged_and_ignored(self) -> None:
        body = json.dumps({"event_id": "e-1", "event": "customer.added", "store_url": STORE.site_url}).encode()
        event = _read(body)
        assert event.ignore_reason == "event customer.added is not an order history change"
        assert event.order is None
        assert event.event_id == "e-1"

    def test_an_order_never_confirmed_is_ignored(self) -> None:
        event = _read(_edited(PENDING, order_status_id="0"))
        assert event.ignore_reason is not None
        assert "never confirmed" in event.ignore_reason
        assert event.order is None
        assert event.external_order_id == "1207"


class TestMalformed:
    @pytest.mark.parametrize(
        ("body", "names"),
        [
            (b"not json", "not an OpenCart order event"),
            (b"[]", "not an OpenCart order event"),
            (b'{"event_id":"e-1"}', "event"),
            (b'{"event":"order.history_added","store_url":"https://x.example/"}', "carries no order"),
        ],
    )
    def test_an_unreadable_envelope_is_malformed(self, body: bytes, names: str) -> None:
        with pytest.raises(MalformedPayload, match=names):
            _read(body)

    def test_an_order_without_products_names_the_field(self) -> None:
        document = json.loads(_body(PAID))
        del document["order"]["products"]
        with pytest.raises(MalformedPayload, match=r"order\.products"):
            _read(json.dumps(document).encode())

    def test_an_amount_with_a_comma_names_the_field(self) -> None:
        with pytest.raises(MalformedPayload, match="126,00"):
            _read(_edited(PAID, total="126,00"))

    def test_a_currency_rate_that_is_not_a_number_names_the_field(self) -> None:
        with pytest.raises(MalformedPayload, match="currency_value"):
            _read(_edited(PAID, currency_value="n/a"))

    def test_a_zero_quantity_is_malformed(self) -> None:
        document = json.loads(_body(PAID))
        document["order"]["products"][0]["quantity"] = "0"
        with pytest.raises(MalformedPayload, match="quantity"):
            _read(json.dumps(document).encode())

    def test_an_unknown_date_format_names_the_field(self) -> None:
        with pytest.raises(MalformedPayload, match="date_added"):
            _read(_edited(PAID, date_added="03/06/2025"))
