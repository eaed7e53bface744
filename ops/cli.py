"""``fulfillment`` — operate the pipeline from a terminal, AWS-CLI style: ``fulfillment <noun> <verb>``.

Where: ``--endpoint-url`` (or FULFILLMENT_ENDPOINT_URL) talks to the local runtime
(``make local``: http://127.0.0.1:4566); otherwise ``--stack-name`` (or AWS_SAM_STACK_NAME) names a
deployed stack whose Outputs give the resource names, with your usual AWS credentials.
Exit codes: 0 done, 1 refused or failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.returns_cli import add_returns, add_start_arguments

LOCAL_TABLE = "FulfillmentTable"


# Queue pairs ops can inspect and replay: (queue output, dead-letter queue output, local queue name).
QUEUES = {
    "fetch": ("FetchQueueUrl", "FetchDeadLetterQueueUrl", "FetchQueue.fifo", "FetchDeadLetterQueue.fifo"),
    "write-back": (
        "WriteBackQueueUrl",
        "WriteBackDeadLetterQueueUrl",
        "WriteBackQueue.fifo",
        "WriteBackDeadLetterQueue.fifo",
    ),
}


@dataclass
class Target:
    """The resources one invocation works on."""

    table_name: str
    stage: str
    session_kwargs: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    _session: Any = field(default=None, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def queue_urls(self, queue: str) -> tuple[str, str]:
        """(the queue, its dead-letter queue)."""
        source_output, dead_output, source_name, dead_name = QUEUES[queue]
        if self.outputs:
            return self.outputs[source_output], self.outputs[dead_output]
        sqs = self.client("sqs")
        return (
            sqs.get_queue_url(QueueName=source_name)["QueueUrl"],
            sqs.get_queue_url(QueueName=dead_name)["QueueUrl"],
        )

    def client(self, service: str) -> Any:
        """One client per service, from one session: each new session loads botocore's data files again."""
        if service not in self._clients:
            import boto3

            if self._session is None:
                self._session = boto3.session.Session()
            self._clients[service] = self._session.client(service, **self.session_kwargs)
        return self._clients[service]


def resolve_target(args: argparse.Namespace) -> Target:
    region = args.region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    if args.endpoint_url:
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.setdefault(key, "local")  # moto accepts anything; real AWS never sees these
        return Target(LOCAL_TABLE, args.stage, {"region_name": region, "endpoint_url": args.endpoint_url})
    if not args.stack_name:
        raise SystemExit("fulfillment: give --endpoint-url for the local runtime or --stack-name for a deployed stack")
    target = Target("", args.stage, {"region_name": region})
    stack = target.client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"][0]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    target.table_name = outputs["FulfillmentTableName"]
    target.outputs = outputs
    target.stage = outputs.get("Stage", args.stage)
    return target


def secret_ref(stage: str, store_id: str) -> str:
    return f"/fulfillment/{stage}/stores/{store_id}/webhook-secret"


def stores_register(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from fulfillment.adapters.dynamodb import DynamoStoreRegistry
    from fulfillment.model.store import Store, StoreCredentials

    from_stdin = args.secret_file == "-"  # noqa: S105 - a path, not a password
    text = sys.stdin.read() if from_stdin else Path(args.secret_file).read_text(encoding="utf-8")
    credentials = StoreCredentials.from_secret(text.strip())  # refuses a malformed secret before writing
    store = Store(
        store_id=args.store_id,
        platform=args.platform,
        secret_ref=secret_ref(target.stage, args.store_id),
        name=args.name or "",
        site_url=args.site_url,
        platform_store_id=args.platform_store_id,
        options=dict(option.split("=", 1) for option in args.option),
    )
    target.client("ssm").put_parameter(Name=store.secret_ref, Value=text.strip(), Type="SecureString", Overwrite=True)
    DynamoStoreRegistry(target.table_name, target.client("dynamodb")).put(store)
    has_api = credentials.api_token or credentials.api_key or credentials.api_base_url
    return {**store.model_dump(mode="json"), "api_credentials": bool(has_api)}


def stores_list(args: argparse.Namespace, target: Target) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    paginator = target.client("dynamodb").get_paginator("scan")
    stores = []
    for page in paginator.paginate(
        TableName=target.table_name,
        FilterExpression="SK = :store",
        ExpressionAttributeValues={":store": {"S": "STORE"}},
    ):
        for item in page["Items"]:
            values = {key: deserialize(value) for key, value in item.items()}
            stores.append(
                {
                    key: values.get(key)
                    for key in ("store_id", "platform", "name", "platform_store_id", "site_url", "secret_ref")
                }
            )
    return sorted(stores, key=lambda store: str(store["store_id"]))


def dead_letters_list(args: argparse.Namespace, target: Target) -> list[dict[str, Any]]:
    """Peek at what is in a dead-letter queue (the messages stay there, visible)."""
    _, dead = target.queue_urls(args.queue)
    sqs = target.client("sqs")
    answer = sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0)
    return [
        {
            "message_id": message["MessageId"],
            "receive_count": message["Attributes"].get("ApproximateReceiveCount"),
            "body": json.loads(message["Body"]),
        }
        for message in answer.get("Messages", [])
    ]


def dead_letters_replay(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    """Move every dead letter back to its queue, to be processed again (after the cause is fixed)."""
    import uuid

    from ops.progress import ProgressBar

    source, dead = target.queue_urls(args.queue)
    sqs = target.client("sqs")
    depth = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["ApproximateNumberOfMessages"])
    progress = ProgressBar(int(depth.get("Attributes", {}).get("ApproximateNumberOfMessages", 0)))
    moved = 0
    while True:
        answer = sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10, AttributeNames=["All"])
        messages = answer.get("Messages", [])
        if not messages:
            progress.finish()
            return {"queue": args.queue, "replayed": moved}
        for message in messages:
            group = message["Attributes"].get("MessageGroupId", "replay")
            # A new deduplication id: the original one may still be inside SQS's five-minute window.
            sqs.send_message(
                QueueUrl=source,
                MessageBody=message["Body"],
                MessageGroupId=group,
                MessageDeduplicationId=str(uuid.uuid4()),
            )
            sqs.delete_message(QueueUrl=dead, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
            progress.advance()


def _deps(target: Target, **settings: str) -> Any:
    """The domain's own adapters, pointed at the target: decisions go through the same code as the workflow."""
    from fulfillment.bootstrap import Container
    from fulfillment.settings import Settings

    if "endpoint_url" in target.session_kwargs:
        os.environ["AWS_ENDPOINT_URL"] = target.session_kwargs["endpoint_url"]
    os.environ.setdefault("AWS_DEFAULT_REGION", target.session_kwargs["region_name"])
    write_back_url = target.queue_urls("write-back")[0]
    machine = target.outputs.get("FulfillmentStateMachineArn", "")
    return Container(
        Settings(
            table_name=target.table_name,
            stage=target.stage,
            state_machine_arn=machine,
            write_back_queue_url=write_back_url,
        ).model_copy(update=settings)
    )


def _order_view(order: Any) -> dict[str, Any]:
    return {
        "order_key": order.key,
        "status": str(order.status),
        "waiting_for": order.waiting_for,
        "cancel_requested": order.cancel_requested,
        "tracking_number": order.tracking_number,
        "failure": order.failure,
    }


def orders_show(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    deps = _deps(target)
    order = deps.orders.get(args.order)
    if order is None:
        raise ValueError(f"no order {args.order}")
    timeline = timeline_rows(deps.orders.timeline(args.order))
    return {**_order_view(order), "timeline": timeline, "executions": _executions(target, order.execution_name())}


def timeline_rows(events: list[Any]) -> list[dict[str, Any]]:
    """An order's or a return's timeline events as printable rows."""
    return [{"seq": e.seq, "at": e.at.isoformat(), "status": str(e.status), "reason": e.reason} for e in events]


def _state_machine_arn(target: Target) -> str:
    if target.outputs.get("FulfillmentStateMachineArn"):
        return target.outputs["FulfillmentStateMachineArn"]
    machines = target.client("stepfunctions").list_state_machines()["stateMachines"]
    return str(next(m["stateMachineArn"] for m in machines if m["name"].endswith("fulfillment")))


def _executions(target: Target, name: str) -> list[dict[str, Any]]:
    """The order's executions (its name, and re-runs named after it) with the path each took, then its returns'."""
    from ops.returns_cli import return_state_machine_arn

    return _executions_of(target, _state_machine_arn(target), name) + _executions_of(
        target, return_state_machine_arn(target), name
    )


def _executions_of(target: Target, machine_arn: str, name: str) -> list[dict[str, Any]]:
    sfn = target.client("stepfunctions")
    found = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn):
        for execution in page["executions"]:
            if execution["name"] != name and not execution["name"].startswith(f"{name}-"):
                continue
            events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
            path = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
            found.append(
                {
                    "name": execution["name"],
                    "status": execution["status"],
                    "started": execution["startDate"].isoformat(),
                    "path": path,
                }
            )
    return found


def orders_list(args: argparse.Namespace, target: Target) -> list[dict[str, Any]]:
    from fulfillment.model import OrderStatus

    deps = _deps(target)
    orders = deps.orders.list_by_status(OrderStatus(args.status), limit=args.limit)
    return [_order_view(order) for order in orders if args.store is None or order.store_id == args.store]


def orders_decide(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from fulfillment import workflow_steps

    deps = _deps(target)
    decision = workflow_steps.Decision(args.decision)
    order = workflow_steps.decide(args.order, decision, deps, by=args.by, reason=args.reason or "")
    return _order_view(order)


def orders_cancel(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from fulfillment import workflow_steps

    deps = _deps(target)
    return _order_view(workflow_steps.request_cancellation(args.order, f"{args.reason} ({args.by})", deps))


def _intake_deps(target: Target) -> Any:
    """``_deps`` with what intake also needs: the state machines (to start) and the fetch queue (thin deliveries)."""
    from ops.returns_cli import return_state_machine_arn

    return _deps(
        target,
        state_machine_arn=_state_machine_arn(target),
        return_state_machine_arn=return_state_machine_arn(target),
        fetch_queue_url=target.queue_urls("fetch")[0],
    )


def _delivery_view(kept: Any) -> dict[str, Any]:
    return {
        "delivery_id": kept.delivery_id,
        "received_at": kept.received_at.isoformat(),
        "platform": kept.platform,
        "topic": kept.topic,
        "order": kept.external_order_id,
        "bytes": len(kept.request.body),
    }


def webhooks_list(args: argparse.Namespace, target: Target) -> list[dict[str, Any]]:
    order = args.order
    if order and order.startswith(f"{args.store}:"):  # an order key names the store's external id after the colon
        order = order.split(":", 1)[1]
    return [_delivery_view(kept) for kept in _deps(target).archive.list(args.store, order, limit=args.limit)]


def webhooks_replay(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from fulfillment import services

    result = services.replay_delivery(args.store, args.delivery_id, _intake_deps(target))
    return {
        "delivery_id": args.delivery_id,
        "outcome": result.outcome,
        "order_key": result.order_key,
        "status": str(result.status) if result.status else None,
        "fulfillment_started": result.fulfillment_started,
        "duplicate": result.duplicate,
        "reason": result.reason or ("no newer than the stored order: nothing changed" if result.duplicate else None),
    }


class Refused(Exception):
    """A command that did what it could and refused the rest: its result is printed, and it exits 1."""

    def __init__(self, result: Any) -> None:
        super().__init__("refused")
        self.result = result


def _executions_port(target: Target) -> Any:
    from fulfillment.adapters.stepfunctions import StepFunctionsWorkflow

    local = "endpoint_url" in target.session_kwargs  # the local engine has no RedriveExecution
    return StepFunctionsWorkflow(_state_machine_arn(target), target.client("stepfunctions"), can_redrive=not local)


def _rerun_one(key: str, args: argparse.Namespace, deps: Any, executions: Any) -> dict[str, Any]:
    from dataclasses import asdict

    from fulfillment import reruns

    return asdict(reruns.rerun(key, deps.orders, executions, by=args.by, reason=args.reason or ""))


def orders_rerun(args: argparse.Namespace, target: Target) -> Any:
    from fulfillment.errors import RerunRefused
    from fulfillment.model import OrderStatus
    from ops.progress import ProgressBar

    deps, executions = _deps(target), _executions_port(target)
    if args.order:
        return _rerun_one(args.order, args, deps, executions)
    found = deps.orders.list_by_status(OrderStatus(args.status), limit=args.limit)
    keys = [order.key for order in found if args.store is None or order.store_id == args.store]
    progress, results = ProgressBar(len(keys)), []
    for key in keys:
        try:
            results.append(_rerun_one(key, args, deps, executions))
        except RerunRefused as refusal:
            results.append({"order_key": key, "action": "refused", "reason": str(refusal)})
        progress.advance()
    progress.finish()
    if any(result["action"] == "refused" for result in results):
        raise Refused(results)
    return results


def _print(result: Any, output: str) -> None:
    if output == "json":
        print(json.dumps(result, indent=2, default=str))
        return
    rows = result if isinstance(result, list) else [result]
    for row in rows:
        print("  ".join(f"{key}={value}" for key, value in row.items() if value not in (None, "")))


def _command(verbs: Any, name: str, text: str, description: str | None = None) -> argparse.ArgumentParser:
    """A sub-command whose ``--help`` says what it does (the listing shows ``text``, its own help more)."""
    command: argparse.ArgumentParser = verbs.add_parser(
        name, help=text, description=description or text[:1].upper() + text[1:] + "."
    )
    return command


def _verbs(nouns: Any, noun: str, text: str) -> Any:
    return _command(nouns, noun, text).add_subparsers(dest="verb", required=True, metavar="VERB")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fulfillment", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("FULFILLMENT_ENDPOINT_URL"),
        help="the local runtime's AWS endpoint, e.g. http://127.0.0.1:4566",
    )
    parser.add_argument("--stack-name", default=os.environ.get("AWS_SAM_STACK_NAME"), help="a deployed stack")
    parser.add_argument("--region", default=None, help="AWS region (default: AWS_DEFAULT_REGION or us-east-1)")
    parser.add_argument("--stage", default=os.environ.get("FULFILLMENT_STAGE", "dev"), help="the stack's stage")
    parser.add_argument("--output", choices=["text", "json"], default="text", help="how results are printed")
    nouns = parser.add_subparsers(dest="noun", required=True, metavar="NOUN")
    _add_stores(_verbs(nouns, "stores", "the store registry"))
    _add_orders(_verbs(nouns, "orders", "find orders and act on them"))
    _add_dead_letters(_verbs(nouns, "dead-letters", "messages that kept failing (fetches, write-backs)"))
    add_returns(_verbs(nouns, "returns", "returns of delivered goods: start, show, list"), _command)
    _add_webhooks(_verbs(nouns, "webhooks", "verified store webhook deliveries, kept 30 days: list, replay"))
    return parser


def _add_stores(stores: Any) -> None:
    register = _command(
        stores,
        "register",
        "register a store and its secret (idempotent: re-registering replaces both)",
        "Reads the secret from a file (or - for stdin), never from the command line: either the bare "
        "webhook signing secret or a JSON object {webhook_secret, api_base_url, api_token, api_key, api_secret, "
        "extra}.",
    )
    register.add_argument(
        "--platform", required=True, choices=["woocommerce", "bigcommerce", "ecwid", "magento", "opencart", "shopify"]
    )
    register.add_argument("--store-id", required=True, help="our id, the one in the webhook URL (a-z, 0-9, -)")
    register.add_argument("--secret-file", required=True, help="path to the secret, or - for stdin")
    register.add_argument("--name", help="a display name")
    register.add_argument("--site-url", help="WooCommerce / OpenCart / Magento shop URL")
    register.add_argument(
        "--platform-store-id",
        help="BigCommerce store hash, Ecwid store id or Shopify shop domain (deliveries must match)",
    )
    register.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a non-secret store setting, e.g. paid_status_ids=2,3,5,15 (OpenCart); repeatable",
    )
    register.set_defaults(run=stores_register)
    _command(stores, "list", "list registered stores (secrets are never shown)").set_defaults(run=stores_list)


def _add_orders(orders: Any) -> None:
    show = _command(orders, "show", "one order: status, what it waits for, its timeline and its executions")
    show.add_argument("order", help="the order key, <storeId>:<orderId>")
    show.set_defaults(run=orders_show)
    listing = _command(orders, "list", "orders in a status, newest first")
    listing.add_argument("--status", required=True, help="e.g. FAILED, SHIPPED")
    listing.add_argument("--limit", type=int, default=50, help="at most this many orders")
    listing.add_argument("--store", help="only this store's orders")
    listing.set_defaults(run=orders_list)
    by = os.environ.get("USER", "operator")
    for verb, decision, text in (
        ("approve", "approve", "approve an order waiting for a person"),
        ("reject", "reject", "reject it (the workflow cancels and compensates)"),
        ("pass-inspection", "pass", "accept goods whose inspection kept failing"),
        ("fail-inspection", "fail", "refuse them (the workflow cancels and compensates)"),
        ("confirm-delivery", "delivered", "confirm an overdue delivery by hand"),
        ("report-lost", "lost", "report an overdue parcel lost (refund/void, tell the store)"),
    ):
        command = _command(orders, verb, text)
        command.add_argument("order", help="the order key, <storeId>:<orderId>")
        command.add_argument("--reason", help="why (recorded on the timeline)")
        command.add_argument("--by", default=by, help="who decides (recorded on the timeline)")
        command.set_defaults(run=orders_decide, decision=decision)
    cancel = _command(orders, "cancel", "cancel before delivery: the workflow compensates what was done")
    cancel.add_argument("order", help="the order key, <storeId>:<orderId>")
    cancel.add_argument("--reason", required=True, help="why (recorded on the timeline, told to the store)")
    cancel.add_argument("--by", default=by, help="who cancels (recorded on the timeline)")
    cancel.set_defaults(run=orders_cancel)
    _add_rerun(orders, by)
    add_start_arguments(_command(orders, "start-return", "open a return for delivered goods (as returns start)"))


def _add_rerun(orders: Any, by: str) -> None:
    rerun = _command(
        orders,
        "rerun",
        "re-run a failed order from the step that failed",
        "An execution that failed without compensating the order is redriven from the failed state "
        "(on AWS; the local runtime starts <name>-rerun<N> with the same input, and every step skips what is done). "
        "A FAILED (compensated) order is reopened as a new attempt with new side-effect keys and re-run from the "
        "start; refused if compensation voided the payment, or for cancelled, completed and running orders. "
        "With --status, re-runs every order in that status (a progress bar on a terminal).",
    )
    which = rerun.add_mutually_exclusive_group(required=True)
    which.add_argument("order", nargs="?", help="the order key, <storeId>:<orderId>")
    which.add_argument("--status", help="re-run every order in this status, e.g. FAILED")
    rerun.add_argument("--store", help="with --status: only this store's orders")
    rerun.add_argument("--limit", type=int, default=50, help="with --status: at most this many orders")
    rerun.add_argument("--reason", help="why (recorded on the timeline)")
    rerun.add_argument("--by", default=by, help="who re-runs it (recorded on the timeline)")
    rerun.set_defaults(run=orders_rerun)


def _add_dead_letters(letters: Any) -> None:
    for verb, run, text in (
        ("list", dead_letters_list, "show what is in a dead-letter queue (up to 10 messages, left in place)"),
        ("replay", dead_letters_replay, "move dead letters back to be processed again (a progress bar on a terminal)"),
    ):
        command = _command(letters, verb, text)
        command.add_argument("--queue", choices=sorted(QUEUES), required=True, help="which dead-letter queue")
        command.set_defaults(run=run)


def _add_webhooks(webhooks: Any) -> None:
    listing = _command(
        webhooks,
        "list",
        "a store's kept webhook deliveries, newest first",
        "Every verified delivery is kept 30 days (forged or unreadable ones never are): its exact body and the "
        "headers that verify it.",
    )
    listing.add_argument("--store", required=True, help="our store id, the one in the webhook URL")
    listing.add_argument("--order", help="only deliveries about this order (its id in the store, or the order key)")
    listing.add_argument("--limit", type=int, default=50, help="at most this many deliveries")
    listing.set_defaults(run=webhooks_list)
    replay = _command(
        webhooks,
        "replay",
        "run a kept delivery through intake again",
        "The signature is verified again over the kept bytes with the store's current secret (only a "
        "timestamped scheme's freshness window is skipped: the delivery was fresh when it arrived). The "
        "duplicate-delivery log is bypassed, the newest-snapshot-wins rule is not: replaying an older "
        "snapshot of a newer order changes nothing. Prints what intake answered; exit 1 if no such delivery.",
    )
    replay.add_argument("store", help="our store id, the one in the webhook URL")
    replay.add_argument("delivery_id", help="the delivery id `webhooks list` shows")
    replay.set_defaults(run=webhooks_replay)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from pydantic import ValidationError

    from fulfillment.errors import DomainError

    try:
        result = args.run(args, resolve_target(args))
    except Refused as refused:
        _print(refused.result, args.output)
        return 1
    except (ValidationError, OSError, ValueError, DomainError) as error:
        print(f"fulfillment: {error}", file=sys.stderr)
        if args.output == "json" and isinstance(error, DomainError):
            print(json.dumps({"error": error.code, "message": str(error)}, indent=2))
        return 1
    _print(result, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
