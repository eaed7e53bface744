"""SQS queues: thin deliveries waiting to be fetched, the write-back outbox (FIFO), and starts waiting (standard).

Both are FIFO with content-independent deduplication ids, so a retried step or a redelivered
webhook within SQS's five-minute window enqueues nothing new; beyond it, the consumers are
idempotent themselves. Write-backs are grouped per order so a store hears "shipped" before
"completed".
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from fulfillment.errors import TransientError
from fulfillment.model.inbound import FetchRequest, StartRequest
from fulfillment.model.writeback import WriteBackRequest

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


def _dedupe(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()  # ids allow 128 chars of a limited set


class _FifoQueue:
    def __init__(self, queue_url: str, client: SQSClient) -> None:
        self._url = queue_url
        self._client = client

    def _send(self, body: str, group: str, dedupe: str) -> None:
        try:
            self._client.send_message(
                QueueUrl=self._url,
                MessageBody=body,
                MessageGroupId=_dedupe(group)[:128],
                MessageDeduplicationId=_dedupe(dedupe),
            )
        except ClientError as error:
            raise TransientError(f"SQS {error.response['Error']['Code']}") from error


class SqsFetchQueue(_FifoQueue):
    def enqueue(self, request: FetchRequest) -> None:
        dedupe = f"{request.platform}:{request.store_id}:{request.event_id or request.external_order_id}"
        self._send(request.model_dump_json(), f"{request.store_id}:{request.external_order_id}", dedupe)


class SqsStoreNotifier(_FifoQueue):
    def notify(self, request: WriteBackRequest) -> None:
        self._send(request.model_dump_json(), request.order_key, request.dedupe_id)


class SqsStartQueue:
    """Starts that failed at once. A standard queue: starts have no order to keep, and a duplicate message
    is harmless (the execution name is the order's), so FIFO's 300 sends a second would only be a limit."""

    def __init__(self, queue_url: str, client: SQSClient) -> None:
        self._url = queue_url
        self._client = client

    def request(self, request: StartRequest) -> None:
        try:
            self._client.send_message(QueueUrl=self._url, MessageBody=request.model_dump_json())
        except ClientError as error:
            raise TransientError(f"SQS {error.response['Error']['Code']}") from error
