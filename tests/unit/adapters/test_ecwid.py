"""Ecwid intake: signatures over ``eventCreated.eventId`` only, freshness, and thin deliveries read as fetches."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms.ecwid import EcwidInbound, EcwidOrder, build, ecwid_signature, to_order
from fulfillment.errors import InvalidSignature, MalformedPayload
from fulfillment.model import Address, Money, Order
from fulfillment.model.inbound import InboundEvent
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest

EVENTS = Path(__file__).resolve().parents[3] / "events" / "ecwid"
REST_ORDER = EVENTS / "rest_GET_api_v3_31415926_orders_KX7Q2.json"
SECRET = StoreCredentials(webhook_secret="test-secret")
STORE = Store(store_id="kaffeekontor-ecwid", platform="ecwid", secret_ref="/ref", platform_store_id="31415926")

# X-Ecwid-Webhook-Signature of the recorded deliveries (client_secret "test-secret") and their eventCreated.
SAMPLES = {
    "01_order_created": ("vsUFtmLPb/D8imjXysib1/rXQGq2arF3JeUchtEuItU=", 1748953267),
    "02_order_updated_paid": ("MFKnitkO6iIlpS22owet/DjNZSUaG14EpdStgTGhDUU=", 1749021160),
    "03_order_updated_partially_refunded": ("z0JUrMvH54gHB9ntLI87WMInTS3oPIxErROa14iyDDI=", 1749045792),
    "04_order_updated_shipped": ("A8oUr6aZeuMRoec/3Ymnieujbaj3XzPB//6VZ5GFIww=", 1749112802),
    "05_order_updated_cancelled": ("k2aWwdPBGLLYJNO7TFP1QMgkV+bg5saZ2USRFI8Ry0U=", 1749024930),
    "06_order_deleted": ("n35zdn8TNQkOdyHUXBD9EEhNxPaBVGj1jeX62vRPrF0=", 1749200000),
}
PAID = "02_order_updated_paid"
PAID_AT = SAMPLES[PAID][1]

ecwid = EcwidInbound()


def eur(amount: str) -> Money:
    return Money.parse(amount, "EUR")


def _delivery(name: str) -> WebhookRequest:
    headers = json.loads((EVENTS / f"{name}.headers.json").read_text(encoding="utf-8"))
    return WebhookRequest(
        body=(EVENTS / f"{name}.json").read_bytes(), headers={key.lower(): value for key, value in headers.items()}
    )


def _with(request: WebhookRequest, *, body: bytes | None = None, signature: str | None = "keep") -> WebhookRequest:
    headers = dict(request.headers)
    if signature is None:
        headers.pop("x-ecwid-webhook-signature")
    elif signature != "keep":
        headers["x-ecwid-webhook-signature"] = signature
    return WebhookRequest(body=request.body if body is None else body, headers=headers)


def _edited(name: str, **changes: Any) -> bytes:
    document = json.loads((EVENTS / f"{name}.json").read_bytes())
    document.update(changes)
    return json.dumps(document, separators=(",", ":")).encode()


def _read(name: str, body: bytes | None = None) -> InboundEvent:
    return ecwid.read(_with(_delivery(name), body=body), STORE)


def _rest_order(**changes: Any) -> EcwidOrder:
    document = json.loads(REST_ORDER.read_bytes())
    document.update(changes)
    return EcwidOrder.model_validate(document)


def _mapped(**changes: Any) -> Order:
    return to_order(_rest_order(**changes), STORE, "EUR")


class TestSignature:
    @pytest.mark.parametrize("name", SAMPLES)
    def test_accepts_every_recorded_delivery_when_fresh(self, name: str) -> None:
        ecwid.verify(_delivery(name), SECRET, SAMPLES[name][1] + 1)

    @pytest.mark.parametrize("name", SAMPLES)
    def test_computes_the_recorded_signatures_over_event_created_and_event_id(self, name: str) -> None:
        signature, created = SAMPLES[name]
        event_id = json.loads(_delivery(name).body)["eventId"]
        assert _delivery(name).header("x-ecwid-webhook-signature") == signature
        assert ecwid_signature("test-secret", str(created), event_id) == signature

    def test_refuses_an_event_id_changed_by_one_byte(self) -> None:
        request = _delivery(PAID)
        tampered = request.body.replace(b'"eventId":"109a3e69', b'"eventId":"109a3e6a')
        assert tampered != request.body and len(tampered) == len(request.body)
        with pytest.raises(InvalidSignature):
            ecwid.verify(_with(request, body=tampered), SECRET, PAID_AT)

    def test_refuses_an_event_time_changed_by_one_second(self) -> None:
        request = _delivery(PAID)
        tampered = request.body.replace(b'"eventCreated":1749021160', b'"eventCreated":1749021161')
        assert tampered != request.body
        with pytest.raises(InvalidSignature):
            ecwid.verify(_with(request, body=tampered), SECRET, PAID_AT)

    def test_the_rest_of_the_body_is_not_signed_which_is_why_orders_are_fetched(self) -> None:
        request = _delivery(PAID)
        forged = request.body.replace(b'"orderId":"KX7Q2"', b'"orderId":"KX7Q3"')
        assert forged != request.body
        ecwid.verify(_with(request, body=forged), SECRET, PAID_AT)  # still verifies: Ecwid signs only the envelope
        assert _read(PAID, forged).needs_fetch is True

    def test_refuses_a_signature_changed_by_one_character(self) -> None:
        signature = SAMPLES[PAID][0]
        with pytest.raises(InvalidSignature):
            ecwid.verify(_with(_delivery(PAID), signature="N" + signature[1:]), SECRET, PAID_AT)

    def test_refuses_the_signature_of_another_delivery(self) -> None:
        with pytest.raises(InvalidSignature):
            ecwid.verify(_with(_delivery(PAID), signature=SAMPLES["01_order_created"][0]), SECRET, PAID_AT)

    def test_refuses_a_delivery_signed_with_another_secret(self) -> None:
        with pytest.raises(InvalidSignature):
            ecwid.verify(
                _delivery(PAID), StoreCredentials(webhook_secret="secret_api_token_not_client_secret"), PAID_AT
            )

    @pytest.mark.parametrize("signature", [None, "", "  "])
    def test_refuses_a_missing_signature(self, signature: str | None) -> None:
        with pytest.raises(InvalidSignature):
            ecwid.verify(_with(_delivery(PAID), signature=signature), SECRET, PAID_AT)

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"{not json",
            b"[]",
            b'{"eventId":"x"}',
            b'{"eventCreated":1749021160}',
            b'{"eventCreated":true,"eventId":"x"}',
        ],
    )
    def test_refuses_a_body_without_the_signed_fields(self, body: bytes) -> None:
        with pytest.raises(InvalidSignature):
            ecwid.verify(_with(_delivery(PAID), body=body), SECRET, PAID_AT)


class TestFreshness:
    """Ecwid resends an undelivered webhook for 24 h with its original eventCreated (docs.ecwid.com, "How to
    process webhooks": 15 min, 30 min, 45 min, 1 h, … 24 h): every retry inside that window verifies."""

    @pytest.mark.parametrize("offset", [-300, 0, 300, 15 * 60, 20 * 60, 3600, 24 * 3600, 24 * 3600 + 300])
    def test_accepts_the_delivery_and_every_retry_within_ecwids_resend_window(self, offset: int) -> None:
        ecwid.verify(_delivery(PAID), SECRET, PAID_AT + offset)

    @pytest.mark.parametrize("offset", [-301, -3600])
    def test_refuses_an_event_time_more_than_five_minutes_ahead(self, offset: int) -> None:
        with pytest.raises(InvalidSignature, match="300 s"):
            ecwid.verify(_delivery(PAID), SECRET, PAID_AT + offset)

    @pytest.mark.parametrize("offset", [24 * 3600 + 301, 48 * 3600, 86400 * 365])
    def test_refuses_an_event_older_than_the_resend_window(self, offset: int) -> None:
        with pytest.raises(InvalidSignature, match="86700 s"):
            ecwid.verify(_delivery(PAID), SECRET, PAID_AT + offset)

    def test_a_correctly_signed_replay_of_a_2025_delivery_is_refused_today(self) -> None:
        with pytest.raises(InvalidSignature):
            ecwid.verify(_delivery(PAID), SECRET, datetime(2026, 1, 1, tzinfo=UTC).timestamp())

    def test_an_event_time_sent_as_a_float_is_signed_as_its_integer(self) -> None:
        body = _edited(PAID, eventCreated=float(PAID_AT))
        assert b"1749021160.0" in body
        ecwid.verify(_with(_delivery(PAID), body=body), SECRET, PAID_AT)


class TestHandshake:
    @pytest.mark.parametrize("name", SAMPLES)
    def test_no_delivery_is_a_handshake(self, name: str) -> None:
        assert ecwid.handshake(_delivery(name)) is None


class TestOrderEvents:
    @pytest.mark.parametrize(
        ("name", "topic", "order_id", "event_id"),
        [
            ("01_order_created", "order.created", "KX7Q2", "c14181cc-873b-5ab9-8e1e-e8827f0fb3ec"),
            (PAID, "order.updated", "KX7Q2", "109a3e69-2658-582a-8b2b-e6bdc40de205"),
            ("03_order_updated_partially_refunded", "order.updated", "KX7Q2", "c47ff443-7d5c-535b-b7fa-a285e363f54e"),
            ("04_order_updated_shipped", "order.updated", "KX7Q2", "c7ad35ce-d696-5d03-8807-7b6b2d1cc897"),
            ("05_order_updated_cancelled", "order.updated", "KX7R9", "30bcf76e-27a7-58ab-9ee1-4227278d97c0"),
        ],
    )
    def test_every_order_event_asks_for_a_fetch_of_data_order_id(
        self, name: str, topic: str, order_id: str, event_id: str
    ) -> None:
        event = _read(name)
        assert (event.platform, event.topic, event.external_order_id, event.event_id) == (
            "ecwid",
            topic,
            order_id,
            event_id,
        )
        assert event.needs_fetch is True
        assert event.order is None and event.ignore_reason is None

    def test_names_the_ecwid_store_id_as_the_store_identity(self) -> None:
        assert _read(PAID).store_identity == "31415926"

    def test_the_payment_status_in_the_unsigned_body_is_never_trusted(self) -> None:
        assert _read(PAID).order is None

    def test_falls_back_to_the_entity_id_without_data_order_id(self) -> None:
        event = _read(PAID, _edited(PAID, data={}))
        assert event.external_order_id == "512334455" and event.needs_fetch is True

    def test_reads_a_numeric_order_id_as_text(self) -> None:
        assert _read(PAID, _edited(PAID, data={"orderId": 1042})).external_order_id == "1042"


class TestIgnoredEvents:
    def test_a_deleted_order_is_ignored_with_a_reason(self) -> None:
        event = _read("06_order_deleted")
        assert event.ignore_reason is not None and "deleted" in event.ignore_reason
        assert event.external_order_id == "KX7R9" and event.needs_fetch is False

    @pytest.mark.parametrize("event_type", ["unfinished_order.created", "unfinished_order.updated"])
    def test_unfinished_orders_are_abandoned_checkouts(self, event_type: str) -> None:
        event = _read(PAID, _edited(PAID, eventType=event_type))
        assert event.ignore_reason is not None and "abandoned checkout" in event.ignore_reason
        assert event.needs_fetch is False

    @pytest.mark.parametrize("event_type", ["invoice.created", "product.updated", "customer.created"])
    def test_other_events_are_ignored_and_name_no_order(self, event_type: str) -> None:
        event = _read(PAID, _edited(PAID, eventType=event_type, data=None))
        assert event.ignore_reason is not None and event_type in event.ignore_reason
        assert event.external_order_id is None and event.needs_fetch is False


class TestMalformedDeliveries:
    def test_a_body_that_is_not_json_is_malformed(self) -> None:
        with pytest.raises(MalformedPayload, match="not an Ecwid event"):
            _read(PAID, b"{not json")

    @pytest.mark.parametrize("field", ["eventType", "storeId", "eventId"])
    def test_a_missing_envelope_field_is_named(self, field: str) -> None:
        document = json.loads(_delivery(PAID).body)
        del document[field]
        with pytest.raises(MalformedPayload, match=field):
            _read(PAID, json.dumps(document).encode())

    def test_an_order_event_naming_no_order_is_malformed(self) -> None:
        with pytest.raises(MalformedPayload, match="names no order"):
            _read(PAID, _edited(PAID, data={}, entityId=None))


class TestMappingTheFetchedOrder:
    def test_maps_the_order_exactly(self) -> None:
        order = _mapped()
        assert (order.store_id, order.platform, order.external_id, order.number) == (
            "kaffeekontor-ecwid",
            "ecwid",
            "KX7Q2",
            "KX7Q2",
        )
        assert order.currency == "EUR"
        assert order.platform_refs == {"internal_id": "512334455"}
        assert order.placed_at == datetime(2025, 6, 3, 12, 21, 7, tzinfo=UTC)
        assert order.source_modified_at == datetime(2025, 6, 5, 8, 40, 2, tzinfo=UTC)
        assert (order.customer.email, order.customer.name, order.customer.external_id) == (
            "zoe.angstrom@example.com",
            "Zoë Ångström-Müller",
            "270919557",
        )

    def test_maps_every_line_with_its_ecwid_item_id(self) -> None:
        lines = [(line.line_id, line.sku, line.name, line.quantity, line.unit_price) for line in _mapped().lines]
        assert lines == [
            ("1828115520", "MUG-CC-BLU", "Café Crème Mug", 2, eur("14.50")),
            ("1828115521", "TEE-ORG-M-GRN", "Organic Cotton T-Shirt „Kiefer“", 1, eur("29.00")),
            ("1828115522", "TORCH-CB-01", "Crème Brûlée Torch 🔥", 1, eur("42.00")),
        ]

    def test_maps_the_totals_exactly_from_numbers(self) -> None:
        totals = _mapped().totals
        assert (totals.items, totals.shipping, totals.tax, totals.discount, totals.grand_total) == (
            eur("100.00"),
            eur("5.90"),
            eur("20.12"),
            eur("0.00"),
            eur("126.02"),
        )

    def test_the_coupon_discount_is_added_to_the_other_discounts(self) -> None:
        assert _mapped(discount=2.5, couponDiscount=10).totals.discount == eur("12.50")

    def test_splits_the_shipping_street_into_lines(self) -> None:
        assert _mapped().shipping_address == Address(
            name="Zoë Ångström-Müller",
            lines=("Straße des 17. Juni 135", "Hinterhaus, 3. OG"),
            city="Berlin",
            region="BE",
            postal_code="10623",
            country="DE",
            phone="+49 30 12345678",
        )
        assert _mapped().billing_address.company == "Ångström Design GmbH"

    def test_without_a_shipping_person_ships_to_the_billing_address(self) -> None:
        order = _mapped(shippingPerson=None)
        assert order.shipping_address == order.billing_address

    def test_the_currency_comes_from_outside_the_order(self) -> None:
        order = to_order(_rest_order(), STORE, "usd")
        assert order.currency == "USD" and order.totals.grand_total == Money.parse("126.02", "USD")

    def test_the_creation_date_stands_in_for_a_missing_creation_timestamp(self) -> None:
        assert _mapped(createTimestamp=None).placed_at == datetime(2025, 6, 3, 12, 21, 7, tzinfo=UTC)


class TestStatusVocabulary:
    @pytest.mark.parametrize(
        ("payment_status", "fulfillment_status", "paid", "cancelled"),
        [
            ("PAID", "AWAITING_PROCESSING", True, False),
            ("PARTIALLY_REFUNDED", "SHIPPED", True, False),
            ("REFUNDED", "AWAITING_PROCESSING", True, True),
            ("AWAITING_PAYMENT", "AWAITING_PROCESSING", False, False),
            ("INCOMPLETE", "AWAITING_PROCESSING", False, False),
            ("CANCELLED", "WILL_NOT_DELIVER", False, True),
            ("CUSTOM_PAYMENT_STATUS_1", "AWAITING_PROCESSING", False, False),
            ("PAID", "WILL_NOT_DELIVER", True, True),
        ],
    )
    def test_paid_and_cancelled_follow_the_statuses(
        self, payment_status: str, fulfillment_status: str, paid: bool, cancelled: bool
    ) -> None:
        order = _mapped(paymentStatus=payment_status, fulfillmentStatus=fulfillment_status)
        assert (order.paid, order.cancelled) == (paid, cancelled)

    def test_refunded_is_the_refunded_amount(self) -> None:
        assert _mapped().refunded == eur("17.26")

    def test_nothing_refunded_reads_as_none(self) -> None:
        assert _mapped(refundedAmount=0).refunded is None


class TestBuild:
    def test_builds_inbound_source_and_write_back(self) -> None:
        adapters = build(HttpClient())
        assert adapters.inbound.name == "ecwid"
        assert adapters.source is not None and adapters.write_back is not None
