"""`make demo`: one WooCommerce order from checkout to Completed on the local runtime, printed."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

from local.client import WOO_SAMPLES, send_woocommerce
from local.runtime import LocalRuntime

DEMO_STORE = "kaffeekontor"
DEMO_SECRET = "test-secret"  # noqa: S105 - the local demo store's key (local/stores.json)


def run_demo(runtime: LocalRuntime, out: Any = sys.stdout) -> str:
    """Returns the order's final status."""

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    created = (WOO_SAMPLES / "order_created_pending.json").read_bytes()
    paid = (WOO_SAMPLES / "order_updated_paid.json").read_bytes()
    say(f"Local runtime: HTTP API {runtime.api_url}, AWS endpoint {runtime.aws_endpoint}\n")

    say("1. WooCommerce sends order.created (status pending: not paid yet)")
    answer = send_woocommerce(runtime.api_url, DEMO_STORE, created, DEMO_SECRET, topic="order.created")
    say(f"   -> {answer.status} {json.dumps(answer.body)}")
    say("2. WooCommerce sends order.updated (status processing: paid)")
    answer = send_woocommerce(runtime.api_url, DEMO_STORE, paid, DEMO_SECRET)
    say(f"   -> {answer.status} {json.dumps(answer.body)}")
    say("3. The same delivery again (a duplicate changes nothing)")
    duplicate = send_woocommerce(runtime.api_url, DEMO_STORE, paid, DEMO_SECRET)
    say(f"   -> {duplicate.status} {json.dumps(duplicate.body)}")
    forged = send_woocommerce(runtime.api_url, DEMO_STORE, paid, "not-the-secret")
    say(f"4. A forged delivery -> {forged.status} {json.dumps(forged.body)}\n")

    execution = runtime.wait_for_execution(str(answer.body["execution_name"]), timeout=120)
    order_key = str(answer.body["order_key"])
    say(f"Execution {execution['name']}: {execution['status']}")
    print_execution_path(runtime, execution["executionArn"], say)
    status = print_timeline(order_key, say)
    executions = runtime.client("stepfunctions").list_executions(stateMachineArn=runtime.state_machine_arn)
    say(f"\nExecutions for the state machine: {len(executions['executions'])}")
    return status


def print_execution_path(runtime: LocalRuntime, execution_arn: str, say: Any) -> None:
    history = runtime.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    entered: dict[str, datetime] = {}
    say("\nExecution path (from the execution history):")
    for event in history:
        if "stateEnteredEventDetails" in event:
            entered[event["stateEnteredEventDetails"]["name"]] = event["timestamp"]
        if "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            took = (event["timestamp"] - entered.get(name, event["timestamp"])).total_seconds()
            say(f"  {name:<34} {took:6.2f}s")
        if event["type"] in ("ExecutionSucceeded", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            say(f"  => {event['type']}")


def print_timeline(order_key: str, say: Any) -> str:
    from fulfillment.bootstrap import container

    orders = container().orders
    order = orders.get(order_key)
    say(f"\nOrder {order_key} timeline:")
    for event in orders.timeline(order_key):
        say(f"  {event.seq:>2}  {event.at:%Y-%m-%d %H:%M:%S}  {event.status:<18} {event.reason}")
    final = str(order.status) if order else "MISSING"
    say(f"\nFinal status: {final}")
    return final
