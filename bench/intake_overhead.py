"""Intake cost per webhook, in-process, as a ratio to its floor: the AWS SDK calls it must make, made alone.

Both sides run against the same in-process moto (``mock_aws``) in the same run, interleaved in rounds:

- handler: ``functions/intake_webhook/app.py`` ``lambda_handler`` with a real API Gateway HTTP API v2 event,
  a fresh WooCommerce order per webhook, in a warm container (store registry and secret already cached);
- floor: DynamoDB GetItem + TransactWriteItems (the same order and event items the handler writes, re-keyed)
  + Step Functions StartExecution, with plain boto3 clients, for other new orders.

ratio = median handler ms per webhook / median floor ms per webhook; target <= 1.5.
Run: ``TZ=UTC .venv/bin/python bench/intake_overhead.py [--rounds 20 --per-round 25 --profile N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import itertools
import json
import os
import pstats
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "layers" / "domain"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

RESULT_FILE = ROOT / "bench" / "results" / "intake_overhead.json"
SAMPLE = ROOT / "events" / "woocommerce" / "order_updated_paid.json"
SAMPLE_ID = b'"id":4711,'
STORE_ID, SECRET, REGION = "kaffeekontor", "test-secret", "us-east-1"
TARGET = 1.5
CAPTURE_ID = 987_654_321  # the warm-up order whose TransactWriteItems the floor replays, re-keyed
HANDLER_IDS, FLOOR_IDS = 1_000_000, 2_000_000  # disjoint: every delivery, on either side, is a new order

Call = tuple[str, str]  # (service, operation) as botocore names them in its events
Run = tuple[list[float], list[Any]]


def woo_body(order_id: int) -> bytes:
    raw = SAMPLE.read_bytes()
    assert SAMPLE_ID in raw, f"{SAMPLE} no longer starts with {SAMPLE_ID!r}"
    return raw.replace(SAMPLE_ID, f'"id":{order_id},'.encode(), 1)


def count_calls(clients: list[Any]) -> Counter[Call]:
    """Count every API call the clients make (``before-call.<service>.<Operation>``)."""
    calls: Counter[Call] = Counter()

    def on_call(event_name: str, **_: Any) -> None:
        _event, service_name, operation = event_name.split(".")
        calls[service_name, operation] += 1

    for client in clients:
        client.meta.events.register("before-call", on_call)
    return calls


def per_webhook(calls: Counter[Call], webhooks: int) -> dict[str, float]:
    return {f"{service}.{operation}": n / webhooks for (service, operation), n in sorted(calls.items())}


def set_environment() -> dict[str, str]:
    """Fake credentials, then the intake's environment exactly as template.yaml gives it."""
    from local.template import LocalTemplate

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here; Powertools disables it off Lambda anyway
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    env = LocalTemplate(ROOT).functions()["IntakeWebhookFunction"].environment
    os.environ.update(env)
    return env


def provision(env: dict[str, str]) -> None:
    """Inside mock_aws: the table and state machine from template.yaml, the store's secret and registry entry."""
    import boto3

    from fulfillment.adapters.dynamodb import DynamoStoreRegistry
    from fulfillment.model.store import Store
    from local.template import ACCOUNT, LocalTemplate

    template = LocalTemplate(ROOT)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table_keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    for table in template.tables():
        props = template.resolve(table.properties)
        dynamodb.create_table(TableName=table.logical_id, **{k: props[k] for k in table_keys if k in props})
    arns = {}
    for machine in template.state_machines():  # fulfillment, and returns (store-reported returns start one)
        created = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name=machine.name,
            definition=json.dumps(machine.definition),
            type=machine.type,  # type: ignore[arg-type]  # the template's Type: STANDARD or EXPRESS
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/bench",
        )
        arns[machine.logical_id] = created["stateMachineArn"]
    assert arns["FulfillmentStateMachine"] == env["STATE_MACHINE_ARN"], arns
    ref = f"/fulfillment/{env['STAGE']}/stores/{STORE_ID}/webhook-secret"
    boto3.client("ssm", region_name=REGION).put_parameter(Name=ref, Value=SECRET, Type="SecureString")
    store = Store(store_id=STORE_ID, platform="woocommerce", secret_ref=ref, name="Kaffeekontor")
    DynamoStoreRegistry(env["TABLE_NAME"], dynamodb).put(store)


class Handler:
    """The intake Lambda in a warm container: real v2 events, a fake context, the Container passed as deps."""

    def __init__(self, env: dict[str, str]) -> None:
        import importlib

        from fulfillment.bootstrap import Container
        from fulfillment.settings import Settings
        from local.template import LocalTemplate

        self._app = importlib.import_module("functions.intake_webhook.app")
        spec = LocalTemplate(ROOT).functions()["IntakeWebhookFunction"]
        self._spec, self._route = spec, spec.routes[0]
        self.deps = Container(
            settings=Settings(
                table_name=env["TABLE_NAME"], state_machine_arn=env["STATE_MACHINE_ARN"], stage=env["STAGE"]
            )
        )
        # Warm for the whole run: on a slow machine the run outlasts the registry's 60 s cache, and its one refresh
        # would be a GetItem the floor never makes (the refresh is amortised over a minute of webhooks on Lambda).
        from fulfillment.adapters.dynamodb import DynamoStoreRegistry

        self.deps.__dict__["stores"] = DynamoStoreRegistry(
            env["TABLE_NAME"], self.deps.client("dynamodb"), ttl_seconds=24 * 3600
        )
        self.calls = count_calls([self.deps.client(name) for name in ("dynamodb", "ssm", "stepfunctions")])

    def request(self, order_id: int) -> tuple[dict[str, Any], Any]:
        """What API Gateway and the Lambda runtime hand the function: built before timing, not timed."""
        from local.client import woocommerce_headers
        from local.lambdas import LambdaContext
        from local.runtime import http_api_event

        body = woo_body(order_id)
        path = f"/webhooks/woocommerce/{STORE_ID}"
        params = self._route.match("POST", path) or {}
        headers = woocommerce_headers(body, SECRET)
        event = http_api_event(self._route, "POST", path, "", headers, body, params, "203.0.113.42")
        context = LambdaContext(
            function_name=self._spec.logical_id,
            memory_limit_in_mb=self._spec.memory,
            invoked_function_arn=self._spec.arn,
            aws_request_id=str(uuid.uuid4()),
            deadline=time.monotonic() + 3600,
        )
        return event, context

    def __call__(self, request: tuple[dict[str, Any], Any]) -> dict[str, Any]:
        response: dict[str, Any] = self._app.lambda_handler(*request, deps=self.deps)
        return response


class Floor:
    """The same SDK calls, alone, on plain boto3 clients. Requests are built before timing."""

    def __init__(self, env: dict[str, str], captured: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
        import boto3

        transact_items, kept_delivery = captured
        self._table, self._arn = env["TABLE_NAME"], env["STATE_MACHINE_ARN"]
        self._template = json.dumps(transact_items)
        self._kept = json.dumps(kept_delivery)
        self._dynamodb = boto3.client("dynamodb", region_name=REGION)
        self._sfn = boto3.client("stepfunctions", region_name=REGION)
        self.calls = count_calls([self._dynamodb, self._sfn])

    def request(self, order_id: int) -> dict[str, Any]:
        key = f"{STORE_ID}:{order_id}"
        return {
            "key": {"PK": {"S": f"ORDER#{key}"}, "SK": {"S": "ORDER"}},
            "items": json.loads(self._template.replace(str(CAPTURE_ID), str(order_id))),
            "name": f"{STORE_ID}-{order_id}",
            "input": json.dumps({"order_key": key}),
            "kept": json.loads(self._kept.replace(str(CAPTURE_ID), str(order_id))),
        }

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        found = self._dynamodb.get_item(TableName=self._table, Key=request["key"], ConsistentRead=True)
        assert "Item" not in found
        self._dynamodb.put_item(TableName=self._table, Item=request["kept"])  # the verified delivery, kept
        self._dynamodb.transact_write_items(TransactItems=request["items"])
        started = self._sfn.start_execution(stateMachineArn=self._arn, name=request["name"], input=request["input"])
        return dict(started)


def capture_transact_items(handler: Handler, forget: Forget) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One warm-up webhook through the handler, keeping the TransactItems and the kept-delivery item it writes
    for the floor to replay."""
    captured: list[list[dict[str, Any]]] = []
    kept: list[dict[str, Any]] = []
    client = handler.deps.client("dynamodb")

    def keep(params: dict[str, Any], **_: Any) -> None:
        captured.append(json.loads(json.dumps(params["TransactItems"])))

    def keep_item(params: dict[str, Any], **_: Any) -> None:
        kept.append(json.loads(json.dumps(params["Item"])))

    client.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", keep)
    client.meta.events.register("before-parameter-build.dynamodb.PutItem", keep_item)
    response = handler(handler.request(CAPTURE_ID))
    client.meta.events.unregister("before-parameter-build.dynamodb.TransactWriteItems", keep)
    client.meta.events.unregister("before-parameter-build.dynamodb.PutItem", keep_item)
    assert response["statusCode"] == 202, response
    forget(CAPTURE_ID)
    (items,) = captured
    (delivery,) = kept
    return items, delivery


class Forget:
    """Delete what one webhook wrote, untimed. moto's TransactWriteItems deep-copies the whole table, so every
    webhook, on either side, must meet the same table (just the store) or its cost grows with the run."""

    def __init__(self, table: str) -> None:
        import boto3

        self._table = table
        self._client = boto3.client("dynamodb", region_name=REGION)  # not counted

    def __call__(self, order_id: int) -> None:
        for sk in ("ORDER", "EVENT#00000001"):
            key = {"PK": {"S": f"ORDER#{STORE_ID}:{order_id}"}, "SK": {"S": sk}}
            deleted = self._client.delete_item(TableName=self._table, Key=key, ReturnValues="ALL_OLD")
            assert "Attributes" in deleted, f"the webhook for order {order_id} did not write {sk}"
        kept = self._client.query(
            TableName=self._table,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"WEBHOOK#{STORE_ID}"}},
        )["Items"]
        for item in kept:
            self._client.delete_item(TableName=self._table, Key={"PK": item["PK"], "SK": item["SK"]})


class Side(Protocol):
    calls: Counter[Call]

    def request(self, order_id: int) -> Any: ...

    def __call__(self, request: Any) -> Any: ...


def run(side: Side, ids: Iterator[int], size: int, forget: Forget, profiler: cProfile.Profile | None = None) -> Run:
    """``size`` webhooks, each timed alone; requests are built before and rows forgotten after, untimed."""
    batch = [(order_id, side.request(order_id)) for order_id in itertools.islice(ids, size)]
    samples, results = [], []
    for order_id, request in batch:
        if profiler:
            profiler.enable()
        start = time.perf_counter()
        results.append(side(request))
        samples.append((time.perf_counter() - start) * 1000)
        if profiler:
            profiler.disable()
        forget(order_id)
    return samples, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=25, help="webhooks per side per round")
    parser.add_argument("--warmup", type=int, default=10, help="untimed webhooks per side first")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="then cProfile N handler webhooks")
    args = parser.parse_args()

    env = set_environment()
    from moto import mock_aws

    samples: dict[str, list[float]] = {"handler": [], "floor": []}
    responses: list[dict[str, Any]] = []
    # Metrics prints one EMF line per invocation to stdout, as on Lambda: send them nowhere.
    with mock_aws(), Path(os.devnull).open("w") as devnull, contextlib.redirect_stdout(devnull):
        provision(env)
        forget = Forget(env["TABLE_NAME"])
        handler = Handler(env)
        floor = Floor(env, capture_transact_items(handler, forget))  # also fills the warm container's caches
        sides: dict[str, tuple[Side, Iterator[int]]] = {
            "handler": (handler, itertools.count(HANDLER_IDS)),
            "floor": (floor, itertools.count(FLOOR_IDS)),
        }
        for side, ids in sides.values():
            run(side, ids, args.warmup, forget)
            side.calls.clear()
        for round_ in range(args.rounds):
            for name in ("handler", "floor") if round_ % 2 == 0 else ("floor", "handler"):
                took, results = run(*sides[name], args.per_round, forget)
                samples[name] += took
                responses += results if name == "handler" else []
        webhooks = args.rounds * args.per_round
        calls = {name: per_webhook(side.calls, webhooks) for name, (side, _) in sides.items()}
        if args.profile:
            profiler = cProfile.Profile()
            run(*sides["handler"], args.profile, forget, profiler)

    statuses = Counter(response["statusCode"] for response in responses)
    started = sum(json.loads(response["body"])["fulfillment_started"] for response in responses)
    assert statuses == {202: webhooks} and started == webhooks, (statuses, started)
    assert calls["handler"] == calls["floor"], f"the floor must make exactly the handler's SDK calls: {calls}"

    handler_ms, floor_ms = statistics.median(samples["handler"]), statistics.median(samples["floor"])
    ratio = handler_ms / floor_ms
    result = {
        "benchmark": "intake_overhead",
        "ratio": round(ratio, 3),
        "target": TARGET,
        "passed": ratio <= TARGET,
        "handler_median_ms": round(handler_ms, 3),
        "floor_median_ms": round(floor_ms, 3),
        "overhead_ms": round(handler_ms - floor_ms, 3),
        "handler_quartiles_ms": [round(q, 3) for q in statistics.quantiles(samples["handler"], n=4)],
        "floor_quartiles_ms": [round(q, 3) for q in statistics.quantiles(samples["floor"], n=4)],
        "webhooks_per_side": webhooks,
        "rounds": args.rounds,
        "sdk_calls_per_webhook": calls,
        "python": sys.version.split()[0],
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULT_FILE.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    if args.profile:
        print(f"cProfile of {args.profile} handler webhooks (cumulative):")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    print(f"{webhooks} new paid orders per side, {args.rounds} interleaved rounds; every handler answer 202, started")
    for name in ("handler", "floor"):
        listed = " ".join(f"{call}={n:g}" for call, n in calls[name].items())
        q1, q2, q3 = result[f"{name}_quartiles_ms"]
        print(f"{name:8} {q2:7.2f} ms/webhook (p25 {q1:.2f}, p75 {q3:.2f})  SDK calls/webhook: {listed}")
    print(
        f"intake_overhead: handler {handler_ms:.2f} ms / floor {floor_ms:.2f} ms per webhook = ratio {ratio:.2f} "
        f"(target <= {TARGET}) {'PASS' if result['passed'] else 'FAIL'}  -> {RESULT_FILE.relative_to(ROOT)}"
    )
    return 0  # a verdict, not a gate: only a broken run (a failed check) exits non-zero


if __name__ == "__main__":
    sys.exit(main())
