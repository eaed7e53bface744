"""Runtime settings, read from the environment the template gives each function, once per container."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel


class Settings(BaseModel):
    table_name: str
    state_machine_arn: str = ""
    return_state_machine_arn: str = ""
    stage: str = "dev"
    easypost_api_base: str = ""  # the SDK's default (EasyPost's API) when empty; locally, the stub
    warehouse_api_url: str = ""
    warehouse_name: str = "main"
    payment_api_url: str = ""
    fetch_queue_url: str = ""
    write_back_queue_url: str = ""
    start_queue_url: str = ""
    archive_bucket: str = ""  # kept webhook bodies too large for a DynamoDB item

    def warehouse_secret_ref(self, warehouse: str) -> str:
        return f"/fulfillment/{self.stage}/warehouses/{warehouse}/webhook-secret"

    @property
    def payment_secret_ref(self) -> str:
        return f"/fulfillment/{self.stage}/payments/api-key"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    return Settings(
        table_name=env["TABLE_NAME"],
        state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
        return_state_machine_arn=env.get("RETURN_STATE_MACHINE_ARN", ""),
        stage=env.get("STAGE", "dev"),
        easypost_api_base=env.get("EASYPOST_API_BASE", ""),
        warehouse_api_url=env.get("WAREHOUSE_API_URL", ""),
        warehouse_name=env.get("WAREHOUSE_NAME", "main"),
        payment_api_url=env.get("PAYMENT_API_URL", ""),
        fetch_queue_url=env.get("FETCH_QUEUE_URL", ""),
        write_back_queue_url=env.get("WRITE_BACK_QUEUE_URL", ""),
        start_queue_url=env.get("START_QUEUE_URL", ""),
        archive_bucket=env.get("ARCHIVE_BUCKET", ""),
    )
