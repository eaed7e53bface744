"""SQS consumer: tell a store what happened to its order (shipment, completion, …), idempotently."""

from __future__ import annotations

from fulfillment import services
from fulfillment.model.writeback import WriteBackRequest
from fulfillment.queue_worker import queue_handler

lambda_handler = queue_handler(WriteBackRequest, services.write_back)
