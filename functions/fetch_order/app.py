"""SQS consumer: fetch a thin delivery's order from the store platform's API and record it."""

from __future__ import annotations

from fulfillment.edge.queue import queue_handler
from fulfillment.intake.fetch import fetch_and_record
from fulfillment.model.inbound import FetchRequest

lambda_handler = queue_handler(FetchRequest, fetch_and_record)
