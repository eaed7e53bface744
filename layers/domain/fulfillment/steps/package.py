"""Package order: boxes chosen by the packer, per destination; packages and weights recorded."""

from __future__ import annotations

from typing import Any

from fulfillment.model import Order, OrderStatus
from fulfillment.ports import StepDeps
from fulfillment.steps.advance import advance


def package_order(key: str, deps: StepDeps) -> Order:
    def pack(order: Order) -> dict[str, Any]:
        # Each destination's goods in their own boxes (a box goes to one address), only the units that ship.
        packages = [
            package.model_copy(update={"destination": destination})
            for destination, lines in order.by_destination()
            for package in deps.packer(order.model_copy(update={"lines": lines, "short": {}}))
        ]
        order.packages = packages
        return {"packages": len(packages), "weight_g": sum(package.weight_g for package in packages)}

    return advance(deps, key, OrderStatus.PACKAGED, "goods packed", pack)
