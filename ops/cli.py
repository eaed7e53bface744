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
from pathlib import Path
from typing import Any

from ops.returns_cli import add_returns, add_start_arguments
from ops.target import (
    QUEUES,
    Target,
    command,
    domain_deps,
    executions_of,
    positive_int,
    resolve_target,
    return_state_machine_arn,
    state_machine_arn,
    timeline_rows,
)


def secret_ref(stage: str, store_id: str) -> str:
    return f"/fulfillment/{stage}/stores/{store_id}/webhook-secret"


def stores_register(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from fulfillment.adapters.dynamodb import DynamoStoreRegistry
    from fulfillment.model.store import Store, StoreCredentials

    from_stdin = args.secret_file == "-"  # noqa: S105 - a path, not a password
    text = sys.stdin.read() if from_stdin else Path(args.secret_file).read_text(encoding="utf-8")
    credentials = StoreCredentials.from_secret(text.strip())  # refuses a malformed secret before writing
    shipping = None
    if args.shipping_file:  # refused before anything is written if it is not a shipping profile
        from fulfillment.model.shipping import ShippingProfile

        shipping = ShippingProfile.model_validate_json(Path(args.shipping_file).read_bytes())
    store = Store(
        store_id=args.store_id,
        platform=args.platform,
        secret_ref=secret_ref(target.stage, args.store_id),
        name=args.name or "",
        site_url=args.site_url,
        platform_store_id=args.platform_store_id,
        options=dict(option.split("=", 1) for option in args.option),
        shipping=shipping,
    )
    target.client("ssm").put_parameter(Name=store.secret_ref, Value=text.strip(), Type="SecureString", Overwrite=True)
    DynamoStoreRegistry(target.table_name, target.client("dynamodb")).put(store)
    has_api = credentials.api_token or credentials.api_key or credentials.api_base_url
    return {
        **store.model_dump(mode="json"),
        "api_credentials": bool(has_api),
        "easypost_account": credentials.easypost is not None,
    }


def stores_rotate_secret(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    """The new secret becomes current; the old current stays accepted as the previous one until it lapses.

    Intake verifies with either (``intake/receive.py``), so neither deliveries the platform signed with the old
    secret nor warm containers still holding it (``SECRET_MAX_AGE_SECONDS``) cause refusals.
    """
    from datetime import UTC, datetime, timedelta

    from fulfillment.adapters.dynamodb import DynamoStoreRegistry
    from fulfillment.adapters.secrets import SECRET_MAX_AGE_SECONDS
    from fulfillment.errors import UnknownStore
    from fulfillment.model.store import StoreCredentials

    store = DynamoStoreRegistry(target.table_name, target.client("dynamodb")).get(args.store_id)
    if store is None:
        raise UnknownStore(f"no store {args.store_id!r} is registered")
    ssm = target.client("ssm")
    old_text = ssm.get_parameter(Name=store.secret_ref, WithDecryption=True)["Parameter"]["Value"]
    old = StoreCredentials.from_secret(old_text)
    from_stdin = args.secret_file == "-"  # noqa: S105 - a path, not a password
    text = (sys.stdin.read() if from_stdin else Path(args.secret_file).read_text(encoding="utf-8")).strip()
    given = StoreCredentials.from_secret(text)  # refuses a malformed secret before writing
    # A bare secret rotates only the webhook secret; a JSON secret replaces the API credentials as well.
    new = given if text.startswith("{") else old.model_copy(update={"webhook_secret": given.webhook_secret})
    if new.webhook_secret == old.webhook_secret:
        raise ValueError("the new webhook secret is the current one: nothing to rotate")
    now = datetime.now(UTC)
    until = now + timedelta(hours=args.previous_valid_hours)
    rotated = new.model_copy(update={"previous_webhook_secret": old.webhook_secret, "previous_valid_until": until})
    value = rotated.model_dump_json(exclude_none=True, exclude_defaults=True)
    ssm.put_parameter(Name=store.secret_ref, Value=value, Type="SecureString", Overwrite=True)
    return {
        "store_id": store.store_id,
        "secret_ref": store.secret_ref,
        "previous_valid_until": until.isoformat(),
        # Warm containers read the new secret within the cache age: only then may the store sign with it.
        "switch_store_after": (now + timedelta(seconds=SECRET_MAX_AGE_SECONDS)).isoformat(),
    }


def stores_check(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    """One call to the store's platform with its registered credentials; what is missing (exit 1 if anything)."""
    from fulfillment.adapters.dynamodb import DynamoStoreRegistry
    from fulfillment.adapters.http_client import HttpClient
    from fulfillment.adapters.platforms.registry import platform_spec
    from fulfillment.errors import UnknownStore
    from fulfillment.model.store import StoreCredentials
    from fulfillment.onboarding.check import check_store

    store = DynamoStoreRegistry(target.table_name, target.client("dynamodb")).get(args.store_id)
    if store is None:
        raise UnknownStore(f"no store {args.store_id!r} is registered")
    secret = target.client("ssm").get_parameter(Name=store.secret_ref, WithDecryption=True)["Parameter"]["Value"]
    adapters = platform_spec(store.platform).build(HttpClient(timeout=10.0, attempts=2))
    report = check_store(store, StoreCredentials.from_secret(secret), adapters).model_dump(mode="json")
    if not report["ok"]:
        raise Refused(report)
    return report


def stores_subscribe(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    """The store's webhook subscriptions for our URL, created where missing (idempotent: run it again any time)."""
    from fulfillment.adapters.dynamodb import DynamoStoreRegistry
    from fulfillment.adapters.http_client import HttpClient
    from fulfillment.adapters.platforms.registry import platform_spec
    from fulfillment.errors import UnknownStore
    from fulfillment.model.store import StoreCredentials

    store = DynamoStoreRegistry(target.table_name, target.client("dynamodb")).get(args.store_id)
    if store is None:
        raise UnknownStore(f"no store {args.store_id!r} is registered")
    adapters = platform_spec(store.platform).build(HttpClient(timeout=10.0, attempts=2))
    url = f"{args.webhook_base_url.rstrip('/')}/webhooks/{store.platform}/{store.store_id}"
    if adapters.subscribe is None:
        raise Refused(
            {
                "store_id": store.store_id,
                "url": url,
                "subscriptions": [],
                "reason": (
                    f"{store.platform}'s webhooks are not created through its API here: register {url} in the platform"
                ),
            }
        )
    secret = target.client("ssm").get_parameter(Name=store.secret_ref, WithDecryption=True)["Parameter"]["Value"]
    done = adapters.subscribe(store, StoreCredentials.from_secret(secret), url)
    return {"store_id": store.store_id, "url": url, "subscriptions": done}


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
            fifo: dict[str, str] = {}
            if source.endswith(".fifo"):  # the start queue is a standard one: no groups, no deduplication
                # A new deduplication id: the original one may still be inside SQS's five-minute window.
                group = message["Attributes"].get("MessageGroupId", "replay")
                fifo = {"MessageGroupId": group, "MessageDeduplicationId": str(uuid.uuid4())}
            sqs.send_message(QueueUrl=source, MessageBody=message["Body"], **fifo)
            sqs.delete_message(QueueUrl=dead, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
            progress.advance()


def _order_view(order: Any) -> dict[str, Any]:
    return {
        "order_key": order.key,
        "status": str(order.status),
        "waiting_for": order.wait.kind,
        "cancel_requested": order.cancel_requested,
        "tracking_number": order.tracking_number,
        "failure": order.failure.model_dump(mode="json") if order.failure else None,
        "payment": order.payment.model_dump(mode="json", exclude_defaults=True),
        "refunds_due": [
            {"amount": str(due.amount), "reason": due.reason, "since": due.since.isoformat(), "refund": due.key}
            for due in order.payment.outstanding_refunds
        ],
    }


def orders_show(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    deps = domain_deps(target)
    order = deps.orders.get(args.order)
    if order is None:
        raise ValueError(f"no order {args.order}")
    from fulfillment.steps.labels import package_rows

    timeline = timeline_rows(deps.orders.timeline(args.order))
    shipping = {"packages": package_rows(order), "shipping_cost": str(order.shipping_cost or "") or None}
    return {
        **_order_view(order),
        **shipping,
        "timeline": timeline,
        "executions": _executions(target, order.execution_name()),
    }


def _executions(target: Target, name: str) -> list[dict[str, Any]]:
    """The order's executions (its name, and re-runs named after it) with the path each took, then its returns'."""
    return executions_of(target, state_machine_arn(target), name) + executions_of(
        target, return_state_machine_arn(target), name
    )


def orders_list(args: argparse.Namespace, target: Target) -> list[dict[str, Any]]:
    from fulfillment.model import OrderStatus

    status = OrderStatus(args.status.upper()) if args.status else None
    orders = domain_deps(target).orders.list_by_status(status, limit=args.limit, store_id=args.store)
    return [_order_view(order) for order in orders]


def orders_decide(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from fulfillment.steps.decisions import Decision, decide

    deps = domain_deps(target)
    decision = Decision(args.decision)
    order = decide(args.order, decision, deps, by=args.by, reason=args.reason or "")
    return _order_view(order)


def orders_cancel(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from fulfillment.steps.cancellation import request_cancellation

    deps = domain_deps(target)
    return _order_view(request_cancellation(args.order, f"{args.reason} ({args.by})", deps))


def orders_confirm_refund(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from fulfillment.refunds import confirm_refund

    order = confirm_refund(
        args.order, domain_deps(target), by=args.by, reference=args.reference, refund_key=args.refund
    )
    return _order_view(order)


def _intake_deps(target: Target) -> Any:
    """``domain_deps`` and what intake also needs: the state machines (to start), the fetch queue (thin deliveries),
    the start queue (a start that fails at once)."""
    return domain_deps(
        target,
        state_machine_arn=state_machine_arn(target),
        return_state_machine_arn=return_state_machine_arn(target),
        fetch_queue_url=target.queue_urls("fetch")[0],
        start_queue_url=target.queue_urls("start")[0],
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
    return [_delivery_view(kept) for kept in domain_deps(target).archive.list(args.store, order, limit=args.limit)]


def webhooks_replay(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    from fulfillment.intake.replay import replay_delivery

    result = replay_delivery(args.store, args.delivery_id, _intake_deps(target))
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
    return StepFunctionsWorkflow(state_machine_arn(target), target.client("stepfunctions"), can_redrive=not local)


def _rerun_one(key: str, args: argparse.Namespace, deps: Any, executions: Any) -> dict[str, Any]:
    from dataclasses import asdict

    from fulfillment.steps.rerun import rerun

    return asdict(rerun(key, deps.orders, executions, by=args.by, reason=args.reason or ""))


def orders_rerun(args: argparse.Namespace, target: Target) -> Any:
    from fulfillment.errors import RerunRefused
    from fulfillment.model import OrderStatus
    from ops.progress import ProgressBar

    deps, executions = domain_deps(target), _executions_port(target)
    if args.order:
        return _rerun_one(args.order, args, deps, executions)
    found = deps.orders.list_by_status(OrderStatus(args.status.upper()), limit=args.limit, store_id=args.store)
    keys = [order.key for order in found]
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


def _verbs(nouns: Any, noun: str, text: str) -> Any:
    return command(nouns, noun, text).add_subparsers(dest="verb", required=True, metavar="VERB")


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
    _add_dead_letters(_verbs(nouns, "dead-letters", "messages that kept failing (fetches, write-backs, starts)"))
    add_returns(_verbs(nouns, "returns", "returns of delivered goods: start, show, list"))
    _add_webhooks(_verbs(nouns, "webhooks", "verified store webhook deliveries, kept 30 days: list, replay"))
    return parser


def _add_stores(stores: Any) -> None:
    from fulfillment.adapters.platforms.registry import platform_names  # names only: no platform is imported

    register = command(
        stores,
        "register",
        "register a store and its secret (idempotent: re-registering replaces both)",
        "Reads the secret from a file (or - for stdin), never from the command line: either the bare "
        "webhook signing secret or a JSON object {webhook_secret, api_base_url, api_token, api_key, api_secret, "
        "extra, easypost: {api_key, webhook_secret}}.",
    )
    register.add_argument("--platform", required=True, choices=platform_names())
    register.add_argument("--store-id", required=True, help="our id, the one in the webhook URL (a-z, 0-9, -)")
    register.add_argument("--secret-file", required=True, help="path to the secret, or - for stdin")
    register.add_argument("--name", help="a display name")
    register.add_argument("--site-url", help="the shop's URL (the store's identity where the platform has no store id)")
    register.add_argument(
        "--platform-store-id",
        help="the store's id on its platform, e.g. a BigCommerce store hash or a Shopify shop domain (deliveries "
        "must name it)",
    )
    register.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a non-secret store setting, e.g. paid_status_ids=2,3,5,15 (OpenCart); repeatable",
    )
    register.add_argument(
        "--shipping-file",
        help="JSON shipping settings: ship_from (the warehouse address with phone), rate_policy (cheapest, fastest "
        "or service_map rules), label_format (PDF, ZPL, PNG), carrier_accounts, customs_signer",
    )
    register.set_defaults(run=stores_register)
    rotate = command(
        stores,
        "rotate-secret",
        "rotate a store's webhook secret without refusing a delivery",
        "The new secret becomes current and the old one stays accepted until --previous-valid-hours have passed. "
        "Reads the new secret from a file (or - for stdin) as `register` does: a bare webhook secret keeps the "
        "store's API credentials; a JSON object replaces them too. Set the new secret in the store only after "
        "`switch_store_after` (when every warm function has read it).",
    )
    rotate.add_argument("--store-id", required=True, help="the registered store")
    rotate.add_argument("--secret-file", required=True, help="path to the new secret, or - for stdin")
    rotate.add_argument(
        "--previous-valid-hours",
        type=positive_int,
        default=48,
        help="how long the old secret is still accepted (default 48): cover the platform's retries of deliveries "
        "signed with it",
    )
    rotate.set_defaults(run=stores_rotate_secret)
    command(stores, "list", "list registered stores (secrets are never shown)").set_defaults(run=stores_list)
    checking = command(
        stores,
        "check",
        "call the store's platform once with its registered credentials and report what is missing",
        "Credentials and scopes refused, Magento's integration token as Bearer (off by default since 2.4.4), a "
        "multi-source Magento without magento_source_code, OpenCart's API user, key and IP allow-list (and its "
        "release), WooCommerce's Shipment Tracking extension. Exit 1 when anything is missing.",
    )
    checking.add_argument("--store-id", required=True, help="the registered store")
    checking.set_defaults(run=stores_check)
    subscribing = command(
        stores,
        "subscribe",
        "create the store's webhook subscriptions for our URL where missing (WooCommerce, BigCommerce, Shopify)",
        "Points the platform's webhooks for the order topics we take at <webhook base URL>/webhooks/<platform>/<store>;"
        " idempotent. Other platforms are registered by hand (the command says so and exits 1).",
    )
    subscribing.add_argument("--store-id", required=True, help="the registered store")
    subscribing.add_argument("--webhook-base-url", required=True, help="the stack's WebhookBaseUrl output")
    subscribing.set_defaults(run=stores_subscribe)


def _add_orders(orders: Any) -> None:
    show = command(orders, "show", "one order: status, what it waits for, its timeline and its executions")
    show.add_argument("order", help="the order key, <storeId>:<orderId>")
    show.set_defaults(run=orders_show)
    listing = command(
        orders,
        "list",
        "the newest orders, in one status or in any",
        "The newest orders first (by their last change), in the status --status names or, without it, in any "
        "status. --store keeps one store's orders: the filter runs in the query, so a quiet store's orders are "
        "found however many newer ones other stores have.",
    )
    listing.add_argument("--status", help="only orders in this status, e.g. FAILED, SHIPPED (default: any)")
    listing.add_argument("--limit", type=positive_int, default=50, help="at most this many orders")
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
        verb_command = command(orders, verb, text)
        verb_command.add_argument("order", help="the order key, <storeId>:<orderId>")
        verb_command.add_argument("--reason", help="why (recorded on the timeline)")
        verb_command.add_argument("--by", default=by, help="who decides (recorded on the timeline)")
        verb_command.set_defaults(run=orders_decide, decision=decision)
    cancel = command(orders, "cancel", "cancel before delivery: the workflow compensates what was done")
    cancel.add_argument("order", help="the order key, <storeId>:<orderId>")
    cancel.add_argument("--reason", required=True, help="why (recorded on the timeline, told to the store)")
    cancel.add_argument("--by", default=by, help="who cancels (recorded on the timeline)")
    cancel.set_defaults(run=orders_cancel)
    confirm = command(
        orders,
        "confirm-refund",
        "confirm a refund that was due has been paid out by hand",
        "A refund the platform could not pay through its API (Ecwid, OpenCart, a gateway or method without online "
        "refunds, missing API permissions) is due: `orders show` lists it under refunds_due, with its alert on the "
        "timeline. Once it is paid out (in the platform's admin, the payment provider, a bank transfer), this records "
        "who paid and the payout's reference; a return waiting on it is refunded and closed.",
    )
    confirm.add_argument("order", help="the order key, <storeId>:<orderId>")
    confirm.add_argument("--reference", required=True, help="the payout's reference (transaction id, transfer)")
    confirm.add_argument("--refund", help="which refund, when several are due (its key, as orders show lists it)")
    confirm.add_argument("--by", default=by, help="who paid it out (recorded on the timeline)")
    confirm.set_defaults(run=orders_confirm_refund)
    _add_rerun(orders, by)
    add_start_arguments(command(orders, "start-return", "open a return for delivered goods (as returns start)"))


def _add_rerun(orders: Any, by: str) -> None:
    rerun = command(
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
    rerun.add_argument("--limit", type=positive_int, default=50, help="with --status: at most this many orders")
    rerun.add_argument("--reason", help="why (recorded on the timeline)")
    rerun.add_argument("--by", default=by, help="who re-runs it (recorded on the timeline)")
    rerun.set_defaults(run=orders_rerun)


def _add_dead_letters(letters: Any) -> None:
    for verb, run, text in (
        ("list", dead_letters_list, "show what is in a dead-letter queue (up to 10 messages, left in place)"),
        ("replay", dead_letters_replay, "move dead letters back to be processed again (a progress bar on a terminal)"),
    ):
        verb_command = command(letters, verb, text)
        verb_command.add_argument("--queue", choices=sorted(QUEUES), required=True, help="which dead-letter queue")
        verb_command.set_defaults(run=run)


def _add_webhooks(webhooks: Any) -> None:
    listing = command(
        webhooks,
        "list",
        "a store's kept webhook deliveries, newest first",
        "Every verified delivery is kept 30 days (forged or unreadable ones never are): its exact body and the "
        "headers that verify it.",
    )
    listing.add_argument("--store", required=True, help="our store id, the one in the webhook URL")
    listing.add_argument("--order", help="only deliveries about this order (its id in the store, or the order key)")
    listing.add_argument("--limit", type=positive_int, default=50, help="at most this many deliveries")
    listing.set_defaults(run=webhooks_list)
    replay = command(
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
