"""The contract between the state machine and its Lambda tasks: keys in, keys out."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from fulfillment.model import Order


class StepInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_key: str = Field(min_length=3)


class CallbackStepInput(StepInput):
    task_token: str = Field(min_length=1)


class StepError(BaseModel):
    Error: str = "Unknown"
    Cause: str = ""


class FailureInput(StepInput):
    error: StepError = Field(default_factory=StepError)


def step_output(order: Order | None, key: str) -> dict[str, str]:
    return {"order_key": key, "status": str(order.status) if order else "UNKNOWN"}
