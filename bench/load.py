"""Load through the local runtime: N paid WooCommerce orders, each delivered K times at once by C clients.

Prints completed orders per second, intake latency (p50/p99), the process's resident memory (start, peak, end),
and the counts that must be exact whatever the load: per order one execution, one label bought, one payment
captured, one stock reservation (and the stock it took), and no order ending other than COMPLETED. Exits non-zero
if a count is wrong or an order did not complete; the timings are readings for this machine, not a verdict.

    python bench/load.py --orders 200 --deliveries 2 --clients 16
    python bench/load.py --orders 200 --start-quota 50:10   # StartExecution as a token bucket: burst 50, 10/s

``--start-quota BURST:RATE`` emulates Step Functions' StartExecution quota (a token bucket: 1,300 burst and 300/s
refill in the big regions) at a size a laptop can reach: a call finding the bucket empty gets the
``ThrottlingException`` AWS answers, as the SDK would raise it once its own retries are spent, so the run shows
whether a burst over the quota is absorbed. Everything listens on 127.0.0.1; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "domain")]

STORE, SECRET = "kaffeekontor", "test-secret"
FIRST_ORDER_ID = 800000


class StartQuota:
    """A token bucket on ``StartExecution`` (a botocore ``before-call`` hook, registered before any session)."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.lock = threading.Lock()
        self.throttled = 0

    def before_call(self, params: dict[str, Any], **_: Any) -> Any:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
            self.throttled += 1
        from botocore.awsrequest import AWSResponse, HTTPHeaders

        error = {"Code": "ThrottlingException", "Message": "Rate exceeded"}
        return AWSResponse(params.get("url", ""), 400, HTTPHeaders(), None), {
            "Error": error,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }


class MemoryWatch:
    """Resident memory of this process, sampled every ``interval`` s (the runtime, its moto and its Lambdas)."""

    def __init__(self, interval: float = 1.0) -> None:
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name="memory-watch", daemon=True)

    @staticmethod
    def rss_mb() -> float:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
        return pages * resource.getpagesize() / 2**20

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.samples.append((time.monotonic(), int(self.rss_mb())))

    def start(self) -> MemoryWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def on_hand(level: Any) -> int:
    return int(level.on_hand) if level is not None else 0


def order_status_of(orders: Any, key: str) -> str:
    order = orders.get(key)
    return str(order.status) if order else "MISSING"


def explain(sfn: Any, execution_arn: str) -> list[str]:
    """Why an order did not complete: the states it went through and every failure or timeout on the way."""
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    path: list[str] = []
    for event in events:
        if event["type"].endswith("StateEntered"):
            path.append(f"{event['timestamp']:%H:%M:%S.%f} {event['stateEnteredEventDetails']['name']}")
        for details in ("taskFailedEventDetails", "taskTimedOutEventDetails", "lambdaFunctionFailedEventDetails"):
            if details in event:
                path.append(
                    f"  !{event['type']}: {event[details].get('error')} {str(event[details].get('cause'))[:200]}"
                )
    return path


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def print_report(report: dict[str, Any], why: dict[str, list[str]]) -> None:
    print(
        f"{report['orders']} orders x {report['deliveries_per_order']} concurrent deliveries, "
        f"{report['clients']} clients"
    )
    print(f"  completed            {report['completed']}/{report['orders']}  {report['order_status']}")
    print(f"  throughput           {report['completed_per_second']:.2f} completed orders/s")
    print(f"  intake latency       p50 {report['intake_p50_ms']:.0f} ms, p99 {report['intake_p99_ms']:.0f} ms")
    print(f"  answers              {report['answers']}")
    print(
        f"  resident memory      start {report['rss_start_mb']} MB, peak {report['rss_peak_mb']} MB, "
        f"end {report['rss_end_mb']} MB ({report['rss_growth_kb_per_order']} KB per order)"
    )
    if len(report["rounds"]) > 1:
        print(
            "  after each round     " + ", ".join(f"{r['orders']} orders: {r['rss_mb']} MB" for r in report["rounds"])
        )
    if report["idle_seconds"]:
        idle = report["rounds"][-1]
        print(f"  after {report['idle_seconds']:.0f} s idle       {idle['rss_mb']} MB, {idle['threads']} threads")
    print(f"  lambda timeouts      {report['lambda_timeouts'] or 0}")
    tracker = report["tracker_events"]
    print(
        f"  tracker events       {tracker['posted']} posted by the EasyPost stub, answers {tracker['answers']}, "
        f"{tracker['retried']} retried; posted -> answered p50 {tracker['answer_p50_s']} s, "
        f"p99 {tracker['answer_p99_s']} s"
    )
    if report["start_throttled"] is not None:
        print(f"  StartExecution       {report['start_throttled']} calls throttled ({report['start_quota']})")
    for name in ("executions", "labels", "captures", "reservations"):
        print(f"  {name + ' per order':<20} {report[name + '_per_order']}  (count: orders)")
    for key, path in why.items():
        print(f"  not completed: {key}")
        for step in path:
            print(f"      {step}")
    for check, ok in report["checks"].items():
        print(f"  {'ok  ' if ok else 'FAIL'} {check}")


def tracker_lines(easypost: Any, key: str) -> list[str]:
    """Each tracker event the EasyPost stub posted for one order's parcels: when, what, and how it was answered."""
    shipments = {shipment["id"] for shipment in easypost.shipments_for(key)}
    return [
        f"  tracker: {time.strftime('%H:%M:%S', time.gmtime(e['posted']))} {e['event']['result']['status']}"
        f" answered {e['answer']} after {e['answered'] - e['posted']:.1f} s, {e['retries']} retries"
        for e in easypost.events
        if e["event"]["result"].get("shipment_id") in shipments
    ]


def main() -> int:  # noqa: PLR0915 - one linear script: start, send, wait, count, report
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--deliveries", type=int, default=2, help="deliveries of each order, sent at once")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients (at least --deliveries)")
    parser.add_argument("--start-quota", default="", help="BURST:RATE token bucket on StartExecution")
    parser.add_argument("--rounds", type=int, default=1, help="send the orders in this many successive rounds")
    parser.add_argument("--idle", type=float, default=0, help="seconds to leave the runtime idle after the orders")
    parser.add_argument("--payment", default="cod", help="the orders' WooCommerce payment_method (gateway id)")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds to wait for every order to end")
    parser.add_argument("--min-wait", type=float, default=600, help="no scaled wait or heartbeat times out sooner")
    args = parser.parse_args()
    if args.clients < args.deliveries:
        parser.error("--clients must be at least --deliveries: an order's deliveries are sent at the same time")

    quota = None
    if args.start_quota:
        burst, rate = args.start_quota.split(":")
        quota = StartQuota(int(burst), float(rate))
        import botocore.handlers

        botocore.handlers.BUILTIN_HANDLERS.append(("before-call.stepfunctions.StartExecution", quota.before_call))

    from fulfillment.adapters.inventory_dynamodb import DynamoInventory
    from fulfillment.bootstrap import container
    from fulfillment.model import fulfillment_execution_name
    from local.client import send_woocommerce
    from local.runtime import LocalRuntime, RuntimeConfig
    from local.simulators import SimulatorConfig

    # Every order arrives within a few minutes, far more than one local process serves at once: callbacks queue
    # for minutes, so no wait may time out sooner (the runtime's 60 s floor is for tests and the demo). A load
    # that cannot be served at all still shows: --timeout ends the run and the orders left are reported.
    config = RuntimeConfig.on_free_ports(
        simulators=SimulatorConfig(in_transit_after=0.2, delivered_after=0.6), min_timeout_seconds=args.min_wait
    )
    # Cash on delivery: the money moves through the local payment gateway (collected once, at delivery), so the
    # bench counts it; the sample's bank transfer was paid before the order reached us.
    template = re.sub(
        rb'"payment_method":\s*"[^"]*"',
        f'"payment_method":"{args.payment}"'.encode(),
        (ROOT / "events" / "woocommerce" / "order_updated_paid.json").read_bytes(),
    )
    sample = json.loads(template)
    ordered = Counter({line["sku"]: int(line["quantity"]) for line in sample["line_items"]})
    memory = MemoryWatch()
    with LocalRuntime(config) as runtime:
        sfn = runtime.client("stepfunctions")
        warehouse_name = config.simulators.warehouse_name
        inventory = DynamoInventory(os.environ["TABLE_NAME"], runtime.client("dynamodb"), warehouse_name)
        stock_before = {sku: inventory.level(warehouse_name, sku) for sku in ordered}
        for sku, level in stock_before.items():  # enough stock for every order: the bench measures load, not stock-outs
            missing = args.orders * ordered[sku] - (level.available if level else 0)
            if missing > 0:
                inventory.restock(warehouse_name, sku, missing)
        stock_before = {sku: inventory.level(warehouse_name, sku) for sku in ordered}
        rss_start = memory.rss_mb()
        memory.start()

        keys = [f"{STORE}:{FIRST_ORDER_ID + n}" for n in range(args.orders)]
        bodies = [
            re.sub(rb'^\{"id":\d+', f'{{"id":{FIRST_ORDER_ID + n}'.encode(), template) for n in range(args.orders)
        ]
        together = [threading.Barrier(args.deliveries, timeout=120) for _ in keys]
        latencies: list[float] = []
        answers: Counter[int] = Counter()
        lock = threading.Lock()

        def deliver(n: int) -> None:
            together[n].wait()  # the K deliveries of an order leave at the same moment
            started = time.perf_counter()
            try:
                status = send_woocommerce(runtime.api_url, STORE, bodies[n], SECRET).status
            except OSError:
                status = 0
            with lock:
                latencies.append(time.perf_counter() - started)
                answers[status] += 1

        arn = runtime.state_machine_arn
        names = {fulfillment_execution_name(*key.split(":", 1)): key for key in keys}

        def ended_executions(wanted: set[str], deadline: float) -> list[dict[str, Any]]:
            """The executions of these names once none is RUNNING (or at the deadline)."""
            while True:
                found = [
                    execution
                    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn)
                    for execution in page["executions"]
                    if execution["name"] in wanted
                ]
                running = sum(1 for execution in found if execution["status"] == "RUNNING")
                if (len({e["name"] for e in found}) == len(wanted) and not running) or time.monotonic() > deadline:
                    return found
                time.sleep(2)

        began = time.monotonic()
        deadline = began + args.timeout
        rounds: list[dict[str, Any]] = []
        size = -(-args.orders // args.rounds)
        for first in range(0, args.orders, size):
            batch = range(first, min(args.orders, first + size))
            with ThreadPoolExecutor(max_workers=args.clients, thread_name_prefix="store") as pool:
                # An order's deliveries are queued next to each other, so C >= K workers pick them up together.
                for _ in pool.map(deliver, [n for n in batch for _ in range(args.deliveries)]):
                    pass
            executions = ended_executions(
                {name for name, key in names.items() if key in {keys[n] for n in batch}}, deadline
            )
            rounds.append({"orders": batch.stop, "rss_mb": round(memory.rss_mb()), "threads": threading.active_count()})
        executions = ended_executions(set(names), deadline)
        if args.idle:  # the runtime left alone (pollers, schedules, parked timers): its memory must not creep
            time.sleep(args.idle)
            rounds.append(
                {"orders": args.orders, "rss_mb": round(memory.rss_mb()), "threads": threading.active_count()}
            )
        ended = time.monotonic()
        memory.stop()
        rss_end = memory.rss_mb()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        per_order_executions = Counter(names[e["name"]] for e in executions)
        statuses = Counter(e["status"] for e in executions)
        orders = container().orders
        order_status = Counter(order_status_of(orders, key) for key in keys)
        assert runtime.easypost is not None and runtime.payments is not None and runtime.warehouse is not None
        easypost = runtime.easypost
        # labels bought at the EasyPost stub, per order (its shipments are referenced "<order>:p<n>")
        labels = Counter({key: sum(1 for s in easypost.shipments_for(key) if s["postage_label"]) for key in keys})
        # A capture is a charge at the Stripe stub; cash on delivery moves no money at Stripe (the carrier took it),
        # so it counts once it is recorded on the order.
        captures = Counter(
            key for key in keys for charge in runtime.payments.charges_for(key) if charge.kind == "capture"
        ) + Counter(key for key in keys if (found := orders.get(key)) is not None and found.payment.collected)
        reservations = Counter(
            key for key in keys if (held := inventory.reservation(key)) is not None and held.status == "consumed"
        )
        stock_after = {sku: inventory.level(warehouse_name, sku) for sku in ordered}
        stock_taken = {sku: on_hand(stock_before[sku]) - on_hand(level) for sku, level in stock_after.items()}
        waits = sorted(e["answered"] - e["posted"] for e in easypost.events)
        tracker_summary = {
            "posted": len(easypost.events),
            "answers": dict(Counter(str(e["answer"]) for e in easypost.events)),
            "retried": sum(1 for e in easypost.events if e["retries"]),
            "answer_p50_s": round(percentile(waits, 0.5), 2),
            "answer_p99_s": round(percentile(waits, 0.99), 2),
            "answer_max_s": round(max(waits, default=0.0), 2),
        }
        timeouts = {name: f.timeouts for name, f in runtime.functions.items() if f.timeouts}
        why = {
            key: explain(sfn, execution["executionArn"])
            + [
                f"  timeline: {event.at:%H:%M:%S.%f} {event.status or ''} {event.reason}"
                for event in orders.timeline(key)
            ]
            + [f"  warehouse: {call}" for call in runtime.warehouse.callbacks if call.get("order_key") == key]
            + tracker_lines(easypost, key)
            for execution in executions
            if order_status_of(orders, key := names[execution["name"]]) != "COMPLETED"
        }

    completed = order_status.get("COMPLETED", 0)
    last_stop = max((e["stopDate"].timestamp() for e in executions if e.get("stopDate")), default=0.0)
    first_start = min((e["startDate"].timestamp() for e in executions), default=0.0)
    checks = {
        "every order COMPLETED": completed == args.orders,
        "one execution per order": all(per_order_executions[key] == 1 for key in keys),
        "one label per order": all(labels[key] == 1 for key in keys) and sum(labels.values()) == args.orders,
        "one capture (or cash collection) per order": all(captures[key] == 1 for key in keys),
        "one reservation per order, consumed": all(reservations[key] == 1 for key in keys),
        "stock taken once per order": all(stock_taken[sku] == args.orders * ordered[sku] for sku in ordered),
        "every delivery answered 2xx": sum(n for code, n in answers.items() if 200 <= code < 300)
        == args.orders * args.deliveries,
    }
    report = {
        "orders": args.orders,
        "deliveries_per_order": args.deliveries,
        "clients": args.clients,
        "completed": completed,
        "order_status": dict(order_status),
        "execution_status": dict(statuses),
        "completed_per_second": completed / max(1e-9, last_stop - first_start) if last_stop else 0.0,
        "wall_seconds": ended - began,
        "rounds": rounds,
        "intake_p50_ms": 1000 * percentile(latencies, 0.5),
        "intake_p99_ms": 1000 * percentile(latencies, 0.99),
        "intake_mean_ms": 1000 * statistics.fmean(latencies) if latencies else 0.0,
        "answers": {str(code): n for code, n in sorted(answers.items())},
        "rss_start_mb": round(rss_start),
        "rss_end_mb": round(rss_end),
        "rss_peak_mb": round(peak),
        "rss_growth_kb_per_order": round(1024 * (rss_end - rss_start) / args.orders, 1),
        "lambda_timeouts": timeouts,
        "start_throttled": quota.throttled if quota else None,
        "start_quota": f"bucket {quota.burst} + {quota.rate}/s" if quota else None,
        "idle_seconds": args.idle,
        "executions_per_order": dict(Counter(per_order_executions[key] for key in keys)),
        "labels_per_order": dict(Counter(labels[key] for key in keys)),
        "captures_per_order": dict(Counter(captures[key] for key in keys)),
        "reservations_per_order": dict(Counter(reservations[key] for key in keys)),
        "stock_taken": stock_taken,
        "tracker_events": tracker_summary,
        "checks": checks,
    }
    print_report(report, why)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "load.json").write_text(json.dumps(report, indent=2, default=str))
    verdict = all(checks.values())
    print(f"load: {completed}/{args.orders} COMPLETED, exact counts {'PASS' if verdict else 'FAIL'}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
