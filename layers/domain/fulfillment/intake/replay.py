"""An operator replays a kept delivery through intake (``fulfillment webhooks replay``)."""

from __future__ import annotations

from fulfillment.errors import DeliveryNotFound
from fulfillment.intake.receive import receive_webhook
from fulfillment.intake.result import IntakeResult
from fulfillment.ports import IntakeDeps


def replay_delivery(store_id: str, delivery_id: str, deps: IntakeDeps) -> IntakeResult:
    """Run a stored delivery through intake again, as if it arrived now for the first time.

    Its signature is verified again over the stored bytes, with the current secret: a body changed in storage,
    or a rotated secret, is refused. The duplicate-delivery log is bypassed (re-running is the point); the
    newest-snapshot-wins rule is not, so replaying an older snapshot of a newer order changes nothing.
    """
    stored = deps.archive.get(store_id, delivery_id)
    if stored is None:
        raise DeliveryNotFound(f"no stored delivery {delivery_id!r} for store {store_id!r} (kept 30 days)")
    # Verified "as of" its arrival: a timestamped scheme's freshness window (replay protection against
    # captured deliveries) is thereby skipped, and only that: the delivery was fresh when it arrived,
    # and its bytes are unchanged, which the signature check still proves.
    arrived = stored.received_at.timestamp()
    return receive_webhook(stored.platform, stored.store_id, stored.request, deps, now=arrived, replay=True)
