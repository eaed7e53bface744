"""A store rotating its webhook secret: the previous one is accepted until it lapses, then refused, nothing written."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from fulfillment.errors import InvalidSignature
from fulfillment.intake.receive import receive_webhook
from fulfillment.model import OrderStatus
from tests.fakes import SECRET_REF, STORE_ID, TEST_SECRET, FakeSecretStore, woo_sign
from tests.unit.services.test_intake import KEY, Intake, signed

NEW_SECRET = "rotated-secret"


def rotating(previous_valid_until: datetime) -> Intake:
    """A store whose secret was rotated from TEST_SECRET to NEW_SECRET, the old one accepted until then."""
    secret = {
        "webhook_secret": NEW_SECRET,
        "previous_webhook_secret": TEST_SECRET,
        "previous_valid_until": previous_valid_until.isoformat(),
    }
    return Intake(secrets=FakeSecretStore({SECRET_REF: json.dumps(secret)}))


def test_a_delivery_signed_with_the_previous_secret_during_the_rotation_is_accepted(woo_paid_body: bytes) -> None:
    intake = rotating(datetime.now(UTC) + timedelta(hours=1))

    result = intake.deliver(signed(woo_paid_body))  # signed with TEST_SECRET, the previous one

    assert (result.outcome, result.status, result.fulfillment_started) == ("accepted", OrderStatus.RECEIVED, True)
    assert intake.stored(KEY).status is OrderStatus.RECEIVED


def test_a_delivery_signed_with_the_new_secret_is_accepted(woo_paid_body: bytes) -> None:
    intake = rotating(datetime.now(UTC) + timedelta(hours=1))

    result = intake.deliver(signed(woo_paid_body, woo_sign(NEW_SECRET, woo_paid_body)))

    assert result.status is OrderStatus.RECEIVED


def test_after_the_previous_secret_lapses_its_deliveries_are_refused_and_nothing_is_written(
    woo_paid_body: bytes,
) -> None:
    intake = rotating(datetime.now(UTC) - timedelta(seconds=1))

    with pytest.raises(InvalidSignature):
        intake.deliver(signed(woo_paid_body))

    assert len(intake.orders) == 0
    assert intake.workflow.start_calls == 0
    assert intake.archive.kept == []
    assert intake.deliveries.seen == set()


def test_a_secret_of_another_store_is_refused_during_a_rotation(woo_paid_body: bytes) -> None:
    intake = rotating(datetime.now(UTC) + timedelta(hours=1))

    with pytest.raises(InvalidSignature):
        intake.deliver(signed(woo_paid_body, woo_sign("neither-secret", woo_paid_body)))
    assert len(intake.orders) == 0


def test_the_previous_secret_is_judged_at_the_delivery_s_arrival(woo_paid_body: bytes) -> None:
    """A replay verifies as of arrival: a delivery that came in during the rotation still replays after it."""
    until = datetime.now(UTC) + timedelta(hours=1)
    intake = rotating(until)

    with pytest.raises(InvalidSignature):
        receive_webhook("woocommerce", STORE_ID, signed(woo_paid_body), intake, now=until.timestamp())
    result = receive_webhook("woocommerce", STORE_ID, signed(woo_paid_body), intake, now=time.time())
    assert result.status is OrderStatus.RECEIVED
