"""What the console shows, read (never written) from the local runtime's DynamoDB table and Step Functions."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from fulfillment.adapters.dynamodb import DynamoOrderRepository
from fulfillment.adapters.dynamodb_returns import DynamoReturnRepository
from fulfillment.model import Order, OrderStatus, TimelineEvent
from fulfillment.model.order import REPLACES_REF, fulfillment_execution_name
from fulfillment.model.returns import Return, ReturnEvent

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
    returns: int = 0


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


@dataclass(frozen=True)
class ReturnView:
    """One return of the order: the aggregate, its own timeline and its execution (when it started)."""

    ret: Return
    timeline: list[ReturnEvent]
    execution: ExecutionView | None


@dataclass(frozen=True)
class ReplacementView:
    """A replacement order of the order shown (``None`` when its key is known but it is not stored yet)."""

    key: str
    order: Order | None
    executions: list[ExecutionView]


@dataclass(frozen=True)
class OrderDetails:
    order: Order
    timeline: list[TimelineEvent]
    executions: list[ExecutionView]  # the order's own: its fulfillment, re-runs and returns
    returns: list[ReturnView] = field(default_factory=list)
    replacements: list[ReplacementView] = field(default_factory=list)
    replaces: Order | None = None


class ConsoleReads:
    def __init__(self, clients: ClientSource) -> None:
        self._clients = clients
        dynamodb = clients.client("dynamodb")
        self._orders = DynamoOrderRepository(os.environ["TABLE_NAME"], dynamodb)
        self._returns = DynamoReturnRepository(os.environ["TABLE_NAME"], dynamodb)

    def orders(self, status: OrderStatus | None = None) -> list[OrderRow]:
        """Newest first. Statuses are enumerated, not listed here, so new ones show up by themselves."""
        statuses = [status] if status else list(OrderStatus)
        found = [order for each in statuses for order in self._orders.list_by_status(each, limit=ORDERS_PER_STATUS)]
        rows = [
            OrderRow(order, self._last_update(order.key), len(self._returns.for_order(order.key))) for order in found
        ]
        return sorted(rows, key=lambda row: (row.last_update is not None, row.last_update), reverse=True)

    def details(self, order: Order) -> OrderDetails:
        """The order with its returns, and its executions split from those of its replacement orders."""
        returns = sorted(self._returns.for_order(order.key), key=lambda ret: ret.number)
        found = self.executions(order.execution_name())
        replacement_keys = _replacement_keys(order, returns, [execution.name for execution in found])
        candidates = {key: self._orders.get(key) for key in replacement_keys}
        replacements = {
            key: candidate
            for key, candidate in candidates.items()
            if candidate is None
            or candidate.platform_refs.get(REPLACES_REF) == order.key
            or key in order.returns.replacements
        }
        # An order merely named like a replacement (a store's own ``<id>-R1``) owns its executions too: not shown here.
        owners = {_execution_name_of(key): key for key in candidates}
        own, others = split_executions(found, owners)
        by_name = {execution.name: execution for execution in own}
        replaces_key = order.platform_refs.get(REPLACES_REF)
        return OrderDetails(
            order=order,
            timeline=self._orders.timeline(order.key),
            executions=own,
            returns=[
                ReturnView(ret, self._returns.timeline(ret.key), by_name.get(ret.execution_name())) for ret in returns
            ],
            replacements=[
                ReplacementView(key, replacement, others.get(key, [])) for key, replacement in replacements.items()
            ],
            replaces=self._orders.get(replaces_key) if replaces_key else None,
        )

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


def split_executions(
    executions: list[ExecutionView], owners: dict[str, str]
) -> tuple[list[ExecutionView], dict[str, list[ExecutionView]]]:
    """Executions found by the order's name prefix, split into its own and those of the orders in ``owners``.

    ``owners`` maps another order's fulfillment execution name (``<name>-R1`` of a replacement) to its key;
    the longest name that an execution belongs to wins, so ``<name>-R1-return1`` is the replacement's return.
    """
    own: list[ExecutionView] = []
    others: dict[str, list[ExecutionView]] = {}
    for execution in executions:
        matches = [name for name in owners if _belongs_to(execution.name, name)]
        if matches:
            others.setdefault(owners[max(matches, key=len)], []).append(execution)
        else:
            own.append(execution)
    return own, others


def _replacement_keys(order: Order, returns: list[Return], execution_names: list[str]) -> list[str]:
    """Replacement orders recorded on the order or its returns, and any named ``<id>-R<n>`` by an execution."""
    keys = list(order.returns.replacements)
    keys += [ret.replacement_order_key for ret in returns if ret.replacement_order_key]
    suffix = re.compile(rf"^{re.escape(order.execution_name())}-R(\d+)(?:-|$)")
    keys += [f"{order.key}-R{match[1]}" for name in execution_names if (match := suffix.match(name))]
    return list(dict.fromkeys(keys))


def _execution_name_of(key: str) -> str:
    store_id, _, external_id = key.partition(":")
    return fulfillment_execution_name(store_id, external_id)


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
