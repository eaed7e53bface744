"""The one place that builds adapters and AWS clients: lazily, on first use, once per warm container.

Handlers take a ``Container`` (tests build one with fakes assigned over its properties); in Lambda
they use ``container()``. Nothing here runs at import time, so cold starts pay only for what a
function touches.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, cast

from fulfillment.settings import Settings, get_settings

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from fulfillment.adapters.platforms.base import PlatformAdapters
    from fulfillment.model import Order
    from fulfillment.model.packaging import Item, Package
    from fulfillment.ports import (
        Carrier,
        DeliveryArchive,
        DeliveryLog,
        FetchQueue,
        InboundPlatform,
        Inventory,
        OrderRepository,
        OrderSource,
        PaymentGateway,
        PlatformPayments,
        ReturnRepository,
        SecretStore,
        StartQueue,
        StoreNotifier,
        StoreRegistry,
        StoreWriteBack,
        Warehouse,
        Workflow,
    )


class Container:
    def __init__(self, settings: Settings | None = None, session: Any = None) -> None:
        self._settings = settings
        self._session = session
        self._clients: dict[str, Any] = {}

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings()
        return self._settings

    def client(self, service: str) -> Any:
        """A boto3 client per service, with timeouts and standard retries (AWS_ENDPOINT_URL is honoured)."""
        if service not in self._clients:
            import boto3
            from botocore.config import Config

            session = self._session or boto3.session.Session()
            config = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
            self._clients[service] = session.client(service, config=config)  # type: ignore[call-overload]
        return self._clients[service]

    def queue_url_for(self, queue_arn: str) -> str | None:
        """The configured URL of a queue we consume, from the ARN in an SQS event."""
        name = queue_arn.rsplit(":", 1)[-1]
        for url in (self.settings.fetch_queue_url, self.settings.write_back_queue_url, self.settings.start_queue_url):
            if url.rstrip("/").endswith(f"/{name}"):
                return url
        return None

    @cached_property
    def orders(self) -> OrderRepository:
        from fulfillment.adapters.dynamodb import DynamoOrderRepository

        return DynamoOrderRepository(self.settings.table_name, self.client("dynamodb"))

    @cached_property
    def returns(self) -> ReturnRepository:
        from fulfillment.adapters.dynamodb_returns import DynamoReturnRepository

        return DynamoReturnRepository(self.settings.table_name, self.client("dynamodb"))

    @cached_property
    def stores(self) -> StoreRegistry:
        from fulfillment.adapters.dynamodb import DynamoStoreRegistry

        return DynamoStoreRegistry(self.settings.table_name, self.client("dynamodb"))

    @cached_property
    def secrets(self) -> SecretStore:
        from fulfillment.adapters.secrets import ssm_secrets

        return ssm_secrets(self.client("ssm"))

    @cached_property
    def workflow(self) -> Workflow:
        from fulfillment.adapters.stepfunctions import StepFunctionsWorkflow

        return StepFunctionsWorkflow(
            self.settings.state_machine_arn,
            self.client("stepfunctions"),
            return_state_machine_arn=self.settings.return_state_machine_arn,
        )

    @cached_property
    def platform_adapters(self) -> Mapping[str, PlatformAdapters]:
        from fulfillment.adapters.http_client import HttpClient
        from fulfillment.adapters.platforms.registry import build_platforms

        return build_platforms(HttpClient(timeout=4.0, attempts=3))

    @cached_property
    def platforms(self) -> Mapping[str, InboundPlatform]:
        from fulfillment.adapters.platforms.registry import Projection

        return Projection(self.platform_adapters, lambda adapters: adapters.inbound)

    @cached_property
    def order_sources(self) -> Mapping[str, OrderSource]:
        from fulfillment.adapters.platforms.registry import Projection

        return Projection(self.platform_adapters, lambda adapters: adapters.source)

    @cached_property
    def write_backs(self) -> Mapping[str, StoreWriteBack]:
        from fulfillment.adapters.platforms.registry import Projection

        return Projection(self.platform_adapters, lambda adapters: adapters.write_back)

    @cached_property
    def platform_payments(self) -> Mapping[str, PlatformPayments]:
        from fulfillment.adapters.platforms.registry import Projection

        return Projection(self.platform_adapters, lambda adapters: adapters.payments)

    @cached_property
    def deliveries(self) -> DeliveryLog:
        from fulfillment.adapters.dynamodb import DynamoDeliveryLog

        return DynamoDeliveryLog(self.settings.table_name, self.client("dynamodb"))

    @cached_property
    def archive(self) -> DeliveryArchive:
        from fulfillment.adapters.dynamodb import DynamoDeliveryArchive
        from fulfillment.adapters.s3 import S3Bodies

        bucket = self.settings.archive_bucket
        bodies = S3Bodies(bucket, self.client("s3")) if bucket else None
        return DynamoDeliveryArchive(self.settings.table_name, self.client("dynamodb"), bodies=bodies)

    @cached_property
    def fetches(self) -> FetchQueue:
        from fulfillment.adapters.sqs import SqsFetchQueue

        return SqsFetchQueue(self.settings.fetch_queue_url, self.client("sqs"))

    @cached_property
    def starts(self) -> StartQueue:
        from fulfillment.adapters.sqs import SqsStartQueue

        return SqsStartQueue(self.settings.start_queue_url, self.client("sqs"))

    @cached_property
    def notifier(self) -> StoreNotifier:
        from fulfillment.adapters.sqs import SqsStoreNotifier

        return SqsStoreNotifier(self.settings.write_back_queue_url, self.client("sqs"))

    @cached_property
    def carrier(self) -> Carrier:
        from fulfillment.adapters.easypost_carrier import EasyPostCarrier

        return EasyPostCarrier(self.settings.easypost_api_base or None)

    @cached_property
    def warehouse(self) -> Warehouse:
        from fulfillment.adapters.partners import HttpWarehouse

        return HttpWarehouse(self.settings.warehouse_api_url)

    @cached_property
    def inventory(self) -> Inventory:
        from fulfillment.adapters.inventory_dynamodb import DynamoInventory

        return DynamoInventory(self.settings.table_name, self.client("dynamodb"), self.settings.warehouse_name)

    @cached_property
    def payments(self) -> PaymentGateway:
        from fulfillment.adapters.payment_gateway import StripePaymentGateway
        from fulfillment.adapters.secrets import KeyedClient

        # The API key is looked up at every use through the secrets' bounded cache: a rotated key is picked up.
        gateway = KeyedClient(
            lambda: self.secrets.get(self.settings.payment_secret_ref),
            lambda api_key: StripePaymentGateway(self.settings.payment_api_url, api_key),
        )
        return cast("PaymentGateway", gateway)

    @cached_property
    def catalog(self) -> Mapping[str, Item]:
        from fulfillment.adapters.catalog import default_catalog

        return default_catalog()[0]

    @cached_property
    def packer(self) -> Callable[[Order], list[Package]]:
        from fulfillment.adapters.catalog import default_catalog
        from fulfillment.model.packaging import lines_for, pack

        catalog, boxes = default_catalog()
        return lambda order: pack(lines_for(order, catalog), boxes)


@lru_cache(maxsize=1)
def container() -> Container:
    return Container()
