"""The OpenCart extension signs what our verifier accepts: fixed vectors, the shipped PHP, and openssl agree."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fulfillment.adapters.platforms.opencart import OpenCartInbound, opencart_signature
from fulfillment.errors import InvalidSignature
from fulfillment.model.store import StoreCredentials, WebhookRequest

ROOT = Path(__file__).resolve().parents[3]
EXTENSION = ROOT / "integrations" / "opencart"
LIBRARY = EXTENSION / "order_webhook" / "system" / "library" / "webhook.php"
VECTORS_PHP = EXTENSION / "tests" / "vectors.php"
EVENTS = ROOT / "events" / "opencart"
PHP = shutil.which("php")
OPENSSL = shutil.which("openssl")
needs_php = pytest.mark.skipif(PHP is None, reason="php is not installed")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")

# What `php integrations/opencart/tests/vectors.php` prints (PHP 8.2), one per line; also computed with
# Python's hmac and with `openssl dgst -sha256 -hmac`. The first is signatures.py's OpenCart vector.
FIXED_VECTORS: list[dict[str, str | int]] = [
    {
        "secret": "test-secret",
        "timestamp": 1748953267,
        "body_base64": "eyJpZCI6MTAwMSwic3RhdHVzIjoicGFpZCIsIm5vdGUiOiJHcsO8w59lIn0=",
        "signature": "dH3gLoyXPUfKxrc7jRlo2IxKUne/jpPS/7QlRF6A6pU=",
    },
    {
        "secret": "test-secret",
        "timestamp": 1749112802,
        "body_base64": "",
        "signature": "Gcsgbu8C3kLRs+TyL/DznS0sn3x3hnMitcqcoIG4yhw=",
    },
    {
        "secret": "s3cr&t; with spaces and €",
        "timestamp": 1700000000,
        "body_base64": "eyJ1cmwiOiJodHRwczpcL1wvc2hvcC5leGFtcGxlXC8iLCJlbW9qaSI6Ilx1ZDgzZFx1ZGQyNSJ9",
        "signature": "cH/ClU/QYiIAgeQUk6qoydvKa0hxx8aa4d6zCrYqsj4=",
    },
    {
        "secret": "a",
        "timestamp": 0,
        "body_base64": "bGluZSBvbmUKbGluZSB0d28K",
        "signature": "I5Zh/4pW+d+n/Rt7st47xzS5JXgs0nWITLNagwimkaE=",
    },
]
SAMPLES = sorted(path for path in EVENTS.glob("0*.json") if not path.name.endswith(".headers.json"))


def _body(vector: dict[str, str | int]) -> bytes:
    return base64.b64decode(str(vector["body_base64"]))


def _signed(vector: dict[str, str | int]) -> WebhookRequest:
    return WebhookRequest(
        body=_body(vector),
        headers={
            "content-type": "application/json",
            "x-oc-webhook-timestamp": str(vector["timestamp"]),
            "x-oc-webhook-signature": str(vector["signature"]),
        },
    )


def _php(*args: str) -> str:
    assert PHP is not None
    return subprocess.run([PHP, str(VECTORS_PHP), *args], capture_output=True, check=True, text=True).stdout


def _headers(sample: Path) -> dict[str, str]:
    return json.loads(sample.with_name(f"{sample.stem}.headers.json").read_text())


class TestTheFixedVectors:
    @pytest.mark.parametrize("vector", FIXED_VECTORS, ids=lambda v: str(v["timestamp"]))
    def test_our_verifier_accepts_each_vector(self, vector: dict[str, str | int]) -> None:
        credentials = StoreCredentials(webhook_secret=str(vector["secret"]))
        OpenCartInbound().verify(_signed(vector), credentials, now=float(vector["timestamp"]))

    @pytest.mark.parametrize("vector", FIXED_VECTORS, ids=lambda v: str(v["timestamp"]))
    def test_our_verifier_refuses_each_vector_under_another_secret(self, vector: dict[str, str | int]) -> None:
        credentials = StoreCredentials(webhook_secret=f"{vector['secret']}x")
        with pytest.raises(InvalidSignature):
            OpenCartInbound().verify(_signed(vector), credentials, now=float(vector["timestamp"]))

    @needs_openssl
    @pytest.mark.parametrize("vector", FIXED_VECTORS, ids=lambda v: str(v["timestamp"]))
    def test_openssl_computes_the_same_signature(self, vector: dict[str, str | int]) -> None:
        assert OPENSSL is not None
        message = f"{vector['timestamp']}.".encode() + _body(vector)
        digest = subprocess.run(
            [OPENSSL, "dgst", "-sha256", "-hmac", str(vector["secret"]), "-binary"],
            input=message,
            capture_output=True,
            check=True,
        ).stdout
        assert base64.b64encode(digest).decode() == vector["signature"]

    def test_the_python_signer_computes_the_same_signatures(self) -> None:
        for vector in FIXED_VECTORS:
            signature = opencart_signature(str(vector["secret"]), str(vector["timestamp"]), _body(vector))
            assert signature == vector["signature"]


class TestThePhpSourceSignsThatWay:
    def test_the_library_signs_timestamp_dot_body_with_raw_hmac_sha256_in_base64(self) -> None:
        source = LIBRARY.read_text()
        assert "return base64_encode(hash_hmac('sha256', $timestamp . '.' . $body, $secret, true));" in source

    def test_the_webhook_signature_and_opencart_41s_api_signature_are_the_only_hmacs_in_the_extension(self) -> None:
        calls = [
            match for path in EXTENSION.rglob("*.php") for match in re.findall(r"hash_hmac\([^;]*;", path.read_text())
        ]
        assert sorted(calls) == [
            "hash_hmac('sha1', $string, $key, true));",
            "hash_hmac('sha256', $timestamp . '.' . $body, $secret, true));",
        ]

    def test_the_sender_signs_with_the_library_at_send_time(self) -> None:
        sender = (EXTENSION / "order_webhook" / "cli" / "send.php").read_text()
        assert "Webhook::headers($secret, $event_id, time(), $body)" in sender

    def test_the_headers_name_id_event_timestamp_and_signature(self) -> None:
        source = LIBRARY.read_text()
        for header in ("X-OC-Webhook-Id", "X-OC-Webhook-Event", "X-OC-Webhook-Timestamp", "X-OC-Webhook-Signature"):
            assert f"'{header}: '" in source

    def test_the_install_names_the_trigger_by_the_running_release(self) -> None:
        admin = (EXTENSION / "order_webhook" / "admin" / "controller" / "module" / "order_webhook.php").read_text()
        assert "'trigger'     => Webhook::historyTrigger($version, $event['when'])" in admin
        assert "foreach (self::events(VERSION) as $code => $event)" in admin
        assert "'action'      => 'extension/order_webhook/module/order_webhook.after'" in admin
        library = LIBRARY.read_text()
        assert "version_compare($version, self::SIGNED_API_SINCE, '>=') ? '.' : '/'" in library
        assert "public const SIGNED_API_SINCE = '4.1.0.0';" in library

    def test_the_history_route_checks_the_41_signature_or_the_402_session(self) -> None:
        controller = (
            EXTENSION / "order_webhook" / "catalog" / "controller" / "module" / "order_webhook.php"
        ).read_text()
        assert "if (!Webhook::usesSignedApi(VERSION)) {" in controller
        assert "$this->model_setting_api->getApiByToken($token)" in controller  # 4.0.2.x
        assert "Webhook::apiSignature(" in controller and "$this->model_user_api->getIps(" in controller  # 4.1

    def test_the_history_route_is_the_one_the_write_back_reads(self) -> None:
        from fulfillment.adapters.platforms.opencart import HISTORY_ROUTE

        module, method = HISTORY_ROUTE.removeprefix("extension/order_webhook/").split(".")
        controller = (EXTENSION / "order_webhook" / "catalog" / "controller" / f"{module}.php").read_text()
        assert f"public function {method}(): void" in controller


# OpenCart 4.1's API signature: this request, signed by the shipped PHP (php vectors.php apisign …), the form
# cleaned as OpenCart's Request does (quotes, <, > and & escaped; trailing blanks trimmed).
API_SIGNATURE_VECTOR = {
    "key": "key",
    "route": "api/order",
    "call": "history_add",
    "username": "fulfillment",
    "host": "shop.example",
    "path": "/",
    "store_id": "0",
    "language": "en-gb",
    "currency": "EUR",
    "time": "1700000000",
    "form": {"order_id": "1207", "comment": 'Shipped "x" <a> & b  ', "notify": "1"},
    "signature": "fr59IDCd69Udd0ZWRI594wZuJQk=",
}


class TestOpenCart41ApiSignature:
    def test_the_python_signer_gives_the_vector_the_php_library_gives(self) -> None:
        from fulfillment.adapters.platforms.opencart import opencart41_signature

        vector = dict(API_SIGNATURE_VECTOR)
        expected, key, form = vector.pop("signature"), vector.pop("key"), vector.pop("form")
        assert opencart41_signature(str(key), form=form, **{k: str(v) for k, v in vector.items()}) == expected  # type: ignore[arg-type]


@needs_php
class TestTheReleaseLines:
    @pytest.mark.parametrize(
        ("version", "when", "trigger"),
        [
            ("4.0.2.0", "after", "catalog/model/checkout/order/addHistory/after"),
            ("4.0.2.3", "before", "catalog/model/checkout/order/addHistory/before"),
            ("4.1.0.0", "after", "catalog/model/checkout/order.addHistory/after"),
            ("4.1.0.4", "before", "catalog/model/checkout/order.addHistory/before"),
        ],
    )
    def test_the_trigger_is_the_one_each_release_fires(self, version: str, when: str, trigger: str) -> None:
        # 4.0.2.x: system/engine/loader.php model() fires 'model/' . $route . '/' . $method; 4.1: callback() fires
        # the route as called, 'model/checkout/order.addHistory'; startup/event.php registers 'catalog/…' triggers.
        assert _php("trigger", version, when).strip() == trigger

    def test_the_shipped_php_signs_41_api_requests_as_the_vector_says(self) -> None:
        v = API_SIGNATURE_VECTOR
        args = [str(v[k]) for k in ("key", "route", "call", "username", "host", "path", "store_id", "language")]
        printed = _php("apisign", *args, str(v["currency"]), str(v["time"]), json.dumps(v["form"]))
        assert printed.strip() == v["signature"]


@needs_php
class TestTheShippedPhp:
    def test_it_prints_the_fixed_vectors(self) -> None:
        printed = [json.loads(line) for line in _php().splitlines()]
        assert printed == FIXED_VECTORS

    @pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem)
    def test_it_signs_each_sample_delivery_as_its_headers_say(self, sample: Path) -> None:
        headers = _headers(sample)
        signature = _php("sign", "test-secret", headers["X-OC-Webhook-Timestamp"], str(sample)).strip()
        assert signature == headers["X-OC-Webhook-Signature"]

    @pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.stem)
    def test_it_encodes_each_sample_envelope_to_exactly_its_bytes(self, sample: Path) -> None:
        assert _php("encode", str(sample)).encode() == sample.read_bytes()

    def test_it_retries_after_doubling_delays_capped_at_six_hours_and_gives_up_after_twelve(self) -> None:
        schedule = json.loads(_php("delays"))
        assert schedule["delays"] == [60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600, 21600, None]
        assert schedule["retry_after_3600"] == 3600
        assert schedule["retry_after_1_day"] == 21600

    @pytest.mark.parametrize(
        "path", sorted(EXTENSION.rglob("*.php")), ids=lambda path: str(path.relative_to(EXTENSION))
    )
    def test_every_php_file_parses(self, path: Path) -> None:
        assert PHP is not None
        subprocess.run([PHP, "-l", str(path)], capture_output=True, check=True)
