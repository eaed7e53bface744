"""SQS event source mappings, emulated: poll a queue, invoke the function with SQS events.

Like Lambda's poller: batches up to the mapping's size, deletes what succeeded, leaves failed
messages (all of them, or only ``batchItemFailures`` with ReportBatchItemFailures) to reappear
after the visibility timeout; the queue's redrive policy moves them to the DLQ in the end.
"""

from __future__ import annotations

import json
from typing import Any

from local.background import BackgroundLoop
from local.lambdas import LocalFunction
from local.template import ACCOUNT, REGION, QueueSource


class QueuePoller(BackgroundLoop):
    def __init__(self, source: QueueSource, queue_name: str, queue_url: str, function: LocalFunction, sqs: Any) -> None:
        super().__init__(f"poll-{queue_name}")
        self._source = source
        self._arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
        self._url = queue_url
        self._function = function
        self._sqs = sqs
        self.batches = 0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception:  # the endpoint going away at shutdown, mostly
                self._stop.wait(0.5)

    def poll_once(self, wait_seconds: int = 0) -> int:
        answer = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=min(10, self._source.batch_size),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        self.batches += 1
        result = self._function.invoke({"Records": [self._record(message) for message in messages]})
        if result.error_type is not None:
            return len(messages)  # the whole batch comes back after the visibility timeout
        failed = set()
        if self._source.partial_failures and isinstance(result.payload, dict):
            failed = {item["itemIdentifier"] for item in result.payload.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._arn,
            "awsRegion": REGION,
        }


def local_queue_attributes(properties: dict[str, Any], visibility_seconds: int) -> dict[str, str]:
    """CloudFormation queue properties as CreateQueue attributes, with a short local visibility timeout."""
    attributes = {"VisibilityTimeout": str(visibility_seconds)}
    if properties.get("FifoQueue"):
        attributes["FifoQueue"] = "true"
    if "RedrivePolicy" in properties:
        attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
    if "MessageRetentionPeriod" in properties:
        attributes["MessageRetentionPeriod"] = str(properties["MessageRetentionPeriod"])
    return attributes
