"""Package order: boxes chosen by the packer; packages and weights recorded."""

from __future__ import annotations

from typing import Any

from fulfillment.model import Order, OrderStatus
from fulfillment.ports import StepDeps
from fulfillment.steps.advance import advance


def package_order(key: str, deps: StepDeps) -> Order:
    def pack(order: Order) -> dict[str, Any]:
        packages = deps.packer(order)
        order.packages = packages
        return {"packages": len(packages), "weight_g": sum(package.weight_g for package in packages)}

    return advance(deps, key, OrderStatus.PACKAGED, "goods packed", pack)
