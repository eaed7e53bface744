"""The contract between the state machine and its Lambda tasks: keys in, keys out.

``task_handler`` gives every workflow step the same edge: Powertools logging with the order key as
correlation id, optional tracing, input validation, and no try/except — a domain error must reach
Step Functions under its class name so the state machine can Retry or Catch it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from fulfillment.model import Order

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from fulfillment.bootstrap import Container


class StepInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_key: str = Field(min_length=3)


class CallbackStepInput(StepInput):
    task_token: str = Field(min_length=1)


class StepError(BaseModel):
    Error: str = "Unknown"
    Cause: str = ""


class FailureInput(StepInput):
    error: StepError = Field(default_factory=StepError)


def step_output(order: Order | None, key: str) -> dict[str, str]:
    return {"order_key": key, "status": str(order.status)} if order else {"order_key": key}


TaskHandler = Callable[..., dict[str, str]]


def task_handler[Input: StepInput](model: type[Input], run: Callable[[Input, Container], Order | None]) -> TaskHandler:
    """Build a step's ``lambda_handler(event, context, deps=None)`` around one service call."""
    from aws_lambda_powertools import Logger

    from fulfillment.bootstrap import container
    from fulfillment.observability import traced

    logger = Logger()

    @logger.inject_lambda_context(correlation_id_path="order_key", clear_state=True)
    @traced
    def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Container | None = None) -> dict[str, str]:
        step = model.model_validate(event)
        return step_output(run(step, deps or container()), step.order_key)

    return lambda_handler
