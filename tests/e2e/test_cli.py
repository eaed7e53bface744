"""The ``fulfillment`` command line against the local runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fulfillment.bootstrap import container
from fulfillment.model.store import StoreCredentials
from local.client import send_woocommerce
from local.runtime import LocalRuntime
from tests.e2e.conftest import new_order_body

pytestmark = pytest.mark.e2e


def fulfillment(runtime: LocalRuntime, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", "--endpoint-url", runtime.aws_endpoint, "--output", "json", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestStoresRegister:
    def test_a_registered_store_takes_signed_webhooks_at_once(
        self, runtime: LocalRuntime, tmp_path: Path, woo_paid_body: bytes
    ) -> None:
        secret_file = tmp_path / "secret.json"
        secret_file.write_text(
            json.dumps({"webhook_secret": "new-shop-secret", "api_key": "ck_1", "api_secret": "cs_1"})
        )

        done = fulfillment(
            runtime,
            "stores",
            "register",
            "--platform",
            "woocommerce",
            "--store-id",
            "new-shop",
            "--secret-file",
            str(secret_file),
            "--site-url",
            "https://shop.kaffeekontor.example/",
        )

        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["secret_ref"] == "/fulfillment/dev/stores/new-shop/webhook-secret"
        stored = container().secrets.get("/fulfillment/dev/stores/new-shop/webhook-secret")
        assert StoreCredentials.from_secret(stored).api_key == "ck_1"
        body, _ = new_order_body(woo_paid_body)
        answer = send_woocommerce(runtime.api_url, "new-shop", body, "new-shop-secret")
        assert (answer.status, answer.body["outcome"]) == (202, "accepted")

    def test_a_malformed_secret_is_refused_and_nothing_is_registered(self, runtime: LocalRuntime) -> None:
        done = fulfillment(
            runtime,
            "stores",
            "register",
            "--platform",
            "shopify",
            "--store-id",
            "broken",
            "--secret-file",
            "-",
            stdin='{"api_token": "no webhook secret"}',
        )

        assert done.returncode == 1
        assert "webhook_secret" in done.stderr
        listed = json.loads(fulfillment(runtime, "stores", "list").stdout)
        assert "broken" not in {store["store_id"] for store in listed}

    def test_list_shows_stores_without_secrets(self, runtime: LocalRuntime) -> None:
        done = fulfillment(runtime, "stores", "list")

        assert done.returncode == 0
        listed = json.loads(done.stdout)
        assert {"store_id": "kaffeekontor", "platform": "woocommerce"}.items() <= next(
            store for store in listed if store["store_id"] == "kaffeekontor"
        ).items()
        assert "test-secret" not in done.stdout

    def test_without_a_target_it_says_what_to_give(self) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "ops.cli", "stores", "list"],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin", "PYTHONPATH": ":".join(sys.path)},
        )
        assert done.returncode != 0 and "--endpoint-url" in done.stderr
