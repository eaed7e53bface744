"""Every AWS call a local Lambda function makes, seen before it leaves: recorded, or failed on purpose.

One botocore ``before-call`` hook (installed, like the runtime's ``lambda:Invoke`` hook, before any session
exists) sees each call of every client in the process. ``LocalFunction.invoke`` names the function it runs
(``acting_as``), so a call is attributed to the template's logical id — calls by the runtime itself, the tests
or moto's interpreter have no function and are neither recorded nor failed.

- ``failing(...)``: the next calls of an operation fail as AWS would fail them (a ``ClientError`` with a code,
  or a botocore connection error), e.g. ``StartExecution`` throttled for intake while the start queue's consumer
  goes through. Nothing is sent, so botocore's own retries are bypassed: one injected failure is one failed call.
- ``recording()``: every ``Call`` (function, IAM action, resource ARN, DynamoDB partition-key prefix), what
  ``tests/iam.py`` compares with the template's policies (the least-privilege check). DynamoDB transactions and
  batches are authorised per item as the item's own action (a ``TransactWriteItems`` Put is ``PutItem``), so
  they are recorded that way. Recorded from the API parameters (``before-parameter-build``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

# botocore's signing names that are not the IAM action prefix
_IAM_PREFIX = {"monitoring": "cloudwatch", "events": "events"}

_current_function: ContextVar[str | None] = ContextVar("local_lambda_function", default=None)
_lock = threading.Lock()
_installed = False


@contextmanager
def acting_as(function: str) -> Iterator[None]:
    """The AWS calls made inside are the function's (its role's)."""
    token = _current_function.set(function)
    try:
        yield
    finally:
        _current_function.reset(token)


def iam_action(model: Any) -> str:
    """``states:StartExecution`` for botocore's operation model of Step Functions' StartExecution."""
    service = model.service_model
    prefix = service.signing_name or service.endpoint_prefix
    return f"{_IAM_PREFIX.get(prefix, prefix)}:{model.name}"


@dataclass(frozen=True, order=True)
class Call:
    function: str
    action: str  # "dynamodb:PutItem"
    resource: str  # the ARN IAM authorises, "*" where the action takes no resource
    key_prefix: str | None = None  # DynamoDB: the partition key up to its first "#" ("ORDER#")


_REGION, _ACCOUNT = "us-east-1", "123456789012"
_DYNAMODB_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
_PARTITION_KEYS = ("PK", "GSI1PK")


def _prefix(key: dict[str, Any] | None) -> str | None:
    for name in _PARTITION_KEYS:
        value = (key or {}).get(name, {})
        if isinstance(value, dict) and "S" in value:
            text = str(value["S"])
            return text.split("#", 1)[0] + "#" if "#" in text else text
    return None


def _table(name: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{_REGION}:{_ACCOUNT}:table/{name}"
    return f"{arn}/index/{index}" if index else arn


def _query_prefix(params: dict[str, Any]) -> str | None:
    found = re.match(r"\s*(\w+)\s*=\s*(:\w+)", str(params.get("KeyConditionExpression", "")))
    if not found:
        return None
    return _prefix({found.group(1): params.get("ExpressionAttributeValues", {}).get(found.group(2))})


def calls_of(function: str, action: str, params: dict[str, Any]) -> list[Call]:
    """What IAM authorises for one API call, with its resources."""
    service, operation = action.split(":", 1)
    if service == "dynamodb":
        if operation in ("TransactWriteItems", "TransactGetItems"):
            found = []
            for item in params.get("TransactItems", []):
                ((kind, body),) = item.items()
                found.append(
                    Call(
                        function,
                        f"dynamodb:{_DYNAMODB_ITEM_ACTIONS[kind]}",
                        _table(body["TableName"]),
                        _prefix(body.get("Key") or body.get("Item")),
                    )
                )
            return found
        if operation == "BatchWriteItem":
            return [
                Call(
                    function,
                    action,
                    _table(table),
                    _prefix(request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key")),
                )
                for table, requests in params.get("RequestItems", {}).items()
                for request in requests
            ]
        if operation == "BatchGetItem":
            return [
                Call(function, action, _table(table), _prefix(key))
                for table, request in params.get("RequestItems", {}).items()
                for key in request.get("Keys", [])
            ]
        table = _table(params.get("TableName", "*"), params.get("IndexName"))
        if operation == "Query":
            return [Call(function, action, table, _query_prefix(params))]
        return [Call(function, action, table, _prefix(params.get("Key") or params.get("Item")))]
    if service == "sqs":
        name = str(params.get("QueueUrl", "*")).rstrip("/").rsplit("/", 1)[-1]
        return [Call(function, action, f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:{name}")]
    if service == "states":
        return [Call(function, action, str(params.get("stateMachineArn") or params.get("executionArn") or "*"))]
    if service == "ssm":
        names = params.get("Names") or [params.get("Name", "*")]
        return [Call(function, action, f"arn:aws:ssm:{_REGION}:{_ACCOUNT}:parameter{name}") for name in names]
    if service == "s3":
        return [Call(function, action, f"arn:aws:s3:::{params.get('Bucket', '*')}/{params.get('Key', '')}")]
    return [Call(function, action, "*")]


@dataclass
class Fault:
    action: str  # "states:StartExecution"
    code: str  # an AWS error code, or "ConnectionError" / "ReadTimeout" for botocore's own
    times: int
    function: str | None
    raised: int = 0


@dataclass
class _Calls:
    faults: list[Fault] = field(default_factory=list)
    recorded: set[Call] = field(default_factory=set)
    recording: int = 0


_calls = _Calls()


def _before_parameter_build(params: dict[str, Any], model: Any, **_: Any) -> None:
    function = _current_function.get()
    if function is None or not _calls.recording:
        return
    found = calls_of(function, iam_action(model), params)
    with _lock:
        _calls.recorded.update(found)


def _before_call(model: Any, params: dict[str, Any], **_: Any) -> Any:
    function = _current_function.get()
    if function is None:
        return None
    action = iam_action(model)
    with _lock:
        fault = next(
            (
                each
                for each in _calls.faults
                if each.action == action and each.function in (None, function) and each.raised < each.times
            ),
            None,
        )
        if fault is not None:
            fault.raised += 1
    return None if fault is None else _fail(fault, params)


def _fail(fault: Fault, params: dict[str, Any]) -> Any:
    from botocore.awsrequest import AWSResponse, HTTPHeaders
    from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

    url = params.get("url", "")
    if fault.code == "ConnectionError":
        raise EndpointConnectionError(endpoint_url=url)
    if fault.code == "ReadTimeout":
        raise ReadTimeoutError(endpoint_url=url)
    parsed = {
        "Error": {"Code": fault.code, "Message": f"injected by the local runtime ({fault.action})"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    return AWSResponse(url, 400, HTTPHeaders(), None), parsed


def install() -> None:
    """Must run before any boto3 session exists: botocore copies BUILTIN_HANDLERS into each new session."""
    global _installed
    with _lock:
        if _installed:
            return
        import botocore.handlers

        # First: the runtime's lambda:Invoke hook answers a call, which would end the hooks before this one.
        botocore.handlers.BUILTIN_HANDLERS.insert(0, ("before-call", _before_call))
        botocore.handlers.BUILTIN_HANDLERS.insert(0, ("before-parameter-build", _before_parameter_build))
        _installed = True


@contextmanager
def failing(action: str, code: str, *, times: int = 1_000_000, function: str | None = None) -> Iterator[Fault]:
    """Inside the block, ``action`` (e.g. ``states:StartExecution``) fails with ``code`` for ``function``'s calls
    (any function's when None), at most ``times`` times; ``Fault.raised`` counts the failures."""
    fault = Fault(action, code, times, function)
    with _lock:
        _calls.faults.append(fault)
    try:
        yield fault
    finally:
        with _lock:
            _calls.faults.remove(fault)


@contextmanager
def recording() -> Iterator[set[Call]]:
    """The calls made inside the block (the set fills as calls are made)."""
    with _lock:
        _calls.recording += 1
    try:
        yield _calls.recorded
    finally:
        with _lock:
            _calls.recording -= 1
