"""SQS consumer: tell a store what happened to its order (shipment, completion, …), idempotently."""

from __future__ import annotations

from fulfillment.edge.queue import queue_handler
from fulfillment.model.writeback import WriteBackRequest
from fulfillment.write_back import write_back

lambda_handler = queue_handler(WriteBackRequest, write_back)
