"""`make demo`: one WooCommerce order from checkout to Completed on the local runtime, then a return of one of
its items that ends in a replacement order delivered — both orders' timelines printed, linked both ways."""

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
    if status != "COMPLETED":
        return status
    return run_return(runtime, order_key, say)


def run_return(runtime: LocalRuntime, order_key: str, say: Any) -> str:
    """The torch came back broken: customer service opens a return asking for a replacement."""
    from fulfillment.bootstrap import container
    from fulfillment.model.returns import Resolution
    from fulfillment.returns.request import ReturnLineRequest, ReturnRequest, request_return

    say("\n5. The customer returns the torch (defective); customer service asks for a replacement")
    say(f"   fulfillment returns start {order_key} --line TORCH-CB-01:1 --reason defective --resolution replacement")
    request = ReturnRequest(
        order_key=order_key,
        lines=[ReturnLineRequest(sku="TORCH-CB-01", quantity=1)],
        reason="defective",
        resolution=Resolution.REPLACEMENT,
        requested_by="customer-service",
    )
    opened = request_return(request, container())
    execution = runtime.wait_for_execution(opened.execution_name(), timeout=120, state_machine="ReturnStateMachine")
    say(f"\nReturn execution {execution['name']}: {execution['status']}")
    print_execution_path(runtime, execution["executionArn"], say)
    ret = container().returns.get(opened.key)
    if ret is None or ret.replacement_order_key is None:
        say(f"\nReturn {opened.key} ended without a replacement")
        return "MISSING"
    say(f"\nReturn {ret.key} (RMA {ret.rma}) timeline:")
    for event in container().returns.timeline(ret.key):
        say(f"  {event.seq:>2}  {event.at:%Y-%m-%d %H:%M:%S}  {event.status:<18} {event.reason}")
    replacement_key = ret.replacement_order_key
    store_id, external_id = replacement_key.split(":", 1)
    from fulfillment.model import fulfillment_execution_name

    replacement_run = runtime.wait_for_execution(fulfillment_execution_name(store_id, external_id), timeout=120)
    say(f"\nReplacement execution {replacement_run['name']}: {replacement_run['status']}")
    print_execution_path(runtime, replacement_run["executionArn"], say)
    original = print_timeline(order_key, say, final=False)
    linked = container().orders.get(order_key)
    say(f"  replaced by: {', '.join(linked.returns.replacements) if linked else '?'} (return {ret.key})")
    status = print_timeline(replacement_key, say, final=False)
    replacement = container().orders.get(replacement_key)
    say(f"  replaces: {replacement.platform_refs.get('replaces') if replacement else '?'} (return {ret.key})")
    say(f"\nOriginal order {order_key}: {original}; replacement {replacement_key}: {status}")
    say(f"Final status: {status}")
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


def print_timeline(order_key: str, say: Any, *, final: bool = True) -> str:
    from fulfillment.bootstrap import container

    orders = container().orders
    order = orders.get(order_key)
    say(f"\nOrder {order_key} timeline:")
    for event in orders.timeline(order_key):
        say(f"  {event.seq:>2}  {event.at:%Y-%m-%d %H:%M:%S}  {event.status:<18} {event.reason}")
    status = str(order.status) if order else "MISSING"
    if final and status != "COMPLETED":
        say(f"\nFinal status: {status}")
    return status
