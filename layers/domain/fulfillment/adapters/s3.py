"""S3 for what outgrows a DynamoDB item: the bodies of large kept webhook deliveries (``DeliveryArchiveBucket``).

The bucket expires objects after 30 days (its lifecycle rule), as the table's TTL expires the items that name them.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from fulfillment.errors import TransientError

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

_TRANSIENT = frozenset({"SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"})


class S3Bodies:
    def __init__(self, bucket: str, client: S3Client) -> None:
        self._bucket = bucket
        self._client = client

    def put(self, prefix: str, name: str, body: bytes) -> str:
        """Store ``body`` under a key derived from ``name`` (any characters, any length); returns the key."""
        key = f"{prefix}/{hashlib.sha256(name.encode()).hexdigest()}"
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body)
        except ClientError as error:
            if error.response["Error"]["Code"] in _TRANSIENT:
                raise TransientError(f"S3 {error.response['Error']['Code']} on {key}") from error
            raise
        return key

    def get(self, key: str) -> bytes | None:
        """The body, or None once the lifecycle rule expired it."""
        try:
            return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except self._client.exceptions.NoSuchKey:
            return None
