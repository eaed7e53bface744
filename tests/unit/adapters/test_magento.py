"""Magento intake: Mage-OS HMACs and Adobe I/O RSA signatures over the exact bytes, and reading orders exactly."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from fulfillment.adapters.http_client import HttpClient
from fulfillment.adapters.platforms._magento_adobe_io import KEY_TTL_SECONDS
from fulfillment.adapters.platforms.base import hmac_sha256_hex
from fulfillment.adapters.platforms.magento import MagentoInbound, build
from fulfillment.errors import InvalidSignature, MalformedPayload, TransientError
from fulfillment.model import Address, LineItem, Money
from fulfillment.model.inbound import HandshakeReply, InboundEvent
from fulfillment.model.store import Store, StoreCredentials, WebhookRequest
from local.stub_api import Fault, StubApi

EVENTS = Path(__file__).resolve().parents[3] / "events" / "magento"
TEST_SECRET = "test-secret"
NOW = datetime(2025, 6, 4, 16, 48, 5, tzinfo=UTC).timestamp()  # the samples' own time
ADOBE_CLIENT_ID = "4f2d9c0b8e1a47c6b3d5e7f9a1c2b3d4"  # recipient_client_id of the Adobe samples
KEY_PATHS = r"/prod/keys/pub-key([12])\.pem"

MAGEOS_CREATED = "mageos_01_sales.order.created"
MAGEOS_INVOICED = "mageos_02_sales.order.updated_invoiced"
MAGEOS_CREDITMEMO = "mageos_03_sales.creditmemo.created"
MAGEOS_CANCELED = "mageos_04_sales.order.updated_canceled"
ADOBE_PLACED = "adobe_io_01_observer.sales_order_save_after_placed"
ADOBE_CANCELED = "adobe_io_02_observer.sales_order_save_after_canceled_retry"
COMMERCE_WEBHOOK = "commerce_webhooks_01_plugin.magento.sales.api.order_management.place"

# x-magento-signature of the recorded Mage-OS deliveries (token "test-secret"), copied from their headers.
MAGEOS_SIGNATURES = {
    MAGEOS_CREATED: "b36c7650cff50844b5e07f102266e0a4d4a2f40189fc4c6d6dc3f6acec335916",
    MAGEOS_INVOICED: "202eff981e1611fd07498052ebae8bf30caecac153244b3083e7b1fd992baeda",
    MAGEOS_CREDITMEMO: "c669b5b897092b053803105ed5035128469dd46c2fa888d017ef3cee3fa67d3a",
    MAGEOS_CANCELED: "79f5aad61fa3144a02d3e79836c04ae6b1346180ba0a640411b5bdd65ead0a4f",
}

STORE = Store(
    store_id="kaffeekontor-mage",
    platform="magento",
    secret_ref="/fulfillment/test/stores/kaffeekontor-mage/webhook-secret",
    platform_store_id="kaffeekontor.production",
)


def _body(name: str) -> bytes:
    return (EVENTS / f"{name}.json").read_bytes()


def _headers(name: str) -> dict[str, str]:
    recorded = json.loads((EVENTS / f"{name}.headers.json").read_text(encoding="utf-8"))
    return {key.lower(): value for key, value in recorded.items()}


def _delivery(name: str, body: bytes | None = None, **header_changes: str | None) -> WebhookRequest:
    headers = _headers(name)
    for key, value in header_changes.items():
        header = key.replace("_", "-")
        if value is None:
            headers.pop(header, None)
        else:
            headers[header] = value
    return WebhookRequest(body=_body(name) if body is None else body, headers=headers)


def _mageos(data: dict[str, Any]) -> WebhookRequest:
    """A Mage-OS delivery of ``data`` for read(); read() trusts verify() and does not check the signature."""
    body = json.dumps({"data": data}).encode()
    return WebhookRequest(body=body, headers={"x-magento-signature": hmac_sha256_hex(TEST_SECRET.encode(), body)})


def _order_data(name: str = MAGEOS_INVOICED) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_body(name))["data"]
    return data


def _flip_one_byte(body: bytes, at: int = 40) -> bytes:
    return body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :]


def _credentials(key_base: str | None = None, **extra: str) -> StoreCredentials:
    if key_base is not None:
        extra["adobe_key_base_url"] = key_base
    return StoreCredentials(webhook_secret=TEST_SECRET, extra=extra)


def _read(request: WebhookRequest) -> InboundEvent:
    return MagentoInbound(HttpClient()).read(request, STORE)


@pytest.fixture(scope="module")
def key_host() -> Iterator[StubApi]:
    """Adobe's key host as a StubApi (it answers JSON, so the PEM text goes out as a JSON string).

    Shared by the module (each test's adapter has its own key cache): tests count requests as deltas.
    """
    api = StubApi()
    api.route(
        "GET", KEY_PATHS, lambda _, match: (200, (EVENTS / "test-keys" / f"adobe-io-pub-key{match[1]}.pem").read_text())
    )
    with api:
        yield api


@pytest.fixture
def inbound() -> MagentoInbound:
    return MagentoInbound(HttpClient(timeout=1.0, attempts=1))


class TestMageOsSignature:
    @pytest.mark.parametrize("name", MAGEOS_SIGNATURES)
    def test_every_recorded_delivery_verifies_with_the_verification_token(
        self, inbound: MagentoInbound, name: str
    ) -> None:
        inbound.verify(_delivery(name), _credentials(), NOW)

    @pytest.mark.parametrize(("name", "signature"), MAGEOS_SIGNATURES.items())
    def test_the_signature_is_the_hex_hmac_of_the_raw_body(self, name: str, signature: str) -> None:
        assert hmac_sha256_hex(TEST_SECRET.encode(), _body(name)) == signature
        assert _headers(name)["x-magento-signature"] == signature

    def test_an_upper_case_hex_signature_verifies(self, inbound: MagentoInbound) -> None:
        upper = MAGEOS_SIGNATURES[MAGEOS_CREATED].upper()
        inbound.verify(_delivery(MAGEOS_CREATED, x_magento_signature=upper), _credentials(), NOW)

    def test_one_changed_body_byte_is_refused(self, inbound: MagentoInbound) -> None:
        with pytest.raises(InvalidSignature):
            inbound.verify(_delivery(MAGEOS_CREATED, _flip_one_byte(_body(MAGEOS_CREATED))), _credentials(), NOW)

    def test_a_reserialised_body_is_refused(self, inbound: MagentoInbound) -> None:
        reserialised = json.dumps(json.loads(_body(MAGEOS_CREATED))).encode()
        with pytest.raises(InvalidSignature):
            inbound.verify(_delivery(MAGEOS_CREATED, reserialised), _credentials(), NOW)

    def test_one_changed_signature_character_is_refused(self, inbound: MagentoInbound) -> None:
        signature = MAGEOS_SIGNATURES[MAGEOS_CREATED]
        forged = ("0" if signature[0] != "0" else "1") + signature[1:]
        with pytest.raises(InvalidSignature):
            inbound.verify(_delivery(MAGEOS_CREATED, x_magento_signature=forged), _credentials(), NOW)

    def test_the_signature_of_another_delivery_is_refused(self, inbound: MagentoInbound) -> None:
        other = MAGEOS_SIGNATURES[MAGEOS_INVOICED]
        with pytest.raises(InvalidSignature):
            inbound.verify(_delivery(MAGEOS_CREATED, x_magento_signature=other), _credentials(), NOW)

    def test_another_token_is_refused(self, inbound: MagentoInbound) -> None:
        with pytest.raises(InvalidSignature):
            inbound.verify(_delivery(MAGEOS_CREATED), StoreCredentials(webhook_secret="another-token"), NOW)

    @pytest.mark.parametrize("signature", [None, "", "  "])
    def test_a_missing_or_empty_signature_is_refused(self, inbound: MagentoInbound, signature: str | None) -> None:
        with pytest.raises(InvalidSignature):
            inbound.verify(_delivery(MAGEOS_CREATED, x_magento_signature=signature), _credentials(), NOW)

    def test_no_timestamp_is_signed_so_age_alone_refuses_nothing(self, inbound: MagentoInbound) -> None:
        # Mage-OS signs no time: replays are absorbed by snapshot ordering on updated_at instead.
        inbound.verify(_delivery(MAGEOS_CREATED), _credentials(), NOW + 365 * 86400)


class TestAdobeIoSignature:
    @pytest.mark.parametrize("name", [ADOBE_PLACED, ADOBE_CANCELED])
    def test_every_recorded_delivery_verifies_with_adobes_published_keys(
        self, inbound: MagentoInbound, key_host: StubApi, name: str
    ) -> None:
        inbound.verify(_delivery(name), _credentials(key_host.url), NOW)

    def test_the_second_signature_alone_suffices(self, inbound: MagentoInbound, key_host: StubApi) -> None:
        before = len(key_host.received("GET", r"/prod/keys/pub-key2\.pem"))
        request = _delivery(ADOBE_PLACED, x_adobe_digital_signature_1=None)
        inbound.verify(request, _credentials(key_host.url), NOW)
        assert len(key_host.received("GET", r"/prod/keys/pub-key2\.pem")) == before + 1

    def test_a_bad_first_signature_falls_back_to_the_second(self, inbound: MagentoInbound, key_host: StubApi) -> None:
        second = _headers(ADOBE_CANCELED)["x-adobe-digital-signature-1"]  # valid, but for another body
        inbound.verify(_delivery(ADOBE_PLACED, x_adobe_digital_signature_1=second), _credentials(key_host.url), NOW)

    def test_two_bad_signatures_are_refused(self, inbound: MagentoInbound, key_host: StubApi) -> None:
        other = _headers(ADOBE_CANCELED)
        request = _delivery(
            ADOBE_PLACED,
            x_adobe_digital_signature_1=other["x-adobe-digital-signature-1"],
            x_adobe_digital_signature_2=other["x-adobe-digital-signature-2"],
        )
        with pytest.raises(InvalidSignature):
            inbound.verify(request, _credentials(key_host.url), NOW)

    def test_one_changed_body_byte_is_refused(self, inbound: MagentoInbound, key_host: StubApi) -> None:
        with pytest.raises(InvalidSignature):
            inbound.verify(
                _delivery(ADOBE_PLACED, _flip_one_byte(_body(ADOBE_PLACED))), _credentials(key_host.url), NOW
            )

    def test_a_signature_checked_against_the_other_key_is_refused(
        self, inbound: MagentoInbound, key_host: StubApi
    ) -> None:
        swapped = _delivery(
            ADOBE_PLACED,
            x_adobe_public_key1_path="/prod/keys/pub-key2.pem",
            x_adobe_public_key2_path="/prod/keys/pub-key1.pem",
        )
        with pytest.raises(InvalidSignature):
            inbound.verify(swapped, _credentials(key_host.url), NOW)

    @pytest.mark.parametrize(
        "missing",
        [
            {"x_adobe_digital_signature_1": None, "x_adobe_digital_signature_2": None},
            {"x_adobe_public_key1_path": None, "x_adobe_public_key2_path": None},
        ],
    )
    def test_missing_signatures_or_key_paths_are_refused(
        self, inbound: MagentoInbound, key_host: StubApi, missing: dict[str, None]
    ) -> None:
        with pytest.raises(InvalidSignature):
            inbound.verify(_delivery(ADOBE_PLACED, **missing), _credentials(key_host.url), NOW)

    @pytest.mark.parametrize(
        "path",
        ["@evil.example/prod/keys/pub-key1.pem", "/prod/../keys/pub-key1.pem", "/prod/keys/pub-key1.txt", "x.pem"],
    )
    def test_a_key_path_that_could_leave_the_key_host_is_never_fetched(
        self, inbound: MagentoInbound, key_host: StubApi, path: str
    ) -> None:
        request = _delivery(
            ADOBE_PLACED, x_adobe_public_key1_path=path, x_adobe_public_key2_path=path, x_adobe_digital_signature_2=None
        )
        before = len(key_host.received())
        with pytest.raises(InvalidSignature):
            inbound.verify(request, _credentials(key_host.url), NOW)
        assert len(key_host.received()) == before

    def test_keys_are_fetched_once_and_cached_for_a_day(self, inbound: MagentoInbound, key_host: StubApi) -> None:
        credentials = _credentials(key_host.url)
        before = len(key_host.received("GET", KEY_PATHS))
        for name in (ADOBE_PLACED, ADOBE_CANCELED, ADOBE_PLACED):
            inbound.verify(_delivery(name), credentials, NOW)
        assert len(key_host.received("GET", KEY_PATHS)) == before + 1
        inbound.verify(_delivery(ADOBE_PLACED), credentials, NOW + KEY_TTL_SECONDS - 1)
        assert len(key_host.received("GET", KEY_PATHS)) == before + 1
        inbound.verify(_delivery(ADOBE_PLACED), credentials, NOW + KEY_TTL_SECONDS + 1)
        assert len(key_host.received("GET", KEY_PATHS)) == before + 2

    def test_the_recipient_client_id_must_be_this_stores_when_configured(
        self, inbound: MagentoInbound, key_host: StubApi
    ) -> None:
        inbound.verify(_delivery(ADOBE_PLACED), _credentials(key_host.url, adobe_client_id=ADOBE_CLIENT_ID), NOW)
        with pytest.raises(InvalidSignature, match="recipient_client_id"):
            inbound.verify(_delivery(ADOBE_PLACED), _credentials(key_host.url, adobe_client_id="another-client"), NOW)

    def test_a_missing_key_is_a_refusal(self, inbound: MagentoInbound) -> None:
        with StubApi() as empty_host, pytest.raises(InvalidSignature):  # the host answers 404 to everything
            inbound.verify(_delivery(ADOBE_PLACED), _credentials(empty_host.url), NOW)

    def test_an_unreachable_key_host_is_transient_so_adobe_retries(
        self, inbound: MagentoInbound, key_host: StubApi
    ) -> None:
        key_host.fail_next("GET", KEY_PATHS, Fault(503), Fault(503))
        with pytest.raises(TransientError):
            inbound.verify(_delivery(ADOBE_PLACED), _credentials(key_host.url), NOW)
        inbound.verify(_delivery(ADOBE_PLACED), _credentials(key_host.url), NOW)

    def test_keys_served_as_plain_pem_text_verify(self, inbound: MagentoInbound) -> None:
        with _plain_pem_host() as base:
            inbound.verify(_delivery(ADOBE_PLACED), _credentials(base), NOW)

    def test_the_production_key_host_is_the_default(self) -> None:
        requested: list[str] = []

        class RecordingClient(HttpClient):
            def request(self, method: str, url: str, **_: Any) -> Any:
                requested.append(url)
                raise TransientError("offline")

        with pytest.raises(TransientError):
            MagentoInbound(RecordingClient()).verify(_delivery(ADOBE_PLACED), _credentials(), NOW)
        assert requested[0] == "https://static.adobeioevents.com/prod/keys/pub-key1.pem"


class _PemHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        name = self.path.rsplit("/", 1)[-1]
        body = (EVENTS / "test-keys" / f"adobe-io-{name}").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-pem-file")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


class _plain_pem_host:  # noqa: N801 - used as a context manager
    """Adobe's key host as it really answers: PEM text, not JSON."""

    def __enter__(self) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _PemHandler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class TestAdobeIoHandshake:
    def test_the_registration_challenge_is_echoed(self, inbound: MagentoInbound) -> None:
        request = WebhookRequest(body=b"", method="GET", query={"challenge": "a1b2-c3"})
        assert inbound.handshake(request) == HandshakeReply(status=200, body={"challenge": "a1b2-c3"})

    @pytest.mark.parametrize(
        "request_",
        [
            WebhookRequest(body=b"", method="GET"),
            WebhookRequest(body=b"{}", method="POST", query={"challenge": "a1b2-c3"}),
            WebhookRequest(body=b"", method="GET", query={"challenge": ""}),
        ],
    )
    def test_anything_else_is_no_handshake(self, inbound: MagentoInbound, request_: WebhookRequest) -> None:
        assert inbound.handshake(request_) is None

    @pytest.mark.parametrize("name", [ADOBE_PLACED, MAGEOS_CREATED])
    def test_a_delivery_is_no_handshake(self, inbound: MagentoInbound, name: str) -> None:
        assert inbound.handshake(_delivery(name)) is None


class TestCommerceWebhooks:
    PUBLIC_KEY = (EVENTS / "test-keys" / "commerce-webhooks-public.pem").read_text()

    def test_a_verified_synchronous_hook_is_ignored(self, inbound: MagentoInbound) -> None:
        request = _delivery(COMMERCE_WEBHOOK)
        inbound.verify(request, _credentials(commerce_webhooks_public_key=self.PUBLIC_KEY), NOW)
        event = inbound.read(request, STORE)
        assert event.ignore_reason is not None
        assert "not used for intake" in event.ignore_reason
        assert event.order is None
        assert not event.needs_fetch
        assert event.event_id == "b7f2010b-9c8d-5b8c-b779-0b0a63e6ee74"

    def test_without_a_configured_key_it_is_refused(self, inbound: MagentoInbound) -> None:
        with pytest.raises(InvalidSignature):
            inbound.verify(_delivery(COMMERCE_WEBHOOK), _credentials(), NOW)

    def test_a_changed_body_is_refused(self, inbound: MagentoInbound) -> None:
        request = _delivery(COMMERCE_WEBHOOK, _flip_one_byte(_body(COMMERCE_WEBHOOK)))
        with pytest.raises(InvalidSignature):
            inbound.verify(request, _credentials(commerce_webhooks_public_key=self.PUBLIC_KEY), NOW)

    def test_a_delivery_with_no_signature_header_at_all_is_refused(self, inbound: MagentoInbound) -> None:
        with pytest.raises(InvalidSignature):
            inbound.verify(WebhookRequest(body=_body(MAGEOS_CREATED)), _credentials(), NOW)


class TestMageOsOrder:
    def test_a_new_order_is_read_whole_and_identified_by_entity_id(self) -> None:
        event = _read(_delivery(MAGEOS_CREATED))
        assert event.order is not None
        order = event.order
        assert (event.platform, event.topic, event.external_order_id) == ("magento", "sales.order", "318")
        assert event.event_id is None  # Mage-OS sends none: snapshots are ordered by updated_at
        assert event.store_identity is None
        assert not event.needs_fetch
        assert event.ignore_reason is None
        assert (order.store_id, order.platform, order.external_id, order.number) == (
            "kaffeekontor-mage",
            "magento",
            "318",
            "000000318",
        )
        assert order.platform_refs == {"increment_id": "000000318"}

    def test_a_configurable_product_is_one_line_with_the_parents_price(self) -> None:
        order = _read(_delivery(MAGEOS_CREATED)).order
        assert order is not None
        assert order.lines == (
            LineItem(line_id="9001", sku="MUG-CC-BLU", name="Café Crème Mug", quantity=2, unit_price=_gbp(1200)),
            LineItem(
                line_id="9002",
                sku="TEE-ORG-M-GRN",
                name="Organic Cotton T-Shirt „Kiefer“",
                quantity=1,
                unit_price=_gbp(2500),
            ),
            LineItem(
                line_id="9004", sku="TORCH-CB-01", name="Crème Brûlée Torch 🔥", quantity=1, unit_price=_gbp(3600)
            ),
        )

    def test_money_is_exact_and_adds_up(self) -> None:
        order = _read(_delivery(MAGEOS_CREATED)).order
        assert order is not None
        totals = order.totals
        assert (totals.items, totals.shipping, totals.tax, totals.discount, totals.grand_total) == (
            _gbp(8500),
            _gbp(495),
            _gbp(1799),
            _gbp(0),
            _gbp(10794),
        )
        lines = sum((line.subtotal for line in order.lines), _gbp(0))
        assert lines + totals.shipping + totals.tax - totals.discount == totals.grand_total

    def test_addresses_come_from_billing_and_the_first_shipping_assignment(self) -> None:
        order = _read(_delivery(MAGEOS_CREATED)).order
        assert order is not None
        expected = Address(
            name="Siobhán Ní Bhriain",
            lines=("Flat 2, 14 Mare Street", "Hackney"),
            city="London",
            region="Greater London",
            postal_code="E8 3RL",
            country="GB",
            phone="+44 20 7946 0018",
        )
        assert order.shipping_address == expected
        assert order.billing_address == expected
        assert order.customer.email == "siobhan.nibhriain@example.co.uk"
        assert order.customer.name == "Siobhán Ní Bhriain"
        assert order.customer.external_id is None  # a guest

    def test_the_shipping_address_is_the_assignments_not_the_billing(self) -> None:
        data = _order_data()
        address = data["extension_attributes"]["shipping_assignments"][0]["shipping"]["address"]
        address.update(street=["Unit 4", "Canal Yard", ""], city="Leeds", country_id="gb", company="Kiefer Ltd")
        order = _read(_mageos(data)).order
        assert order is not None
        assert order.shipping_address.lines == ("Unit 4", "Canal Yard")
        assert (order.shipping_address.city, order.shipping_address.country) == ("Leeds", "GB")
        assert order.shipping_address.company == "Kiefer Ltd"
        assert order.billing_address.city == "London"

    def test_a_virtual_order_ships_to_its_billing_address(self) -> None:
        data = _order_data()
        del data["extension_attributes"]["shipping_assignments"]
        order = _read(_mageos(data)).order
        assert order is not None
        assert order.shipping_address == order.billing_address

    def test_times_are_utc_and_updated_at_orders_snapshots(self) -> None:
        created = _read(_delivery(MAGEOS_CREATED)).order
        invoiced = _read(_delivery(MAGEOS_INVOICED)).order
        assert created is not None
        assert invoiced is not None
        assert created.placed_at == datetime(2025, 6, 3, 12, 21, 7, tzinfo=UTC)
        assert created.source_modified_at == datetime(2025, 6, 3, 12, 21, 8, tzinfo=UTC)
        assert invoiced.source_modified_at == datetime(2025, 6, 4, 9, 12, 40, tzinfo=UTC)

    def test_amounts_sent_as_strings_are_read_exactly(self) -> None:
        data = _order_data()
        data.update(grand_total="107.9400", tax_amount="17.9900", discount_amount="-10.0000")
        data["items"][0]["price"] = "12.0000"
        order = _read(_mageos(data)).order
        assert order is not None
        assert order.totals.grand_total == _gbp(10794)
        assert order.totals.discount == _gbp(1000)  # Magento's discount is negative; ours is what was taken off
        assert order.lines[0].unit_price == _gbp(1200)


class TestConfigurableAndBundleItems:
    def test_a_configurable_parent_takes_its_childs_sku(self) -> None:
        data = _order_data()
        data["items"][1]["sku"] = "TEE-ORG"  # the configurable's own SKU; the child is what is picked
        order = _read(_mageos(data)).order
        assert order is not None
        assert [(line.line_id, line.sku, line.unit_price) for line in order.lines][1] == (
            "9002",
            "TEE-ORG-M-GRN",
            _gbp(2500),
        )

    def test_bundle_children_fold_into_the_bundle_line(self) -> None:
        data = _order_data()
        data["items"][1].update(product_type="bundle", sku="GIFT-BOX")
        order = _read(_mageos(data)).order
        assert order is not None
        assert [line.sku for line in order.lines] == ["MUG-CC-BLU", "GIFT-BOX", "TORCH-CB-01"]

    def test_a_child_without_its_parent_is_a_line_of_its_own(self) -> None:
        data = _order_data()
        del data["items"][1]
        data["items"][1]["price"] = 25.0
        order = _read(_mageos(data)).order
        assert order is not None
        assert [line.line_id for line in order.lines] == ["9001", "9003", "9004"]

    def test_whole_quantities_sent_as_decimals_are_read(self) -> None:
        data = _order_data()
        data["items"][0]["qty_ordered"] = "2.0000"
        order = _read(_mageos(data)).order
        assert order is not None
        assert order.lines[0].quantity == 2


class TestPaymentState:
    @pytest.mark.parametrize(
        ("state", "paid", "cancelled"),
        [
            ("new", False, False),
            ("pending_payment", False, False),
            ("payment_review", False, False),
            ("holded", False, False),
            ("processing", True, False),
            ("complete", True, False),
            ("canceled", False, True),
        ],
    )
    def test_paid_and_cancelled_are_read_from_the_state(self, state: str, paid: bool, cancelled: bool) -> None:
        data = _order_data()
        data["state"], data["status"] = state, "some_merchant_status"
        order = _read(_mageos(data)).order
        assert order is not None
        assert (order.paid, order.cancelled, order.refunded) == (paid, cancelled, None)

    @pytest.mark.parametrize(
        ("name", "paid", "cancelled"),
        [(MAGEOS_CREATED, False, False), (MAGEOS_INVOICED, True, False), (MAGEOS_CANCELED, False, True)],
    )
    def test_the_recorded_deliveries(self, name: str, paid: bool, cancelled: bool) -> None:
        order = _read(_delivery(name)).order
        assert order is not None
        assert (order.paid, order.cancelled) == (paid, cancelled)

    def test_an_authorize_only_order_in_processing_is_not_paid(self) -> None:
        # payment_action "authorize": the order is placed in processing with nothing invoiced or paid.
        data = _order_data()
        data.update(state="processing", status="processing", total_paid=None, base_total_paid=None)
        data.update(total_due=107.94, base_total_due=107.94, total_invoiced=None)
        order = _read(_mageos(data)).order
        assert order is not None
        assert (order.paid, order.cancelled) == (False, False)

    def test_an_order_shipped_before_it_is_invoiced_is_not_paid(self) -> None:
        data = _order_data()
        data.update(total_due=107.94, base_total_due=107.94, total_paid=0.0, total_invoiced=0.0)
        for item in data["items"]:
            item["qty_shipped"] = item["qty_ordered"]
        order = _read(_mageos(data)).order
        assert order is not None and not order.paid

    @pytest.mark.parametrize(
        ("fields", "paid"),
        [
            ({"total_due": 0.0}, True),
            ({"total_due": None, "base_total_due": 0.0}, True),
            ({"total_due": None, "base_total_due": None, "total_paid": 107.94}, True),
            ({"total_due": None, "base_total_due": None, "total_paid": 50.0}, False),
            ({"total_due": None, "base_total_due": None, "total_paid": None}, False),  # nothing says it is paid
        ],
    )
    def test_paid_is_nothing_left_due(self, fields: dict[str, Any], paid: bool) -> None:
        data = _order_data()
        data.update(fields)
        order = _read(_mageos(data)).order
        assert order is not None and order.paid is paid

    def test_a_closed_order_is_refunded_and_if_unshipped_cancelled(self) -> None:
        data = _order_data()
        data.update(state="closed", status="closed", total_refunded=107.94)
        order = _read(_mageos(data)).order
        assert order is not None
        assert (order.paid, order.cancelled, order.refunded) == (False, True, _gbp(10794))

    def test_a_closed_order_that_shipped_is_refunded_not_cancelled(self) -> None:
        data = _order_data()
        data.update(state="closed", status="closed", total_refunded=107.94)
        for item in data["items"]:
            item["qty_shipped"] = item["qty_ordered"]
        order = _read(_mageos(data)).order
        assert order is not None
        assert (order.paid, order.cancelled, order.refunded) == (False, False, _gbp(10794))

    def test_a_partial_refund_keeps_the_order_paid(self) -> None:
        data = _order_data()
        data["total_refunded"] = 14.4
        order = _read(_mageos(data)).order
        assert order is not None
        assert (order.paid, order.cancelled, order.refunded) == (True, False, _gbp(1440))

    def test_nothing_refunded_is_no_refund(self) -> None:
        data = _order_data()
        data["total_refunded"] = 0.0
        order = _read(_mageos(data)).order
        assert order is not None
        assert order.refunded is None


class TestMageOsOrderDocuments:
    def test_a_credit_memo_asks_for_its_order_to_be_fetched(self) -> None:
        event = _read(_delivery(MAGEOS_CREDITMEMO))
        assert (event.topic, event.external_order_id, event.needs_fetch) == ("sales.creditmemo", "318", True)
        assert event.order is None
        assert event.event_id is None

    def test_an_invoice_asks_for_its_order_to_be_fetched(self) -> None:
        event = _read(_mageos({"entity_id": 88, "order_id": 318, "can_void_flag": False, "grand_total": 107.94}))
        assert (event.topic, event.external_order_id, event.needs_fetch) == ("sales.invoice", "318", True)

    def test_an_entity_that_is_no_order_is_ignored(self) -> None:
        event = _read(_mageos({"entity_id": 12, "email": "someone@example.com", "firstname": "Some"}))
        assert event.ignore_reason is not None
        assert event.order is None
        assert not event.needs_fetch


class TestMalformedMageOs:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"not json", "not JSON"),
            (b"[1, 2]", "not a JSON object"),
            (b'{"order": {}}', '"data"'),
            (b'{"data": "318"}', '"data"'),
        ],
    )
    def test_a_body_that_is_no_event_is_refused(self, body: bytes, message: str) -> None:
        with pytest.raises(MalformedPayload, match=message):
            _read(WebhookRequest(body=body, headers={"x-magento-signature": "00"}))

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (lambda d: d.pop("state"), "state"),
            (lambda d: d.update(grand_total="12,50"), "not an amount"),
            (lambda d: d.update(order_currency_code="pounds"), "currency"),
            (lambda d: d["items"][0].update(qty_ordered=1.5), "whole positive quantity"),
            (lambda d: d.update(created_at="yesterday"), "created_at"),
            (lambda d: d.update(entity_id="318; DROP"), "entity id"),
            (lambda d: d.update(entity_id="३१८"), "entity id"),  # digits, but not ASCII ones
        ],
    )
    def test_an_order_that_cannot_be_read_names_what_is_wrong(self, change: Any, message: str) -> None:
        data = _order_data()
        change(data)
        with pytest.raises(MalformedPayload, match=message):
            _read(_mageos(data))

    def test_a_credit_memo_with_a_bad_order_id_is_refused(self) -> None:
        with pytest.raises(MalformedPayload, match="order_id"):
            _read(_mageos({"entity_id": 27, "order_id": "../318", "adjustment_positive": 0}))


class TestAdobeIoEvents:
    def test_a_thin_order_event_asks_for_the_order_to_be_fetched(self) -> None:
        event = _read(_delivery(ADOBE_PLACED))
        assert event == InboundEvent(
            platform="magento",
            topic="observer.sales_order_save_after",
            external_order_id="318",
            event_id="5104fa12-1df4-5987-aabe-b84dc57c4bf5",
            store_identity="kaffeekontor.production",
            needs_fetch=True,
        )

    def test_a_retried_event_keeps_its_event_id(self) -> None:
        event = _read(_delivery(ADOBE_CANCELED))
        assert (event.event_id, event.external_order_id, event.needs_fetch) == (
            "7bcb4003-7883-5f45-acf1-9ff642d6c2b0",
            "318",
            True,
        )

    def test_without_the_header_the_event_id_comes_from_the_body(self) -> None:
        event = _read(_delivery(ADOBE_PLACED, x_adobe_event_id=None))
        assert event.event_id == "5104fa12-1df4-5987-aabe-b84dc57c4bf5"

    def test_an_event_carrying_the_whole_order_is_read_like_mage_os(self) -> None:
        value = _stringly(_order_data())
        event = _read(_adobe({"key": "k", "value": value, "source": "kaffeekontor.production"}))
        expected = _read(_delivery(MAGEOS_INVOICED)).order
        assert event.order == expected
        assert (event.external_order_id, event.needs_fetch) == ("318", False)

    def test_an_order_whose_fields_name_no_amount_due_is_fetched(self) -> None:
        value = _stringly(_order_data())
        for field in ("total_due", "base_total_due", "total_paid"):
            value.pop(field, None)
        event = _read(_adobe({"value": value}))
        assert (event.order, event.needs_fetch, event.external_order_id) == (None, True, "318")

    def test_an_order_with_fields_we_cannot_map_is_fetched(self) -> None:
        value = _order_data()
        value["items"][0]["qty_ordered"] = 0.5
        event = _read(_adobe({"value": value}))
        assert (event.order, event.needs_fetch, event.external_order_id) == (None, True, "318")

    def test_an_order_document_event_fetches_its_order(self) -> None:
        event = _read(
            _adobe(
                {"value": {"entity_id": "88", "order_id": "318"}}, "com.adobe.commerce.observer.sales_order_invoice_pay"
            )
        )
        assert (event.topic, event.external_order_id, event.needs_fetch) == (
            "observer.sales_order_invoice_pay",
            "318",
            True,
        )

    def test_an_event_about_something_else_is_ignored(self) -> None:
        event = _read(_adobe({"value": {"entity_id": "5"}}, "com.adobe.commerce.observer.catalog_product_save_after"))
        assert event.ignore_reason == "event observer.catalog_product_save_after is not about orders"
        assert event.event_id == "evt-1"

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"not json", "not an Adobe I/O event"),
            (b'{"type": "com.adobe.commerce.observer.sales_order_save_after"}', "data"),
            (b'{"type": "com.adobe.commerce.observer.sales_order_save_after", "data": {"value": {}}}', "entity_id"),
        ],
    )
    def test_a_malformed_event_is_refused(self, body: bytes, message: str) -> None:
        with pytest.raises(MalformedPayload, match=message):
            _read(WebhookRequest(body=body, headers={"x-adobe-digital-signature-1": "x"}))


class TestBuild:
    def test_build_offers_intake_source_and_write_back(self) -> None:
        adapters = build(HttpClient())
        assert adapters.inbound.name == "magento"
        assert adapters.source is not None
        assert adapters.write_back is not None


def _adobe(
    data: dict[str, Any], event_type: str = "com.adobe.commerce.observer.sales_order_save_after"
) -> WebhookRequest:
    body = json.dumps({"specversion": "1.0", "id": "evt-1", "type": event_type, "data": data}).encode()
    return WebhookRequest(body=body, headers={"x-adobe-digital-signature-1": "unchecked-by-read"})


def _stringly(data: dict[str, Any]) -> dict[str, Any]:
    """Scalars as Adobe I/O sends stored values: ids and amounts as strings ("107.9400")."""
    copied = copy.deepcopy(data)
    for key in ("entity_id", "grand_total", "subtotal", "tax_amount", "shipping_amount", "discount_amount"):
        if copied.get(key) is not None:
            copied[key] = f"{copied[key]:.4f}" if isinstance(copied[key], float) else str(copied[key])
    for item in copied["items"]:
        item.update(
            item_id=str(item["item_id"]), price=f"{item['price']:.4f}", qty_ordered=f"{item['qty_ordered']:.4f}"
        )
    return copied


def _gbp(minor: int) -> Money:
    return Money(minor=minor, currency="GBP")
