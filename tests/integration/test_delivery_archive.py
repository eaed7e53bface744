"""DynamoDeliveryArchive against moto: kept bytes round-trip exactly, newest first, large bodies compressed or in S3."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from fulfillment.adapters.dynamodb import DynamoDeliveryArchive
from fulfillment.adapters.s3 import S3Bodies
from fulfillment.model.store import WebhookRequest
from fulfillment.ports import StoredDelivery
from tests.integration.conftest import AwsStack

ARRIVED = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def delivery(body: bytes, delivery_id: str, minutes: int = 0, order: str | None = "4711") -> StoredDelivery:
    return StoredDelivery(
        platform="woocommerce",
        store_id="kaffeekontor",
        delivery_id=delivery_id,
        received_at=ARRIVED + timedelta(minutes=minutes),
        request=WebhookRequest(body=body, headers={"content-type": "application/json", "x-wc-webhook-signature": "s"}),
        topic="order.updated",
        external_order_id=order,
    )


@pytest.fixture
def archive(aws: AwsStack) -> DynamoDeliveryArchive:
    return DynamoDeliveryArchive(aws.table_name, aws.dynamodb)


def test_a_kept_delivery_round_trips_exactly_and_expires_in_30_days(
    archive: DynamoDeliveryArchive, aws: AwsStack, woo_paid_body: bytes
) -> None:
    assert archive.keep(delivery(woo_paid_body, "d-1"))

    assert archive.get("kaffeekontor", "d-1") == delivery(woo_paid_body, "d-1")
    item = aws.dynamodb.query(
        TableName=aws.table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "WEBHOOK#kaffeekontor"}},
    )["Items"][0]
    assert int(item["expires_at"]["N"]) == int(ARRIVED.timestamp()) + 30 * 24 * 3600


def test_a_large_body_is_compressed_and_a_huge_one_not_kept(archive: DynamoDeliveryArchive) -> None:
    large = b'{"note": "' + b"x" * 200_000 + b'"}'
    huge = os.urandom(400_000)  # incompressible

    assert archive.keep(delivery(large, "large"))
    assert not archive.keep(delivery(huge, "huge"))

    kept = archive.get("kaffeekontor", "large")
    assert kept is not None and kept.request.body == large
    assert archive.get("kaffeekontor", "huge") is None


def test_listed_newest_first_and_by_order(archive: DynamoDeliveryArchive) -> None:
    for minutes, (delivery_id, order) in enumerate((("a", "1"), ("b", "2"), ("c", "1"))):
        archive.keep(delivery(b"{}", delivery_id, minutes, order))

    assert [kept.delivery_id for kept in archive.list("kaffeekontor")] == ["c", "b", "a"]
    assert [kept.delivery_id for kept in archive.list("kaffeekontor", "1")] == ["c", "a"]
    assert [kept.delivery_id for kept in archive.list("kaffeekontor", limit=1)] == ["c"]
    assert archive.list("other-shop") == []


def test_a_body_too_large_for_an_item_is_kept_whole_in_s3(aws: AwsStack) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="deliveryarchivebucket")
    archive = DynamoDeliveryArchive(aws.table_name, aws.dynamodb, bodies=S3Bodies("deliveryarchivebucket", s3))
    huge = os.urandom(1024 * 1024)  # incompressible, at the intake's limit

    assert archive.keep(delivery(huge, "huge"))

    kept = archive.get("kaffeekontor", "huge")
    assert kept is not None and kept.request.body == huge
    (item,) = [item for item in aws.items() if item["PK"]["S"] == "WEBHOOK#kaffeekontor"]
    assert "body_zlib" not in item and "body" not in item  # the item names the object, no more
    assert s3.get_object(Bucket="deliveryarchivebucket", Key=item["body_s3_key"]["S"])["Body"].read() == huge
    assert archive.list("kaffeekontor") == [kept]
