"""What the console shows, read (never written) from the local runtime's DynamoDB table and Step Functions."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from fulfillment.adapters.dynamodb import DynamoOrderRepository
from fulfillment.model import Order, OrderStatus, TimelineEvent

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.client import SFNClient

ORDERS_PER_STATUS = 200


class ClientSource(Protocol):
    """The runtime: boto3 clients against its AWS endpoint."""

    def client(self, service: str) -> Any: ...


@dataclass(frozen=True)
class OrderRow:
    order: Order
    last_update: datetime | None


@dataclass(frozen=True)
class HistoryRow:
    """One row of an execution's event history, as the AWS console lists it."""

    event_id: int
    event_type: str
    state: str
    timestamp: datetime
    elapsed_ms: int


@dataclass(frozen=True)
class ExecutionView:
    name: str
    arn: str
    status: str
    state_machine: str
    definition: dict[str, Any]
    started: datetime
    stopped: datetime | None
    history: list[HistoryRow]

    @property
    def path(self) -> list[str]:
        return [row.state for row in self.history if row.event_type.endswith("StateEntered")]


class ConsoleReads:
    def __init__(self, clients: ClientSource) -> None:
        self._clients = clients
        self._orders = DynamoOrderRepository(os.environ["TABLE_NAME"], clients.client("dynamodb"))

    def orders(self, status: OrderStatus | None = None) -> list[OrderRow]:
        """Newest first. Statuses are enumerated, not listed here, so new ones show up by themselves."""
        statuses = [status] if status else list(OrderStatus)
        found = [order for each in statuses for order in self._orders.list_by_status(each, limit=ORDERS_PER_STATUS)]
        rows = [OrderRow(order, self._last_update(order.key)) for order in found]
        return sorted(rows, key=lambda row: (row.last_update is not None, row.last_update), reverse=True)

    def _last_update(self, key: str) -> datetime | None:
        timeline = self._orders.timeline(key)
        return timeline[-1].at if timeline else None

    def order(self, key: str) -> Order | None:
        return self._orders.get(key)

    def timeline(self, key: str) -> list[TimelineEvent]:
        return self._orders.timeline(key)

    def executions(self, execution_name: str) -> list[ExecutionView]:
        """Every execution named after the order (re-runs and returns add ``-<suffix>``), in any state machine."""
        sfn: SFNClient = self._clients.client("stepfunctions")
        views = []
        for machine in _state_machines(sfn):
            related = [
                execution
                for execution in _executions(sfn, machine["stateMachineArn"])
                if _belongs_to(execution["name"], execution_name)
            ]
            if not related:
                continue
            definition = json.loads(
                sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"]
            )
            views += [_view(sfn, execution, machine["name"], definition) for execution in related]
        return sorted(views, key=lambda view: (view.started, view.name))


def _belongs_to(name: str, execution_name: str) -> bool:
    # A bare prefix would also match another order's name (kaffeekontor_9 vs kaffeekontor_90).
    return name == execution_name or name.startswith(f"{execution_name}-")


def _state_machines(sfn: SFNClient) -> list[dict[str, Any]]:
    machines: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = sfn.list_state_machines(**kwargs)
        machines += [dict(machine) for machine in page["stateMachines"]]
        if not page.get("nextToken"):
            return sorted(machines, key=lambda machine: machine["name"])
        kwargs["nextToken"] = page["nextToken"]


def _executions(sfn: SFNClient, machine_arn: str) -> list[dict[str, Any]]:
    executions: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"stateMachineArn": machine_arn}
    while True:
        page = sfn.list_executions(**kwargs)
        executions += [dict(execution) for execution in page["executions"]]
        if not page.get("nextToken"):
            return executions
        kwargs["nextToken"] = page["nextToken"]


def _view(sfn: SFNClient, execution: dict[str, Any], machine: str, definition: dict[str, Any]) -> ExecutionView:
    return ExecutionView(
        name=execution["name"],
        arn=execution["executionArn"],
        status=execution["status"],
        state_machine=machine,
        definition=definition,
        started=execution["startDate"],
        stopped=execution.get("stopDate"),
        history=_history(sfn, execution["executionArn"]),
    )


def _history(sfn: SFNClient, execution_arn: str) -> list[HistoryRow]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += [dict(event) for event in page["events"]]
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return _history_rows(events)


def _history_rows(events: list[dict[str, Any]]) -> list[HistoryRow]:
    """Task events carry no state name; like the AWS console, they are shown under the state they run in."""
    rows: list[HistoryRow] = []
    state = ""
    first = events[0]["timestamp"] if events else None
    for event in events:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
        if details:
            state = details["name"]
        elif event["type"].startswith("Execution"):
            state = ""
        elapsed = int((event["timestamp"] - first).total_seconds() * 1000) if first else 0
        rows.append(HistoryRow(event["id"], event["type"], state, event["timestamp"], elapsed))
        if event["type"].endswith("StateExited"):
            state = ""
    return rows
