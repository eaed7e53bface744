"""Cost per order on the happy path: N WooCommerce orders through the local runtime, metered.

Per order it reports Step Functions state transitions (from the execution histories), Lambda
invocations and billed milliseconds (every in-process invocation timed, rounded up to 1 ms and
billed at the function's memory from template.yaml), DynamoDB read and write request units
(computed from every request's item sizes the way on-demand tables bill them: 1 KB per write unit,
4 KB per strongly consistent read, transactions twice), SQS requests and API Gateway requests —
and what that costs per 1,000 orders at us-east-1 list prices (below; 2026 price pages).

Local Lambda durations include moto's own work inside each call, so billed milliseconds are an
upper bound of what AWS would bill; transitions, invocations and request units are exact counts.

    python bench/cost.py --orders 20
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "domain")]

PRICES = {  # us-east-1, USD
    "state_transition": 0.025 / 1000,  # Step Functions Standard
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second_arm64": 0.0000133334,
    "dynamodb_write_unit": 0.625 / 1_000_000,  # on-demand
    "dynamodb_read_unit": 0.125 / 1_000_000,
    "sqs_fifo_request": 0.50 / 1_000_000,
    "http_api_request": 1.00 / 1_000_000,
}
TARGET_PER_1000 = 0.40


class Meter:
    """Counts AWS requests as the handlers make them (botocore hooks registered before any session exists)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.write_units = 0.0
        self.read_units = 0.0
        self.sqs_requests = 0
        self.calls: Counter[str] = Counter()

    @staticmethod
    def _size(item: dict[str, Any] | None) -> int:
        return len(json.dumps(item or {}, separators=(",", ":")).encode())

    def before_call(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        body = params.get("body") or b"{}"
        try:
            request = json.loads(body) if isinstance(body, (bytes, str)) and body else {}
        except ValueError:
            request = {}
        service, name = model.service_model.service_name, model.name
        with self.lock:
            self.calls[f"{service}.{name}"] += 1
            if service == "sqs":
                self.sqs_requests += 1
            if service != "dynamodb":
                return
            if name in ("PutItem", "UpdateItem", "DeleteItem"):
                self.write_units += max(1, math.ceil(self._size(request.get("Item") or request.get("Key")) / 1024))
            elif name == "TransactWriteItems":
                for entry in request.get("TransactItems", []):
                    operation = next(iter(entry.values()))
                    self.write_units += 2 * max(
                        1, math.ceil(self._size(operation.get("Item") or operation.get("Key")) / 1024)
                    )

    def after_call(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        if model.service_model.service_name != "dynamodb":
            return
        items = [parsed["Item"]] if "Item" in parsed else parsed.get("Items", [])
        size = sum(self._size(item) for item in items)
        with self.lock:
            self.read_units += max(1, math.ceil(size / 4096)) if model.name in ("GetItem", "Query", "Scan") else 0


def report(
    n: int,
    transitions: int,
    invocations: dict[str, int],
    billed_ms: Counter[str],
    memory: dict[str, int],
    meter: Meter,
    http_requests: int,
) -> None:
    # The bench's own reads (wait_for_execution, history, the final get) are not the pipeline's: subtract them.
    own_reads = n  # one consistent GetItem per order above
    per_order = {
        "state_transitions": transitions / n,
        "lambda_invocations": sum(invocations.values()) / n,
        "lambda_billed_ms": sum(billed_ms.values()) / n,
        "lambda_gb_seconds": sum(ms / 1000 * memory[name] / 1024 for name, ms in billed_ms.items()) / n,
        "dynamodb_write_units": meter.write_units / n,
        "dynamodb_read_units": max(0.0, meter.read_units - own_reads) / n,
        "sqs_requests": meter.sqs_requests / n,
        "http_api_requests": http_requests / n,
    }
    cost = {
        "step_functions": per_order["state_transitions"] * PRICES["state_transition"],
        "lambda": per_order["lambda_invocations"] * PRICES["lambda_request"]
        + per_order["lambda_gb_seconds"] * PRICES["lambda_gb_second_arm64"],
        "dynamodb": per_order["dynamodb_write_units"] * PRICES["dynamodb_write_unit"]
        + per_order["dynamodb_read_units"] * PRICES["dynamodb_read_unit"],
        "sqs": per_order["sqs_requests"] * PRICES["sqs_fifo_request"],
        "api_gateway": per_order["http_api_requests"] * PRICES["http_api_request"],
    }
    per_1000 = {name: value * 1000 for name, value in cost.items()}
    total = sum(per_1000.values())
    print(f"{n} orders, happy path (WooCommerce, prepaid), all COMPLETED")
    for name, value in per_order.items():
        print(f"  {name:<22} {value:10.2f} per order")
    print(
        "  invocations by function: "
        + ", ".join(f"{k.removesuffix('Function')}={v / n:.1f}" for k, v in sorted(invocations.items()) if v)
    )
    print(
        "  billed ms by function: "
        + ", ".join(f"{k.removesuffix('Function')}={v / n:.0f}" for k, v in billed_ms.most_common() if v)
    )
    print("  AWS calls per order: " + ", ".join(f"{k}={v / n:.1f}" for k, v in meter.calls.most_common()))
    for name, value in per_1000.items():
        print(f"  ${value:8.4f} per 1,000 orders  {name}")
    verdict = "PASS" if total <= TARGET_PER_1000 else "FAIL"
    print(f"cost: ${total:.4f} per 1,000 orders (target <= ${TARGET_PER_1000:.2f}) {verdict}")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "cost.json").write_text(
        json.dumps(
            {
                "orders": n,
                "per_order": per_order,
                "per_1000_usd": per_1000,
                "total_per_1000_usd": total,
                "prices": PRICES,
            },
            indent=2,
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20)
    args = parser.parse_args()

    meter = Meter()
    import botocore.handlers

    botocore.handlers.BUILTIN_HANDLERS.extend([("before-call", meter.before_call), ("after-call", meter.after_call)])

    from fulfillment.bootstrap import container
    from fulfillment.model import OrderStatus, fulfillment_execution_name
    from local.client import send_woocommerce
    from local.runtime import LocalRuntime, RuntimeConfig
    from local.simulators import SimulatorConfig
    from local.template import LocalTemplate

    config = RuntimeConfig.on_free_ports(simulators=SimulatorConfig(in_transit_after=0.2, delivered_after=0.6))
    memory = {name: spec.memory for name, spec in LocalTemplate(ROOT).functions().items()}
    body = (ROOT / "events" / "woocommerce" / "order_updated_paid.json").read_bytes()
    with LocalRuntime(config) as runtime:
        billed_ms: Counter[str] = Counter()
        for function in runtime.functions.values():
            original = function.invoke

            def timed(event: Any, _original: Any = original, _name: str = function.spec.logical_id) -> Any:
                started = time.perf_counter()
                try:
                    return _original(event)
                finally:
                    billed_ms[_name] += math.ceil((time.perf_counter() - started) * 1000)

            function.invoke = timed  # type: ignore[method-assign]
        # The start sweep is a per-stack cost (every 5 minutes on AWS: 288 small queries a day), not a per-order
        # one; locally it runs every few seconds and would be counted against the orders.
        for schedule in runtime.schedules:
            schedule.stop()
        before_invocations = {name: f.invocations for name, f in runtime.functions.items()}
        meter.write_units = meter.read_units = 0
        meter.sqs_requests = 0
        meter.calls.clear()
        http_requests = 0
        transitions = 0
        # One order at a time: in-process, concurrent invocations share two cores and one interpreter lock, so
        # their wall-clock durations (what Lambda bills) grow with the concurrency; on AWS each has its own sandbox.
        for number in range(args.orders):
            order_body = re.sub(rb'^\{"id":\d+', f'{{"id":{700000 + number}'.encode(), body)
            answer = send_woocommerce(runtime.api_url, "kaffeekontor", order_body, "test-secret")
            http_requests += 1
            key = str(answer.body["order_key"])
            store_id, external_id = key.split(":", 1)
            execution = runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=180)
            assert execution["status"] == "SUCCEEDED", execution["status"]
            history = runtime.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])
            transitions += sum(1 for event in history["events"] if event["type"].endswith("StateEntered"))
            order = container().orders.get(key)
            assert order is not None and order.status is OrderStatus.COMPLETED
        time.sleep(3)  # let the write-back worker drain the outbox
        assert runtime.easypost is not None and runtime.warehouse is not None
        # Each tracker event EasyPost posts to our route and each warehouse callback is one API request (a
        # post the stub retried counts once: on AWS it is the same delivery).
        http_requests += len(runtime.easypost.events) + len(runtime.warehouse.callbacks)
        invocations = {name: f.invocations - before_invocations[name] for name, f in runtime.functions.items()}

    report(args.orders, transitions, invocations, billed_ms, memory, meter, http_requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
