"""The local runtime's workaround for moto's lost early answer (``local/moto_workarounds.py``,
docs/moto-heartbeat-bug.md): a task token answered while the task's resource is still running — before the task
with ``HeartbeatSeconds`` starts waiting — resumes the task with that answer, as on AWS; without the workaround
moto waits out the heartbeat and fails the task with ``States.Timeout``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.handlers
import pytest
from moto import mock_aws

from local.moto_workarounds import answer_survives_heartbeat_setup

QUEUE = "parked-tasks"


def definition(queue_url: str) -> str:
    return json.dumps(
        {
            "StartAt": "Wait for delivery",
            "States": {
                "Wait for delivery": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "HeartbeatSeconds": 1,  # without the workaround the task fails after it, with it never waits
                    "TimeoutSeconds": 60,
                    "End": True,
                }
            },
        }
    )


class AnswerWhileSending:
    """Answers each token from inside the task's own SendMessage call (a botocore ``before-call`` hook of the
    interpreter's SQS client): the answer lands before the task has set up its heartbeat, every time — the order
    of a delivery recorded before the execution parks on it."""

    def __init__(self) -> None:
        self.answer: Any = None
        self.sent: list[str] = []

    def __call__(self, params: dict[str, Any], **_: Any) -> None:
        token = json.loads(json.loads(params["body"])["MessageBody"])["token"]
        self.sent.append(token)
        self.answer(token)


@pytest.fixture
def answering() -> Iterator[AnswerWhileSending]:
    hook = AnswerWhileSending()
    entry = ("before-call.sqs.SendMessage", hook)
    botocore.handlers.BUILTIN_HANDLERS.append(entry)  # before mock_aws makes the sessions that read the list
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            yield hook
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(entry)


def run(answering: AnswerWhileSending, answer: str) -> dict[str, Any]:
    answer_survives_heartbeat_setup()
    sqs, sfn = boto3.client("sqs"), boto3.client("stepfunctions")
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    arn = sfn.create_state_machine(
        name="heartbeat", definition=definition(url), roleArn="arn:aws:iam::123456789012:role/test"
    )["stateMachineArn"]
    answering.answer = {
        "success": lambda token: sfn.send_task_success(taskToken=token, output='{"delivered": true}'),
        "failure": lambda token: sfn.send_task_failure(taskToken=token, error="Carrier.Lost", cause="lost"),
        "heartbeat": lambda token: sfn.send_task_heartbeat(taskToken=token),
    }[answer]
    execution = sfn.start_execution(stateMachineArn=arn, name=f"early-{answer}", input="{}")["executionArn"]
    deadline = time.monotonic() + 60
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution never ended"
        time.sleep(0.05)
    assert len(answering.sent) == 1
    return dict(described)


def test_a_success_sent_before_the_heartbeat_is_set_up_resumes_the_task(answering: AnswerWhileSending) -> None:
    described = run(answering, "success")

    assert described["status"] == "SUCCEEDED", described.get("error")
    assert json.loads(described["output"]) == {"delivered": True}


def test_a_failure_sent_before_the_heartbeat_is_set_up_fails_the_task_with_its_error(
    answering: AnswerWhileSending,
) -> None:
    described = run(answering, "failure")

    assert described["status"] == "FAILED"
    assert described["error"] == "Carrier.Lost"


def test_a_heartbeat_sent_before_the_wait_starts_is_accepted(answering: AnswerWhileSending) -> None:
    # moto answered InvalidToken; the task then times out on its heartbeat as it would on AWS with no answer.
    described = run(answering, "heartbeat")

    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"
