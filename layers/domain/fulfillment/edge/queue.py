"""SQS consumers: Powertools partial batch processing (SqsFifoPartialProcessor for the FIFO queues), one use
case per message.

A message that fails stays in the queue and comes back after its visibility timeout; when the
platform said how long to wait (``Retry-After``), the message is made invisible for exactly that
long, and a consumer given a ``backoff`` makes a transient failure wait ``backoff(receive count)``.
After the queue's maxReceiveCount it moves to the dead-letter queue, where ops can see and
replay it — an accepted delivery is never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from fulfillment.errors import TransientError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from fulfillment.bootstrap import Container

QueueHandler = Callable[..., "PartialItemFailureResponse"]
_MAX_VISIBILITY = 12 * 3600


def _queue_url(record: SQSRecord) -> str:
    _, _, _, region, account, name = record.event_source_arn.split(":", 5)
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def queue_handler[Message: BaseModel](
    model: type[Message],
    run: Callable[[Message, Container], Any],
    *,
    fifo: bool = True,
    backoff: Callable[[int], float] | None = None,
) -> QueueHandler:
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        SqsFifoPartialProcessor,
        process_partial_response,
    )

    from fulfillment.bootstrap import container
    from fulfillment.edge.observability import logger as make_logger
    from fulfillment.edge.observability import traced

    logger = make_logger()
    # Both queues are FIFO, one message group per order: after a failure, the rest of that order's messages in
    # the batch are not processed but returned (a "completed" must never reach a store before a failed "shipped"
    # is retried); other orders' messages go on.
    # A standard queue (the start queue) has no groups: each message succeeds or fails alone.
    processor = SqsFifoPartialProcessor(skip_group_on_error=True) if fifo else BatchProcessor(EventType.SQS)

    @logger.inject_lambda_context(clear_state=True)
    @traced
    def lambda_handler(
        event: dict[str, Any], context: LambdaContext, deps: Container | None = None
    ) -> PartialItemFailureResponse:
        resolved = deps or container()

        def handle(record: SQSRecord) -> Any:
            message = model.model_validate_json(record.body)
            try:
                return run(message, resolved)
            except TransientError as error:
                wait = error.retry_after or (
                    backoff(int(record.attributes.approximate_receive_count)) if backoff else 0
                )
                if wait:
                    resolved.client("sqs").change_message_visibility(
                        QueueUrl=resolved.queue_url_for(record.event_source_arn) or _queue_url(record),
                        ReceiptHandle=record.receipt_handle,
                        VisibilityTimeout=min(_MAX_VISIBILITY, max(1, int(wait))),
                    )
                raise

        return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)

    return lambda_handler
