"""What a ``fulfillment`` command works on: the target (local runtime or deployed stack) and its resources.

Shared by every command module (``ops.cli``, ``ops.returns_cli``), which import this one and never each
other, so the command line has no import cycle.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import Any

LOCAL_TABLE = "FulfillmentTable"
LOCAL_ARCHIVE_BUCKET = "deliveryarchivebucket"  # local.template.bucket_name("DeliveryArchiveBucket")


# Queue pairs ops can inspect and replay: (queue output, dead-letter queue output, local queue name).
QUEUES = {
    "fetch": ("FetchQueueUrl", "FetchDeadLetterQueueUrl", "FetchQueue.fifo", "FetchDeadLetterQueue.fifo"),
    "write-back": (
        "WriteBackQueueUrl",
        "WriteBackDeadLetterQueueUrl",
        "WriteBackQueue.fifo",
        "WriteBackDeadLetterQueue.fifo",
    ),
    "start": ("StartQueueUrl", "StartDeadLetterQueueUrl", "StartQueue", "StartDeadLetterQueue"),
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


def domain_deps(target: Target, **settings: str) -> Any:
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
            archive_bucket=target.outputs.get("DeliveryArchiveBucketName", LOCAL_ARCHIVE_BUCKET),
        ).model_copy(update=settings)
    )


def state_machine_arn(target: Target) -> str:
    """The fulfillment state machine."""
    if target.outputs.get("FulfillmentStateMachineArn"):
        return target.outputs["FulfillmentStateMachineArn"]
    return _machine_named(target, "fulfillment")


def return_state_machine_arn(target: Target) -> str:
    """The returns state machine."""
    if target.outputs.get("ReturnStateMachineArn"):
        return target.outputs["ReturnStateMachineArn"]
    return _machine_named(target, "returns")


def _machine_named(target: Target, suffix: str) -> str:
    machines = target.client("stepfunctions").list_state_machines()["stateMachines"]
    return str(next(m["stateMachineArn"] for m in machines if m["name"].endswith(suffix)))


def executions_of(target: Target, machine_arn: str, name: str) -> list[dict[str, Any]]:
    """The executions of ``machine_arn`` named ``name`` or ``name-…`` (re-runs), with the path each took."""
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


def timeline_rows(events: list[Any]) -> list[dict[str, Any]]:
    """An order's or a return's timeline events as printable rows."""
    return [{"seq": e.seq, "at": e.at.isoformat(), "status": str(e.status), "reason": e.reason} for e in events]


def command(verbs: Any, name: str, text: str, description: str | None = None) -> argparse.ArgumentParser:
    """A sub-command whose ``--help`` says what it does (the listing shows ``text``, its own help more)."""
    parser: argparse.ArgumentParser = verbs.add_parser(
        name, help=text, description=description or text[:1].upper() + text[1:] + "."
    )
    return parser


def positive_int(value: str) -> int:
    """An argparse type: a count of at least 1 (``--limit``)."""
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: expected a whole number of at least 1")
    return int(value)
