"""The contract between the state machine and its Lambda tasks: keys in, keys out.

``task_handler`` gives every workflow step the same edge: Powertools logging with the order key as
correlation id, optional tracing, input validation, and no try/except — a domain error must reach
Step Functions under its class name so the state machine can Retry or Catch it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fulfillment.model import Order
from fulfillment.model.order import WaitKind
from fulfillment.model.returns import Return

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from fulfillment.bootstrap import Container
    from fulfillment.ports import OrderRepository


class StepInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_key: str = Field(min_length=3)


class CallbackStepInput(StepInput):
    task_token: str = Field(min_length=1)
    waiting_for: WaitKind


class AlertInput(StepInput):
    alert: str = Field(min_length=1)


class StepError(BaseModel):
    Error: str = "Unknown"
    Cause: str | None = ""  # the local engine drops the cause of SendTaskFailure


class CompensationInput(StepInput):
    outcome: Literal["cancelled", "failed"]
    error: StepError = Field(default_factory=StepError)


class ReturnStepInput(StepInput):
    """Return steps carry the return's key and its order's (the order key stays the correlation id)."""

    return_key: str = Field(min_length=5)


class ReturnWaitInput(ReturnStepInput):
    task_token: str = Field(min_length=1)
    waiting_for: Literal["goods", "inspection"]


class ReturnCloseInput(ReturnStepInput):
    outcome: Literal["closed", "expired", "failed"]
    error: StepError = Field(default_factory=StepError)


def return_output(ret: Return) -> dict[str, Any]:
    return {"return_key": ret.key, "order_key": ret.order_key, "status": str(ret.status)}


def step_output(result: Order | dict[str, Any] | None, key: str) -> dict[str, Any]:
    if isinstance(result, dict):
        return result
    return {"order_key": key, "status": str(result.status)} if result else {"order_key": key}


TaskHandler = Callable[..., dict[str, Any]]


def task_handler[Input: StepInput](
    model: type[Input], run: Callable[[Input, Container], Order | dict[str, Any] | None]
) -> TaskHandler:
    """Build a step's ``lambda_handler(event, context, deps=None)`` around one service call."""

    from fulfillment.bootstrap import container
    from fulfillment.edge.observability import logger as make_logger
    from fulfillment.edge.observability import traced

    logger = make_logger()

    @logger.inject_lambda_context(correlation_id_path="order_key", clear_state=True)
    @traced
    def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Container | None = None) -> dict[str, Any]:
        step = model.model_validate(event)
        deps = deps or container()
        result = run(step, deps)
        record_outcome_metrics(step, result)
        if isinstance(result, Order) and result.wait.last:
            record_wait_metric(result.key, deps.orders)
        if isinstance(result, Order):
            logger.info("step done", status=str(result.status), platform=result.platform, store_id=result.store_id)
        return step_output(result, step.order_key)

    return lambda_handler


def record_wait_metric(key: str, orders: OrderRepository) -> None:
    """``CallbackWaitSeconds{wait}``: how long the wait this step resumed from took (approval, inspection, …).

    Emitted by the first step after the answer (the answer may come from the CLI, whose output is no EMF), and
    once: ``Order.wait.last`` is cleared on the order before the metric is printed. If clearing loses to concurrent
    saves, nothing is printed and a later step takes it; a metric never fails a step.
    """
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    from fulfillment.errors import DomainError
    from fulfillment.steps.waits import take_last_wait

    try:
        wait = take_last_wait(orders, key)
    except DomainError:
        return
    if wait and wait.kind:
        with single_metric(name="CallbackWaitSeconds", unit=MetricUnit.Seconds, value=float(wait.seconds)) as metric:
            metric.add_dimension(name="wait", value=wait.kind)


_OUTCOME_METRICS = {"COMPLETED": "OrdersCompleted", "FAILED": "OrdersFailed", "CANCELLED": "OrdersCancelled"}


def record_outcome_metrics(step: StepInput, result: Order | dict[str, Any] | None) -> None:
    """EMF metrics the dashboard and alarms read: outcomes, fulfillment duration, alerts raised.

    ``single_metric`` flushes at once, so steps that record nothing print nothing.
    """
    from datetime import UTC, datetime

    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    alert = getattr(step, "alert", None)
    if alert:
        with single_metric(name="AlertsRaised", unit=MetricUnit.Count, value=1) as metric:
            metric.add_dimension(name="alert", value=str(alert))
    if not isinstance(result, Order) or str(result.status) not in _OUTCOME_METRICS:
        return
    with single_metric(name=_OUTCOME_METRICS[str(result.status)], unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="platform", value=result.platform)
    if str(result.status) == "COMPLETED":
        seconds = (datetime.now(UTC) - result.placed_at).total_seconds()
        with single_metric(name="FulfillmentDurationSeconds", unit=MetricUnit.Seconds, value=seconds) as metric:
            metric.add_dimension(name="platform", value=result.platform)
