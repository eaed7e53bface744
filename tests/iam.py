"""The least-privilege check: every AWS call a function makes is granted by its policies in template.yaml, and
every action (and DynamoDB key prefix) its policies grant is one it makes.

Evidence: the end-to-end suite records each call its functions make in the local runtime (``local/aws_calls.py``:
function, IAM action, resource ARN, partition-key prefix), one file per pytest-xdist worker under
``.pytest-iam/``. The controller compares the union with the template at the end of the session
(``pytest_sessionfinish`` in ``tests/conftest.py``):

- a call no statement of the function allows (action, resource, ``dynamodb:LeadingKeys``) fails every run that
  made it, whatever part of the suite ran;
- a granted action or key prefix no call used fails only a run of the whole suite (``make test``), since a part
  of the suite exercises a part of the functions. ``NOT_REACHED_LOCALLY`` names the grants that no local run can
  show used, each with its reason.

Grants only the Lambda service uses for a function (an SQS event source's ReceiveMessage, DeleteMessage,
GetQueueAttributes) count as used by its event source.
"""

from __future__ import annotations

import fnmatch
import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from local.aws_calls import Call
from local.template import LocalTemplate

ROOT = Path(__file__).resolve().parent.parent
CALLS_DIR = ROOT / ".pytest-iam"
EVENT_SOURCE_ACTIONS = {"SQS": ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")}

# (function, action): why the end-to-end suite does not make the call although the function's code does (each
# path is covered by unit or integration tests). Functions share one process locally, so a store or secret one
# function read is in the cache another function would otherwise read it from.
_STORE_RETURNS = "store-reported returns of a delivered order (returns.for_order); unit-tested in test_store_returns"
_LARGE_ORDER = (
    "a large order's line chunks (LINES#<n>, a Query under the order): the e2e 3,000-line order never reaches it"
)
_RETRY_AFTER = "only when a platform answers with Retry-After; integration-tested in test_sqs_queues"
NOT_REACHED_LOCALLY: dict[tuple[str, str], str] = {
    ("IntakeWebhookFunction", "dynamodb:Query"): _STORE_RETURNS,
    ("FetchOrderFunction", "dynamodb:Query"): _STORE_RETURNS,
    ("IntakeWebhookFunction", "dynamodb:DeleteItem"): "a delivery that fails after its first-seen write is forgotten "
    "(DynamoDB failing mid-intake); unit-tested in test_intake",
    ("FetchOrderFunction", "states:SendTaskFailure"): "a fetched cancellation of an order that waits (approval, "
    "inspection); the e2e cancellations are WooCommerce's, delivered whole",
    ("FetchOrderFunction", "sqs:SendMessage"): "a fetched order whose StartExecution fails (e2e injects it at intake)",
    ("FetchOrderFunction", "sqs:ChangeMessageVisibility"): _RETRY_AFTER,
    ("WriteBackFunction", "sqs:ChangeMessageVisibility"): _RETRY_AFTER,
    ("AwaitCallbackFunction", "states:SendTaskSuccess"): "a wait answered before it parks (a re-run after the answer); "
    "unit-tested in test_workflow_steps",
    ("AwaitCallbackFunction", "states:SendTaskFailure"): "a cancellation or a lost parcel recorded before the wait "
    "parks; unit-tested in test_workflow_steps",
    **{
        (function, "dynamodb:Query"): _LARGE_ORDER
        for function in (
            "StartFulfillmentFunction",
            "RaiseAlertFunction",
            "CompensateFunction",
            "AuthorizeReturnFunction",
            "AwaitReturnFunction",
            "DisposeReturnFunction",
            "ResolveReturnFunction",
            "CloseReturnFunction",
        )
    },
    ("StartSweepFunction", "dynamodb:GetItem"): "a large order RECEIVED when the sweep runs is read whole; the e2e "
    "3,000-line order is only sometimes still RECEIVED then",
    ("ResolveReturnFunction", "ssm:GetParameter"): "refunds through the payment gateway or the platform: the e2e "
    "returns are of prepaid orders refunded by the store's write-back (and keys are cached across functions locally)",
}


def write_calls(worker_id: str, calls: Iterable[Call]) -> None:
    CALLS_DIR.mkdir(exist_ok=True)
    path = CALLS_DIR / f"{worker_id}-{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps([asdict(call) for call in sorted(calls)], indent=0), encoding="utf-8")


def read_calls() -> set[Call]:
    return {
        Call(**entry)
        for path in sorted(CALLS_DIR.glob("*.json"))
        for entry in json.loads(path.read_text(encoding="utf-8"))
    }


def clear_calls() -> None:
    for path in CALLS_DIR.glob("*.json"):
        path.unlink()


@dataclass(frozen=True)
class Statement:
    function: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    leading_keys: tuple[str, ...] | None  # ForAllValues:StringLike dynamodb:LeadingKeys, when conditioned

    def allows(self, call: Call) -> bool:
        if call.action not in self.actions:
            return False
        if call.resource != "*" and not any(fnmatch.fnmatchcase(call.resource, pattern) for pattern in self.resources):
            return False
        if self.leading_keys is None:
            return True
        return call.key_prefix is not None and any(
            fnmatch.fnmatchcase(call.key_prefix + "x", pattern) for pattern in self.leading_keys
        )


def _listed(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in (value if isinstance(value, list) else [value]))


def statements(template: LocalTemplate) -> dict[str, list[Statement]]:
    """Each function's Allow statements, intrinsic functions resolved; a SAM policy template is refused (the
    check cannot see what it grants, and least privilege spells its statements out)."""
    found: dict[str, list[Statement]] = {}
    for name, resource in template.resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        found[name] = []
        for policy in resource["Properties"].get("Policies", []):
            if not (isinstance(policy, dict) and "Statement" in policy):
                raise AssertionError(f"{name}: spell the policy out as statements, not {policy!r}")
            for statement in template.resolve(policy["Statement"]):
                if statement.get("Effect") != "Allow":
                    continue
                condition = statement.get("Condition", {}).get("ForAllValues:StringLike", {})
                keys = condition.get("dynamodb:LeadingKeys")
                found[name].append(
                    Statement(
                        name,
                        _listed(statement["Action"]),
                        _listed(statement["Resource"]),
                        _listed(keys) if keys is not None else None,
                    )
                )
    return found


def event_source_actions(template: LocalTemplate) -> set[tuple[str, str]]:
    return {
        (name, action)
        for name, resource in template.resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        for action in EVENT_SOURCE_ACTIONS.get(event["Type"], ())
    }


def check(calls: set[Call], template: LocalTemplate, *, complete: bool) -> list[str]:
    """What is wrong, one line each; empty when the template grants exactly what the functions use."""
    granted = statements(template)
    problems = [
        f"{call.function} calls {call.action} on {call.resource}"
        + (f" (key {call.key_prefix}…)" if call.key_prefix else "")
        + ": no statement of its policies allows it"
        for call in sorted(calls)
        if not any(statement.allows(call) for statement in granted.get(call.function, []))
    ]
    if not complete:
        return problems
    used = {(call.function, call.action) for call in calls} | event_source_actions(template) | set(NOT_REACHED_LOCALLY)
    for function, function_statements in sorted(granted.items()):
        for statement in function_statements:
            problems += [
                f"{function} is granted {action} but never calls it"
                for action in statement.actions
                if (function, action) not in used
            ]
    return problems
