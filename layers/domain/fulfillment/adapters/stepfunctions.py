"""The fulfillment workflow on Step Functions: one execution per order, named after it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from fulfillment.errors import TransientError
from fulfillment.model import Order

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.client import SFNClient

_TRANSIENT_CODES = frozenset({"ThrottlingException", "ServiceUnavailable", "InternalFailure"})
_SPENT_TOKEN_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class StepFunctionsWorkflow:
    def __init__(self, state_machine_arn: str, client: SFNClient) -> None:
        self._arn = state_machine_arn
        self._client = client

    def start(self, order: Order) -> bool:
        try:
            self._client.start_execution(
                stateMachineArn=self._arn,
                name=order.execution_name(),
                input=json.dumps({"order_key": order.key}),  # keys, not documents
            )
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "ExecutionAlreadyExists":
                return False
            if code in _TRANSIENT_CODES:
                raise TransientError(f"Step Functions {code}") from error
            raise
        return True

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        return self._answer(lambda: self._client.send_task_success(taskToken=task_token, output=json.dumps(output)))

    def heartbeat(self, task_token: str) -> bool:
        return self._answer(lambda: self._client.send_task_heartbeat(taskToken=task_token))

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        return self._answer(
            lambda: self._client.send_task_failure(taskToken=task_token, error=error[:256], cause=cause[:32768])
        )

    @staticmethod
    def _answer(call: Any) -> bool:
        try:
            call()
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code in _SPENT_TOKEN_CODES:
                return False
            if code in _TRANSIENT_CODES:
                raise TransientError(f"Step Functions {code}") from error
            raise
        return True
