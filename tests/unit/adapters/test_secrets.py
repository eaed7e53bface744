"""The secrets' bounded cache: a rotated secret (or payment key) is picked up once the cache age has passed."""

from __future__ import annotations

import pytest

from fulfillment.adapters.payment_gateway import StripePaymentGateway
from fulfillment.adapters.secrets import SECRET_MAX_AGE_SECONDS, CachedSecrets
from fulfillment.bootstrap import Container
from fulfillment.settings import Settings

REF = "/fulfillment/dev/stores/kaffeekontor/webhook-secret"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Parameters:
    """SSM in memory: counts the reads, so a test sees which gets were answered from the cache."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.reads = 0

    def fetch(self, ref: str) -> str:
        self.reads += 1
        try:
            return self.values[ref]
        except KeyError:
            raise LookupError(f"no secret {ref}") from None


def test_a_rotated_secret_is_read_again_once_the_cache_age_has_passed() -> None:
    clock, ssm = Clock(), Parameters({REF: "old"})
    secrets = CachedSecrets(ssm.fetch, clock=clock)
    assert secrets.get(REF) == "old"

    ssm.values[REF] = "new"
    clock.now += SECRET_MAX_AGE_SECONDS - 1
    assert secrets.get(REF) == "old"  # still within the age: no read
    clock.now += 1
    assert secrets.get(REF) == "new"
    assert ssm.reads == 2


def test_a_missing_secret_is_not_cached() -> None:
    clock, ssm = Clock(), Parameters({})
    secrets = CachedSecrets(ssm.fetch, clock=clock)
    with pytest.raises(LookupError):
        secrets.get(REF)

    ssm.values[REF] = "registered"
    assert secrets.get(REF) == "registered"


def test_the_payment_key_goes_through_the_same_cache_and_a_rotated_key_is_used() -> None:
    clock = Clock()
    ssm = Parameters({"/fulfillment/dev/payments/api-key": "sk_old"})
    container = Container(Settings(table_name="FulfillmentTable", payment_api_url="http://127.0.0.1:1"))
    container.__dict__["secrets"] = CachedSecrets(ssm.fetch, clock=clock)
    payments = container.payments

    first = payments.current()  # type: ignore[attr-defined]
    assert isinstance(first, StripePaymentGateway)
    assert first._api_key == "sk_old"
    ssm.values["/fulfillment/dev/payments/api-key"] = "sk_new"
    assert payments.current() is first  # type: ignore[attr-defined]  # within the cache age
    clock.now += SECRET_MAX_AGE_SECONDS
    rotated = payments.current()  # type: ignore[attr-defined]
    assert rotated._api_key == "sk_new"
    assert payments.capture.__self__ is rotated  # the gateway's calls go to the client of the current key
