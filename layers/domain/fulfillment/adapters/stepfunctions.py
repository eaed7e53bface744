"""The fulfillment workflow on Step Functions: one execution per order, named after it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from fulfillment.errors import TransientError
from fulfillment.model import Order
from fulfillment.model.returns import Return
from fulfillment.ports import Execution

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.client import SFNClient

_TRANSIENT_CODES = frozenset({"ThrottlingException", "ServiceUnavailable", "InternalFailure"})
_SPENT_TOKEN_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class StepFunctionsWorkflow:
    """``can_redrive=False`` for engines without ``RedriveExecution`` (the local one): ``redrive`` then says so."""

    def __init__(
        self,
        state_machine_arn: str,
        client: SFNClient,
        *,
        can_redrive: bool = True,
        return_state_machine_arn: str = "",
    ) -> None:
        self._arn = state_machine_arn
        self._return_arn = return_state_machine_arn
        self._client = client
        self._can_redrive = can_redrive

    def start(self, order: Order) -> bool:
        return self.start_named(order, order.execution_name())

    def start_named(self, order: Order, name: str) -> bool:
        return self._start(self._arn, name, {"order_key": order.key})  # keys, not documents

    def _start(self, machine_arn: str, name: str, keys: dict[str, str]) -> bool:
        """False if an execution with this name exists: a retried start starts nothing new."""
        try:
            self._client.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(keys))
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "ExecutionAlreadyExists":
                return False
            if code in _TRANSIENT_CODES:
                raise TransientError(f"Step Functions {code}") from error
            raise
        except BotoCoreError as error:  # a read timeout or a lost connection: the start may or may not have happened
            raise TransientError(f"Step Functions unreachable: {type(error).__name__}") from error
        return True

    def execution(self, name: str) -> Execution | None:
        try:
            found = self._client.describe_execution(executionArn=self._execution_arn(name))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return None
            raise
        return Execution(name=name, status=found["status"], error=found.get("error"))

    def redrive(self, name: str) -> bool:
        if not self._can_redrive:
            return False
        try:
            self._client.redrive_execution(executionArn=self._execution_arn(name))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionNotRedrivable":  # e.g. it ended over 14 days ago
                return False
            raise
        return True

    def _execution_arn(self, name: str) -> str:
        return f"{self._arn.replace(':stateMachine:', ':execution:', 1)}:{name}"

    def start_return(self, ret: Return) -> bool:
        """The return's own execution (its own state machine keeps the order's history short)."""
        return self._start(self._return_arn, ret.execution_name(), {"return_key": ret.key, "order_key": ret.order_key})

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
