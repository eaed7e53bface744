"""SQS consumer: fetch a thin delivery's order from the store platform's API and record it."""

from __future__ import annotations

from fulfillment import services
from fulfillment.model.inbound import FetchRequest
from fulfillment.queue_worker import queue_handler

lambda_handler = queue_handler(FetchRequest, services.fetch_and_record)
