"""Step Functions task: Park the task token on the order until the carrier confirms delivery (waitForTaskToken)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from fulfillment import services
from fulfillment.bootstrap import Container, container
from fulfillment.observability import traced
from fulfillment.steps import CallbackStepInput

logger = Logger()


@logger.inject_lambda_context(correlation_id_path="order_key", clear_state=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Container | None = None) -> dict[str, Any]:
    step = CallbackStepInput.model_validate(event)
    deps = deps or container()
    services.await_delivery(step.order_key, step.task_token, deps.orders, deps.workflow)
    return {"order_key": step.order_key}
