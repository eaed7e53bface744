"""Step Functions task: Check the order can be fulfilled: shipping address, lines, totals, payment."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from fulfillment import services
from fulfillment.bootstrap import Container, container
from fulfillment.observability import traced
from fulfillment.steps import StepInput, step_output

logger = Logger()


@logger.inject_lambda_context(correlation_id_path="order_key", clear_state=True)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext, deps: Container | None = None) -> dict[str, Any]:
    step = StepInput.model_validate(event)
    deps = deps or container()
    order = services.validate_order(step.order_key, deps.orders)
    return step_output(order, step.order_key)
