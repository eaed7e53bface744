"""A 3,000-line order against a 3-line one through the local runtime: time per step, and the ratio.

Each order is a paid WooCommerce order (``local.client.woocommerce_order_of_lines``) sent over HTTP and run to
COMPLETED by the local runtime; every Lambda invocation is timed in-process (moto's own work on the calls
included, as ``bench/cost.py`` does). Prints, per function, the milliseconds each order took and the ratio
large/small, and writes ``bench/results/large_order.json``. A reading, not a gate: the exit code is non-zero
only when an order did not complete.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "domain")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=3_000)
    args = parser.parse_args()

    from fulfillment.bootstrap import container
    from fulfillment.model import OrderStatus
    from local.client import send_woocommerce, woocommerce_order_of_lines
    from local.runtime import LocalRuntime, RuntimeConfig
    from local.simulators import SimulatorConfig

    config = RuntimeConfig.on_free_ports(simulators=SimulatorConfig(in_transit_after=0.2, delivered_after=0.6))
    template = (ROOT / "events" / "woocommerce" / "order_updated_paid.json").read_bytes()
    spent: dict[str, Counter[str]] = {}
    with LocalRuntime(config) as runtime:
        current: list[Counter[str]] = []
        for function in runtime.functions.values():
            original = function.invoke

            def timed(event: Any, _original: Any = original, _name: str = function.spec.logical_id) -> Any:
                started = time.perf_counter()
                try:
                    return _original(event)
                finally:
                    if current:
                        current[0][_name] += round((time.perf_counter() - started) * 1000)

            function.invoke = timed  # type: ignore[method-assign]
        for sku in ("MUG-CC-BLU", "TEE-ORG-M-GRN", "TORCH-CB-01"):
            container().inventory.restock("main", sku, args.lines + 10)
        for label, lines, order_id in (("small", 3, 810_001), ("large", args.lines, 810_002)):
            body = re.sub(rb'^\{"id":\d+', f'{{"id":{order_id}'.encode(), woocommerce_order_of_lines(template, lines))
            current[:] = [Counter()]
            spent[label] = current[0]
            started = time.perf_counter()
            answer = send_woocommerce(runtime.api_url, "kaffeekontor", body, "test-secret")
            assert answer.status == 202, answer.body
            execution = runtime.wait_for_execution(f"kaffeekontor_{order_id}", timeout=900)
            spent[label]["(whole execution, wall)"] = round((time.perf_counter() - started) * 1000)
            order = container().orders.get(f"kaffeekontor:{order_id}")
            if execution["status"] != "SUCCEEDED" or order is None or order.status is not OrderStatus.COMPLETED:
                print(f"{label}: {execution['status']}, {order.status if order else 'no order'}", file=sys.stderr)
                return 1
            print(f"{label}: {lines} lines, {len(body)} bytes, COMPLETED", flush=True)
    rows = sorted(set(spent["small"]) | set(spent["large"]))
    print(f"{'function':40} {'3 lines ms':>10} {f'{args.lines} lines ms':>14} {'ratio':>7}")
    report = {}
    for name in rows:
        small, large = spent["small"][name], spent["large"][name]
        ratio = large / small if small else float("inf")
        report[name] = {"small_ms": small, "large_ms": large, "ratio": round(ratio, 1)}
        print(f"{name:40} {small:>10} {large:>14} {ratio:>7.1f}")
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "large_order.json").write_text(json.dumps({"lines": args.lines, "functions": report}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
