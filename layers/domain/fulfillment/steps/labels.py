"""Labels: one carrier shipment per package, bought exactly once, and refunded while the carrier has not the parcel.

Exactly once: the shipment id is saved on its package before the label is bought, so a retried or re-run step
asks the carrier for that shipment (``Carrier.shipment``) and keeps the label it already has instead of buying a
second one; a label bought by an attempt that crashed before saving it is found the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from fulfillment.errors import ShipmentRejected
from fulfillment.model import Money, Order
from fulfillment.model.packaging import Package
from fulfillment.model.payment import PaymentMethod, amount_to_collect, payment_method
from fulfillment.model.shipping import (
    CarrierCredentials,
    Customs,
    CustomsLine,
    Shipment,
    ShipmentRequest,
    ShippingProfile,
    choose_rate,
)
from fulfillment.model.store import StoreCredentials
from fulfillment.ports import StepDeps


@dataclass(frozen=True)
class Account:
    """The store's carrier account and shipping settings."""

    profile: ShippingProfile
    credentials: CarrierCredentials


def account_for(order: Order, deps: StepDeps) -> Account:
    store = deps.stores.get(order.store_id)
    if store is None or store.shipping is None:
        raise ShipmentRejected(f"store {order.store_id} has no shipping settings (ship-from address, rate policy)")
    credentials = StoreCredentials.from_secret(deps.secrets.get(store.secret_ref)).easypost
    if credentials is None:
        raise ShipmentRejected(f"store {order.store_id} has no EasyPost API key in its secret")
    return Account(store.shipping, credentials)


def shipment_request(order: Order, index: int, profile: ShippingProfile, deps: StepDeps) -> ShipmentRequest:
    package = order.packages[index]
    ship_to = order.ship_to(package)
    return ShipmentRequest(
        reference=f"{order.attempt_ref()}:p{index + 1}",
        ship_to=ship_to,
        ship_to_email=order.customer.email or "",
        ship_from=profile.ship_from,
        ship_from_email=profile.email,
        dims_mm=package.dims_mm,
        weight_g=package.weight_g,
        customs=_customs(order, package, profile, deps) if ship_to.country != profile.ship_from.country else None,
        label_format=profile.label_format,
        label_size=profile.label_size,
        carrier_accounts=profile.carrier_accounts,
        invoice_number=order.number,
        cod_amount=_cash_to_collect(order, index),
    )


def _cash_to_collect(order: Order, index: int) -> Money | None:
    """Cash on delivery: the carrier is told to collect what the customer owes, once, with the first parcel (every
    parcel collecting it would take the money as many times as there are parcels)."""
    if index != 0 or payment_method(order) is not PaymentMethod.CASH_ON_DELIVERY:
        return None
    owed = amount_to_collect(order)
    return owed if owed.minor > 0 else None


def _customs(order: Order, package: Package, profile: ShippingProfile, deps: StepDeps) -> Customs:
    """What is in the parcel, from the catalogue (description, HS code, origin, weight) and the order (value)."""
    prices: dict[str, Money] = {}
    for line in order.lines:
        prices.setdefault(line.sku, line.unit_price)
    lines = []
    for sku, quantity in package.items:
        item = deps.catalog.get(sku)
        if item is None or not item.hs_code or not item.origin_country:
            raise ShipmentRejected(f"{sku} leaves {profile.ship_from.country}: the catalogue has no HS code or origin")
        lines.append(
            CustomsLine(
                description=item.name or sku,
                quantity=quantity,
                weight_g=item.weight_g * quantity,
                value=prices[sku].times(quantity),
                hs_code=item.hs_code,
                origin_country=item.origin_country,
            )
        )
    return Customs(signer=profile.customs_signer or profile.ship_from.name, lines=tuple(lines))


def buy_labels(order: Order, deps: StepDeps) -> Order:
    """Buy each package's label once, in two passes: create every missing shipment and save their ids (one save,
    before anything is bought), then buy each shipment's label. A retry or re-run retrieves each saved shipment
    and keeps a label already bought (EasyPost: a bought shipment carries its postage_label), so nothing is
    bought twice; the labels themselves are saved with the step's own save. Two saves, not two per package: an
    order of hundreds of parcels stays within the step's time. A crash between creating shipments and saving
    their ids leaves unbought shipments behind, which cost nothing."""
    if not order.packages:
        raise ShipmentRejected(f"order {order.key} has no packages to ship")
    account = account_for(order, deps)
    key = account.credentials.api_key
    created: dict[int, Shipment] = {}
    for index, package in enumerate(order.packages):
        if package.label is None and package.shipment_id is None:
            created[index] = deps.carrier.create_shipment(key, shipment_request(order, index, account.profile, deps))
            order.record_shipment(index, deps.carrier.name, created[index].id)
    if created:
        deps.orders.save(order)  # before buying: a retry finds these shipments instead of buying others
    for index, package in enumerate(order.packages):
        if package.label is not None or package.shipment_id is None:
            continue
        shipment = created.get(index) or deps.carrier.shipment(key, package.shipment_id)
        if shipment.label is None:
            rate = choose_rate(
                shipment.rates, account.profile.rate_policy, order.ship_to(package).country, package.weight_g
            )
            shipment = deps.carrier.buy(key, shipment.id, rate.id)
        if shipment.label is None:
            raise ShipmentRejected(f"EasyPost sold no label for shipment {shipment.id}")
        order.packages[index] = package.model_copy(update={"label": shipment.label})
    return order


def refund_labels(order: Order, deps: StepDeps) -> tuple[list[str], list[str]]:
    """Ask for the postage of every bought label the carrier does not have yet, once per package (the refund
    status is recorded; a retry asks the carrier first). Returns what was refunded and what was not, and why."""
    refunded: list[str] = []
    kept: list[str] = []
    if not any(package.shipment_id for package in order.packages):
        return refunded, kept
    key = account_for(order, deps).credentials.api_key
    for index, package in enumerate(order.packages):
        if package.shipment_id is None or package.refund_status is not None:
            continue
        name = f"package {index + 1}"
        if package.handed_over:
            kept.append(f"{name} is already with the carrier ({package.tracking_status}): its label is not refunded")
            continue
        shipment = deps.carrier.shipment(key, package.shipment_id)
        label = shipment.label
        if label is None:
            continue  # created, never bought: nothing was paid
        if shipment.refund_status is None:
            shipment = deps.carrier.refund(key, package.shipment_id)
        order.packages[index] = package.model_copy(update={"refund_status": shipment.refund_status or "submitted"})
        deps.orders.save(order)
        refunded.append(f"{name} label {label.tracking_number} refund {shipment.refund_status}")
    return refunded, kept


def package_rows(order: Order) -> list[dict[str, object]]:
    """Per package: box, weight, and once shipped its carrier, service, tracking number and URL, label URL, cost,
    tracking and refund status — what the ship step records, ``orders show`` and the console list."""
    rows: list[dict[str, object]] = []
    for number, package in enumerate(order.packages, start=1):
        label = package.label
        rows.append(
            {
                "package": number,
                "box": package.box_code,
                "weight_g": package.weight_g,
                "shipment_id": package.shipment_id,
                "carrier": label.carrier if label else None,
                "service": label.service if label else None,
                "tracking_number": label.tracking_number if label else None,
                "tracking_url": label.tracking_url if label else None,
                "label_url": label.label_url if label else None,
                "cost": str(label.cost) if label and label.cost else None,
                "tracking_status": package.tracking_status,
                "refund_status": package.refund_status,
            }
        )
    return rows
