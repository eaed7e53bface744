"""The ``fulfillment`` command line against the local runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fulfillment.bootstrap import container
from fulfillment.model import OrderStatus, fulfillment_execution_name
from fulfillment.model.store import StoreCredentials
from local.client import send_woocommerce
from local.payment_simulator import intent_id_for
from local.platforms import demo_store, platform_names
from local.runtime import STORES_FILE, LocalRuntime
from local.simulators import SimulatorConfig
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

    def test_a_rotated_store_still_takes_deliveries_signed_with_its_previous_secret(
        self, runtime: LocalRuntime, tmp_path: Path, woo_paid_body: bytes
    ) -> None:
        first, second = tmp_path / "first", tmp_path / "second"
        first.write_text(json.dumps({"webhook_secret": "first-secret", "api_key": "ck_1", "api_secret": "cs_1"}))
        second.write_text("second-secret")
        registered = fulfillment(
            runtime, "stores", "register", "--platform", "woocommerce", "--store-id", "rotating-shop",
            "--secret-file", str(first), "--site-url", "https://shop.kaffeekontor.example/",
        )  # fmt: skip
        assert registered.returncode == 0, registered.stderr
        body, _ = new_order_body(woo_paid_body)
        assert send_woocommerce(runtime.api_url, "rotating-shop", body, "first-secret").status == 202

        done = fulfillment(
            runtime, "stores", "rotate-secret", "--store-id", "rotating-shop", "--secret-file", str(second),
            "--previous-valid-hours", "2",
        )  # fmt: skip

        assert done.returncode == 0, done.stderr
        assert set(json.loads(done.stdout)) >= {"previous_valid_until", "switch_store_after"}
        ssm = container().client("ssm")  # not the cached secrets: they hold the first secret for their age
        value = ssm.get_parameter(Name="/fulfillment/dev/stores/rotating-shop/webhook-secret", WithDecryption=True)
        stored = StoreCredentials.from_secret(value["Parameter"]["Value"])
        assert (stored.webhook_secret, stored.previous_webhook_secret) == ("second-secret", "first-secret")
        assert stored.api_key == "ck_1"  # a bare secret rotates only the webhook secret
        body, _ = new_order_body(woo_paid_body)
        answer = send_woocommerce(runtime.api_url, "rotating-shop", body, "first-secret")
        assert (answer.status, answer.body["outcome"]) == (202, "accepted")
        again = fulfillment(
            runtime, "stores", "rotate-secret", "--store-id", "rotating-shop", "--secret-file", str(second)
        )
        assert again.returncode == 1  # the same secret again: nothing to rotate

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


class TestOrdersRerun:
    """A lost parcel fails the order (label cancelled, payment given back or nothing to give back, store told)."""

    def lost(self, runtime: LocalRuntime, simulators: SimulatorConfig, body: bytes, key: str) -> None:
        simulators.delivery = "lost"
        assert send_woocommerce(runtime.api_url, "kaffeekontor", body, "test-secret").status == 202
        assert runtime.wait_for_execution(_execution_name(key), timeout=120)["status"] == "FAILED"
        simulators.delivery = "delivered"  # the cause, fixed

    def test_a_failed_order_is_reopened_and_completes_with_one_active_label(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        body, key = new_order_body(woo_paid_body)
        self.lost(runtime, simulators, body, key)

        done = fulfillment(runtime, "orders", "rerun", key, "--reason", "parcel found to be lost", "--by", "ops")

        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert (result["action"], result["attempt"]) == ("reopened", 1)
        assert result["execution_name"] == f"{_execution_name(key)}-rerun1"
        assert runtime.wait_for_execution(result["execution_name"], timeout=120)["status"] == "SUCCEEDED"
        order = container().orders.get(key)
        assert order is not None and (order.status, order.attempt) == (OrderStatus.COMPLETED, 1)
        assert runtime.easypost is not None
        # the lost parcel's label was used (not refunded); the new attempt bought its own
        first, again = runtime.easypost.shipments_for(key), runtime.easypost.shipments_for(f"{key}:a1")
        assert (len(first), len(again)) == (1, 1) and first[0]["id"] not in runtime.easypost.refunds
        assert order.tracking_number == again[0]["tracking_code"] != first[0]["tracking_code"]
        shown = json.loads(fulfillment(runtime, "orders", "show", key).stdout)
        assert sorted(e["status"] for e in shown["executions"]) == ["FAILED", "SUCCEEDED"]  # newest first

        again = fulfillment(runtime, "orders", "rerun", key)
        assert again.returncode == 1 and json.loads(again.stdout)["error"] == "rerun_refused"

    def test_an_authorization_voided_when_it_failed_is_refused_with_a_reason(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, woo_paid_body: bytes
    ) -> None:
        body, key = new_order_body(woo_paid_body)
        body = body.replace(b'"payment_method":"bacs"', b'"payment_method":"authorized"')
        body = body.replace(b'"transaction_id":""', f'"transaction_id":"{intent_id_for(key)}"'.encode())
        assert runtime.payments is not None
        runtime.payments.authorize(key, 10_000)
        self.lost(runtime, simulators, body, key)

        refused = fulfillment(runtime, "orders", "rerun", key)

        assert refused.returncode == 1
        reason = json.loads(refused.stdout)
        assert reason["error"] == "rerun_refused" and "pay again" in reason["message"]
        order = container().orders.get(key)
        assert order is not None and order.status is OrderStatus.FAILED


class TestOrdersList:
    """A quiet store's orders are found however many newer orders other stores have (the filter is in the query)."""

    @pytest.fixture
    def quiet_shop(self, runtime: LocalRuntime) -> str:
        demo = next(entry for entry in json.loads(STORES_FILE.read_text()) if entry["store_id"] == "kaffeekontor")
        runtime.register_store({**demo, "store_id": "quiet-shop", "webhook_secret": "quiet-secret"})
        return "quiet-shop"

    def send(self, runtime: LocalRuntime, template: bytes, store_id: str) -> str:
        body, key = new_order_body(template)
        secret = "quiet-secret" if store_id == "quiet-shop" else "test-secret"
        assert send_woocommerce(runtime.api_url, store_id, body, secret).status == 202
        return key.replace("kaffeekontor:", f"{store_id}:")

    def test_a_store_is_listed_under_newer_orders_of_others_and_without_a_status_in_any(
        self, runtime: LocalRuntime, quiet_shop: str, woo_pending_body: bytes, woo_paid_body: bytes
    ) -> None:
        pending = self.send(runtime, woo_pending_body, quiet_shop)
        for _ in range(3):
            self.send(runtime, woo_pending_body, "kaffeekontor")

        in_status = fulfillment(
            runtime, "orders", "list", "--status", "PENDING_PAYMENT", "--store", quiet_shop, "--limit", "2"
        )
        paid = self.send(runtime, woo_paid_body, quiet_shop)
        assert runtime.wait_for_execution(_execution_name(paid), timeout=120)["status"] == "SUCCEEDED"
        any_status = fulfillment(runtime, "orders", "list", "--store", quiet_shop)
        newest = fulfillment(runtime, "orders", "list", "--limit", "2")

        assert in_status.returncode == 0, in_status.stderr
        assert [row["order_key"] for row in json.loads(in_status.stdout)] == [pending]
        assert any_status.returncode == 0, any_status.stderr
        assert [(row["order_key"], row["status"]) for row in json.loads(any_status.stdout)] == [
            (paid, "COMPLETED"),  # changed last
            (pending, "PENDING_PAYMENT"),
        ]
        assert newest.returncode == 0 and len(json.loads(newest.stdout)) == 2

    def test_a_limit_below_one_is_bad_usage(self, runtime: LocalRuntime) -> None:
        done = fulfillment(runtime, "orders", "list", "--limit", "0")

        assert done.returncode == 2 and "at least 1" in done.stderr

    def test_rerun_by_status_takes_the_named_stores_failed_orders_under_newer_ones(
        self, runtime: LocalRuntime, simulators: SimulatorConfig, quiet_shop: str, woo_paid_body: bytes
    ) -> None:
        simulators.delivery = "lost"
        quiet = self.send(runtime, woo_paid_body, quiet_shop)
        assert runtime.wait_for_execution(_execution_name(quiet), timeout=120)["status"] == "FAILED"
        newer = self.send(runtime, woo_paid_body, "kaffeekontor")
        assert runtime.wait_for_execution(_execution_name(newer), timeout=120)["status"] == "FAILED"
        simulators.delivery = "delivered"  # the cause, fixed

        done = fulfillment(
            runtime, "orders", "rerun", "--status", "FAILED", "--store", quiet_shop, "--limit", "1", "--by", "ops"
        )

        assert done.returncode == 0, done.stderr
        (result,) = json.loads(done.stdout)
        assert (result["order_key"], result["action"]) == (quiet, "reopened")
        assert runtime.wait_for_execution(result["execution_name"], timeout=120)["status"] == "SUCCEEDED"
        other = container().orders.get(newer)
        assert other is not None and other.status is OrderStatus.FAILED


def _execution_name(key: str) -> str:
    store_id, external_id = key.split(":", 1)
    return fulfillment_execution_name(store_id, external_id)


class TestWebhooksReplay:
    def test_a_kept_delivery_records_an_order_deleted_from_the_table_again(
        self, runtime: LocalRuntime, woo_pending_body: bytes
    ) -> None:
        body, key = new_order_body(woo_pending_body)  # pending: no execution runs while the order is gone
        assert send_woocommerce(runtime.api_url, "kaffeekontor", body, "test-secret").status == 202
        external_id = key.split(":", 1)[1]

        listed = fulfillment(runtime, "webhooks", "list", "--store", "kaffeekontor", "--order", key)
        assert listed.returncode == 0, listed.stderr
        (kept,) = json.loads(listed.stdout)
        assert (kept["order"], kept["platform"], kept["bytes"]) == (external_id, "woocommerce", len(body))
        deps = container()
        table, dynamodb = deps.settings.table_name, deps.client("dynamodb")
        items = dynamodb.query(
            TableName=table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"ORDER#{key}"}},
        )["Items"]
        for item in items:  # the order and its timeline, gone
            dynamodb.delete_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]})
        assert deps.orders.get(key) is None

        replayed = fulfillment(runtime, "webhooks", "replay", "kaffeekontor", kept["delivery_id"])

        assert replayed.returncode == 0, replayed.stderr
        answer = json.loads(replayed.stdout)
        assert (answer["outcome"], answer["order_key"], answer["status"], answer["duplicate"]) == (
            "accepted",
            key,
            "PENDING_PAYMENT",
            False,
        )
        order = deps.orders.get(key)
        assert order is not None and order.status is OrderStatus.PENDING_PAYMENT
        again = json.loads(fulfillment(runtime, "webhooks", "replay", "kaffeekontor", kept["delivery_id"]).stdout)
        assert again["duplicate"]  # the order as stored is no older than the delivery: nothing changes

        unknown = fulfillment(runtime, "webhooks", "replay", "kaffeekontor", "sha256-not-kept")
        assert unknown.returncode == 1 and json.loads(unknown.stdout)["error"] == "delivery_not_found"


@pytest.mark.parametrize("platform", platform_names())
def test_stores_check_calls_every_demo_stores_platform_and_finds_nothing_missing(
    runtime: LocalRuntime, platform: str
) -> None:
    done = fulfillment(runtime, "stores", "check", "--store-id", demo_store(platform))

    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {
        "store_id": demo_store(platform),
        "platform": platform,
        "ok": True,
        "findings": [],
    }


def test_stores_check_says_what_is_missing_and_exits_1(runtime: LocalRuntime) -> None:
    runtime.register_store(  # the demo Magento shop, but only the access token: refused as a Bearer token
        {
            "platform": "magento",
            "store_id": "bearer-only",
            "webhook_secret": "test-secret",
            "platform_store_id": "kaffeekontor.production",
            "api": {"api_base_url": "{stub}", "api_token": "magento-demo-token"},
        }
    )
    done = fulfillment(runtime, "stores", "check", "--store-id", "bearer-only")

    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False and "enable_integration_as_bearer" in report["findings"][0]
