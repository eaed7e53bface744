"""moto-backed AWS resources built from template.yaml, and a Container wired to them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fulfillment.adapters.dynamodb import DynamoStoreRegistry
from fulfillment.adapters.http_client import HttpClient
from fulfillment.bootstrap import Container
from fulfillment.model.store import Store
from fulfillment.settings import Settings
from local.stub_api import StubApi
from local.template import LocalTemplate
from tests.conftest import ROOT

STORE_ID = "kaffeekontor"
SECRET = "test-secret"


@dataclass
class AwsStack:
    table_name: str
    state_machine_arn: str
    dynamodb: Any
    sfn: Any
    deps: Container

    def items(self) -> list[dict[str, Any]]:
        """Every item except the store registry entry the fixture put there."""
        items = self.dynamodb.scan(TableName=self.table_name)["Items"]
        return [item for item in items if not item["PK"]["S"].startswith("STORE#")]

    def executions(self) -> list[dict[str, Any]]:
        return list(self.sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"])


@pytest.fixture
def aws() -> Iterator[AwsStack]:
    with mock_aws():  # executions are recorded, not run: intake tests stop at StartExecution
        template = LocalTemplate(ROOT)
        dynamodb = boto3.client("dynamodb")
        for table in template.tables():
            props = template.resolve(table.properties)
            keys = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
            dynamodb.create_table(TableName=table.logical_id, **{key: props[key] for key in keys})
        sfn = boto3.client("stepfunctions")
        machine = template.state_machines()[0]
        arn = sfn.create_state_machine(
            name=machine.name,
            definition=json.dumps(machine.definition),
            roleArn="arn:aws:iam::123456789012:role/test",
        )["stateMachineArn"]
        ssm = boto3.client("ssm")
        ref = f"/fulfillment/dev/stores/{STORE_ID}/webhook-secret"
        ssm.put_parameter(Name=ref, Value=SECRET, Type="SecureString")
        DynamoStoreRegistry("FulfillmentTable", dynamodb).put(
            Store(store_id=STORE_ID, platform="woocommerce", secret_ref=ref)
        )
        deps = Container(Settings(table_name="FulfillmentTable", state_machine_arn=arn))
        yield AwsStack("FulfillmentTable", arn, dynamodb, sfn, deps)


# A platform's stub on its own loopback port, and the client the adapters call it with (no real sleeps): the
# platform API tests' shared pair (a module may define its own, e.g. to record the sleeps).
@pytest.fixture
def api() -> Iterator[StubApi]:
    with StubApi(name="platform-stub") as stub:
        yield stub


@pytest.fixture
def http() -> HttpClient:
    return HttpClient(timeout=5.0, attempts=2, base_delay=0.01, sleep=lambda _: None)
