"""WooCommerce intake: signatures over the exact bytes sent, handshakes, and reading orders exactly."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fulfillment.adapters.platforms.woocommerce import WooCommerceInbound, woocommerce_signature
from fulfillment.errors import InvalidSignature, MalformedPayload
from fulfillment.model import Address, Money, Order
from fulfillment.model.store import StoreCredentials, WebhookRequest
from tests.fakes import TEST_SECRET, woo_sign, woo_store

EVENTS = Path(__file__).resolve().parents[3] / "events" / "woocommerce"

# X-WC-Webhook-Signature of the recorded deliveries (secret "test-secret"), copied from their headers.
SAMPLE_SIGNATURES = {
    "order_created_pending.json": "AmIQxJcvrw1VpiGYEa/M6+IoO/AfJGvG5rXckx0/4/4=",
    "order_updated_paid.json": "IsSZ0BHEP4dANZ7L1arhl4+9s8sEH38bRFuwRCXo0rE=",
    "order_updated_cancelled.json": "wVMqrwKUHLL/zIRUpdO2u2nxC+D+qzDzHftarULNKvg=",
}

woo = WooCommerceInbound()
NOW = 1_750_000_000.0  # Woo signs no timestamp: any time verifies


def _request(body: bytes, signature: str | None = None, content_type: str = "application/json") -> WebhookRequest:
    headers = {"content-type": content_type, "x-wc-webhook-topic": "order.updated"}
    if signature is not None:
        headers["x-wc-webhook-signature"] = signature
    return WebhookRequest(body=body, headers=headers)


def _sample(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def _parse(body: bytes) -> Order:
    event = woo.read(_request(body), woo_store())
    assert event.order is not None
    return event.order


def _edited(body: bytes, **changes: Any) -> bytes:
    document = json.loads(body)
    document.update(changes)
    return json.dumps(document).encode()


class TestSignature:
    @pytest.mark.parametrize(("name", "signature"), SAMPLE_SIGNATURES.items())
    def test_accepts_the_recorded_deliveries_as_signed(self, name: str, signature: str) -> None:
        woo.verify(_request(_sample(name), signature), StoreCredentials(webhook_secret=TEST_SECRET), NOW)

    @pytest.mark.parametrize(("name", "signature"), SAMPLE_SIGNATURES.items())
    def test_computes_the_recorded_signatures(self, name: str, signature: str) -> None:
        assert woocommerce_signature(TEST_SECRET, _sample(name)) == signature

    def test_the_signature_covers_the_bytes_as_sent_not_the_json_they_encode(self, woo_paid_body: bytes) -> None:
        # PHP's wp_json_encode escapes "/" and non-ASCII; the bytes must stay exactly as sent.
        assert b"Mozilla\\/5.0" in woo_paid_body
        assert b"Zo\\u00eb" in woo_paid_body
        signature = SAMPLE_SIGNATURES["order_updated_paid.json"]
        document = json.loads(woo_paid_body)
        reserialised = [
            json.dumps(document).encode(),
            json.dumps(document, separators=(",", ":")).encode(),
            json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode(),
        ]
        for body in reserialised:
            assert json.loads(body) == document
            with pytest.raises(InvalidSignature):
                woo.verify(_request(body, signature), StoreCredentials(webhook_secret=TEST_SECRET), NOW)

    def test_refuses_a_body_with_a_trailing_newline(self, woo_paid_body: bytes) -> None:
        with pytest.raises(InvalidSignature):
            woo.verify(
                _request(woo_paid_body + b"\n", SAMPLE_SIGNATURES["order_updated_paid.json"]),
                StoreCredentials(webhook_secret=TEST_SECRET),
                NOW,
            )

    def test_refuses_a_body_signed_with_another_secret(self, woo_paid_body: bytes) -> None:
        with pytest.raises(InvalidSignature):
            woo.verify(
                _request(woo_paid_body, woo_sign("another-secret", woo_paid_body)),
                StoreCredentials(webhook_secret=TEST_SECRET),
                NOW,
            )

    def test_refuses_the_signature_of_another_delivery(self, woo_paid_body: bytes) -> None:
        with pytest.raises(InvalidSignature):
            woo.verify(
                _request(woo_paid_body, SAMPLE_SIGNATURES["order_created_pending.json"]),
                StoreCredentials(webhook_secret=TEST_SECRET),
                NOW,
            )

    def test_refuses_a_tampered_body(self, woo_paid_body: bytes) -> None:
        tampered = woo_paid_body.replace(b'"total":"126.02"', b'"total":"0.02"')
        assert tampered != woo_paid_body
        with pytest.raises(InvalidSignature):
            woo.verify(
                _request(tampered, SAMPLE_SIGNATURES["order_updated_paid.json"]),
                StoreCredentials(webhook_secret=TEST_SECRET),
                NOW,
            )

    @pytest.mark.parametrize(
        "signature", [None, "", "   ", "not-base64!", "sha256=IsSZ0BHEP4dANZ7L1arhl4+9s8sEH38bRFuwRCXo0rE="]
    )
    def test_refuses_a_missing_or_garbled_signature(self, woo_paid_body: bytes, signature: str | None) -> None:
        with pytest.raises(InvalidSignature):
            woo.verify(_request(woo_paid_body, signature), StoreCredentials(webhook_secret=TEST_SECRET), NOW)

    def test_tolerates_whitespace_around_the_signature_header(self, woo_paid_body: bytes) -> None:
        woo.verify(
            _request(woo_paid_body, f" {SAMPLE_SIGNATURES['order_updated_paid.json']} "),
            StoreCredentials(webhook_secret=TEST_SECRET),
            NOW,
        )

    @pytest.mark.parametrize(
        ("stored", "used_by_woocommerce"),
        [
            ("p&amp;ss", "p&ss"),
            ("&lt;tag&gt;", "<tag>"),
            ("say &quot;hi&quot; &#039;x&#039; &#39;y&#39; &#x27;z&#x27;", "say \"hi\" 'x' 'y' 'z'"),
            ("&amp;lt;", "&lt;"),  # decoded once, like wp_specialchars_decode
        ],
    )
    def test_decodes_an_html_escaped_secret_like_woocommerce(self, stored: str, used_by_woocommerce: str) -> None:
        body = b'{"id":1}'
        woo.verify(_request(body, woo_sign(used_by_woocommerce, body)), StoreCredentials(webhook_secret=stored), NOW)
        with pytest.raises(InvalidSignature):
            woo.verify(_request(body, woo_sign(stored, body)), StoreCredentials(webhook_secret=stored), NOW)


class TestHandshake:
    def test_the_creation_ping_is_a_handshake(self) -> None:
        ping = _sample("ping.txt")
        assert ping == b"webhook_id=12"
        assert woo.handshake(_request(ping, content_type="application/x-www-form-urlencoded; charset=UTF-8"))

    def test_a_ping_looking_body_with_a_signature_is_not_a_handshake(self) -> None:
        body = b"webhook_id=12"
        assert None is woo.handshake(_request(body, woo_sign(TEST_SECRET, body)))

    def test_an_order_is_not_a_handshake(self, woo_paid_body: bytes) -> None:
        assert None is woo.handshake(_request(woo_paid_body))
        assert None is woo.handshake(_request(woo_paid_body, SAMPLE_SIGNATURES["order_updated_paid.json"]))


class TestPayment:
    @pytest.mark.parametrize(
        ("status", "paid"),
        [
            ("processing", True),
            ("completed", True),
            ("pending", False),
            ("on-hold", False),
            ("failed", False),
            ("cancelled", False),
            ("refunded", False),
            ("checkout-draft", False),
        ],
    )
    def test_paid_is_read_from_the_order_status(self, woo_paid_body: bytes, status: str, paid: bool) -> None:
        assert _parse(_edited(woo_paid_body, status=status)).paid is paid

    def test_the_recorded_deliveries(self, woo_paid_body: bytes, woo_pending_body: bytes) -> None:
        assert _parse(woo_paid_body).paid is True
        assert _parse(woo_pending_body).paid is False
        assert _parse(_sample("order_updated_cancelled.json")).paid is False


class TestParsing:
    def test_identifies_the_order(self, woo_paid_body: bytes) -> None:
        order = _parse(woo_paid_body)
        assert (order.store_id, order.platform, order.external_id, order.number) == (
            "kaffeekontor",
            "woocommerce",
            "4711",
            "4711",
        )
        assert order.key == "kaffeekontor:4711"

    def test_reads_money_exactly(self, woo_paid_body: bytes) -> None:
        order = _parse(woo_paid_body)

        def eur(minor: int) -> Money:
            return Money(minor=minor, currency="EUR")

        assert order.currency == "EUR"
        assert order.totals.grand_total == eur(12602)
        assert order.totals.items == eur(10000)
        assert order.totals.shipping == eur(590)
        assert order.totals.tax == eur(2012)
        assert order.totals.discount == eur(0)
        assert [line.unit_price for line in order.lines] == [eur(1450), eur(2900), eur(4200)]
        assert [line.subtotal for line in order.lines] == [eur(2900), eur(2900), eur(4200)]

    def test_reads_lines(self, woo_paid_body: bytes) -> None:
        lines = _parse(woo_paid_body).lines
        assert [(line.line_id, line.sku, line.quantity) for line in lines] == [
            ("301", "MUG-CC-BLU", 2),
            ("302", "TEE-ORG-M-GRN", 1),
            ("303", "TORCH-CB-01", 1),
        ]

    def test_a_line_without_sku_is_named_after_its_product(self, woo_paid_body: bytes) -> None:
        document = json.loads(woo_paid_body)
        document["line_items"][0]["sku"] = ""
        document["line_items"][2]["sku"] = ""
        lines = _parse(json.dumps(document).encode()).lines
        assert [line.sku for line in lines] == ["woo-product-1204", "TEE-ORG-M-GRN", "woo-product-1221"]

    def test_keeps_unicode_text(self, woo_paid_body: bytes) -> None:
        order = _parse(woo_paid_body)
        assert order.customer.name == "Zoë Ångström-Müller"
        assert order.billing_address.company == "Ångström Design GmbH"
        assert [line.name for line in order.lines] == [
            "Café Crème Mug - Blau",
            "Organic Cotton T-Shirt „Kiefer“ - M / Waldgrün",
            "Crème Brûlée Torch 🔥",
        ]

    def test_maps_the_addresses(self, woo_paid_body: bytes) -> None:
        order = _parse(woo_paid_body)
        assert order.shipping_address == Address(
            name="Zoë Ångström-Müller",
            company="",
            lines=("Straße des 17. Juni 135", "Hinterhaus, 3. OG"),
            city="Berlin",
            region="BE",
            postal_code="10623",
            country="DE",
            phone="",
        )
        assert order.billing_address.lines == ("Karl-Marx-Allee 90",)  # the empty address_2 is dropped
        assert order.billing_address.postal_code == "10243"
        assert order.billing_address.phone == "+49 30 12345678"

    def test_maps_the_customer(self, woo_paid_body: bytes) -> None:
        customer = _parse(woo_paid_body).customer
        assert (customer.email, customer.external_id) == ("zoe.angstrom@example.com", "87")

    def test_a_guest_has_no_customer_id(self, woo_paid_body: bytes) -> None:
        assert _parse(_edited(woo_paid_body, customer_id=0)).customer.external_id is None

    def test_upper_cases_country_and_currency(self, woo_paid_body: bytes) -> None:
        document = json.loads(woo_paid_body)
        document["shipping"]["country"] = "de"
        document["currency"] = "eur"
        order = _parse(json.dumps(document).encode())
        assert (order.shipping_address.country, order.currency, order.totals.grand_total.currency) == (
            "DE",
            "EUR",
            "EUR",
        )

    def test_ships_to_the_billing_address_when_no_shipping_address_is_given(self, woo_paid_body: bytes) -> None:
        document = json.loads(woo_paid_body)
        document["shipping"] = {"first_name": "", "address_1": "", "city": "", "country": ""}
        order = _parse(json.dumps(document).encode())
        assert order.shipping_address == order.billing_address
        assert order.shipping_address.lines == ("Karl-Marx-Allee 90",)

    def test_reads_times_from_the_gmt_fields_as_utc(self, woo_paid_body: bytes) -> None:
        order = _parse(woo_paid_body)
        # the local-time fields say 14:21:07 and 09:12:40 (Berlin, UTC+2); the *_gmt ones are UTC
        assert order.placed_at == datetime(2025, 6, 3, 12, 21, 7, tzinfo=UTC)
        assert order.source_modified_at == datetime(2025, 6, 4, 7, 12, 40, tzinfo=UTC)
        assert order.placed_at.utcoffset() is not None

    def test_gmt_fields_are_utc_whatever_the_local_zone(
        self, woo_paid_body: bytes, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TZ", "America/Los_Angeles")
        time.tzset()
        try:
            order = _parse(woo_paid_body)
        finally:
            monkeypatch.undo()
            time.tzset()
        assert order.placed_at == datetime(2025, 6, 3, 12, 21, 7, tzinfo=UTC)

    def test_converts_gmt_fields_that_carry_an_offset(self, woo_paid_body: bytes) -> None:
        order = _parse(_edited(woo_paid_body, date_modified_gmt="2025-06-04T09:12:40+02:00"))
        assert order.source_modified_at == datetime(2025, 6, 4, 7, 12, 40, tzinfo=UTC)

    def test_a_newer_delivery_is_modified_later(self, woo_pending_body: bytes, woo_paid_body: bytes) -> None:
        assert _parse(woo_pending_body).source_modified_at < _parse(woo_paid_body).source_modified_at

    def test_a_parsed_order_is_new(self, woo_paid_body: bytes) -> None:
        order = _parse(woo_paid_body)
        assert (order.version, order.events_recorded, order.pending_events) == (0, 0, [])


class TestMalformedPayloads:
    @pytest.mark.parametrize(
        ("body", "mentions"),
        [
            (b"", "body"),
            (b"not json", "body"),
            (b"webhook_id=12", "body"),
            (b"[]", "body"),
            (b'{"id": 4711}', "status"),
        ],
    )
    def test_refuses_what_is_not_an_order(self, body: bytes, mentions: str) -> None:
        with pytest.raises(MalformedPayload, match=f"^not a WooCommerce order: .*{mentions}"):
            _parse(body)

    def test_refuses_an_order_without_id(self, woo_paid_body: bytes) -> None:
        document = json.loads(woo_paid_body)
        del document["id"]
        with pytest.raises(MalformedPayload, match="id: Field required"):
            _parse(json.dumps(document).encode())

    @pytest.mark.parametrize("quantity", [0, -1])
    def test_refuses_a_line_without_a_positive_quantity(self, woo_paid_body: bytes, quantity: int) -> None:
        document = json.loads(woo_paid_body)
        document["line_items"][0]["quantity"] = quantity
        with pytest.raises(MalformedPayload, match="quantity"):
            _parse(json.dumps(document).encode())

    @pytest.mark.parametrize(
        ("field", "value"), [("total", "12,50"), ("total", "abc"), ("shipping_total", "NaN"), ("total_tax", "")]
    )
    def test_refuses_bad_money_naming_the_amount(self, woo_paid_body: bytes, field: str, value: str) -> None:
        with pytest.raises(MalformedPayload, match=f"not an amount: '{value}'"):
            _parse(_edited(woo_paid_body, **{field: value}))

    def test_refuses_a_bad_line_price(self, woo_paid_body: bytes) -> None:
        document = json.loads(woo_paid_body)
        document["line_items"][1]["price"] = "free"
        with pytest.raises(MalformedPayload, match="not an amount: 'free'"):
            _parse(json.dumps(document).encode())

    def test_refuses_an_absurdly_large_total(self, woo_paid_body: bytes) -> None:
        with pytest.raises(MalformedPayload):
            _parse(_edited(woo_paid_body, total="1e30"))

    @pytest.mark.parametrize("currency", ["EURO", "€", ""])
    def test_refuses_a_currency_that_is_not_an_iso_code(self, woo_paid_body: bytes, currency: str) -> None:
        with pytest.raises(MalformedPayload):
            _parse(_edited(woo_paid_body, currency=currency))

    def test_refuses_a_bad_timestamp(self, woo_paid_body: bytes) -> None:
        with pytest.raises(MalformedPayload, match="date_modified_gmt"):
            _parse(_edited(woo_paid_body, date_modified_gmt="yesterday"))


class TestReportedRefunds:
    def test_each_refund_is_money_only_with_its_id_reason_and_amount(self, woo_paid_body: bytes) -> None:
        refunds = [
            {"id": 4725, "reason": "Henkel abgebrochen – 1 Tasse erstattet", "total": "-17.26"},
            {"id": 4726, "reason": "", "total": "-5.00"},
        ]
        order = _parse(_edited(woo_paid_body, refunds=refunds))
        assert [(r.external_id, r.lines, r.reason, r.refunded_minor) for r in order.reported_returns] == [
            ("refund-4725", (), "Henkel abgebrochen – 1 Tasse erstattet", 1726),
            ("refund-4726", (), "", 500),
        ]

    def test_an_order_without_refunds_reports_nothing(self, woo_paid_body: bytes) -> None:
        assert _parse(woo_paid_body).reported_returns == ()
