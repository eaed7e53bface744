"""The store's rate policy: which of the rates EasyPost offered for a parcel is bought."""

from __future__ import annotations

import pytest

from fulfillment.errors import ShipmentRejected
from fulfillment.model import Money
from fulfillment.model.labels import Rate
from fulfillment.model.shipping import RatePolicy, ServiceRule, choose_rate


def rate(carrier: str, service: str, cost: str, days: int | None) -> Rate:
    return Rate(
        id=f"rate_{service}", carrier=carrier, service=service, cost=Money.parse(cost, "USD"), delivery_days=days
    )


OFFERED = (
    rate("USPS", "GroundAdvantage", "6.07", 3),
    rate("USPS", "Priority", "7.42", 2),
    rate("USPS", "Express", "34.15", 1),
    rate("DHLExpress", "ExpressWorldwideNonDoc", "29.90", 1),
    rate("UPS", "Ground", "6.07", None),  # as cheap, but no promise: the one with delivery days wins the tie
)


class TestChooseRate:
    def test_cheapest_takes_the_lowest_price(self) -> None:
        assert choose_rate(OFFERED, RatePolicy(), "US", 900).service == "GroundAdvantage"

    def test_fastest_takes_the_fewest_days_then_the_lowest_price(self) -> None:
        assert choose_rate(OFFERED, RatePolicy(kind="fastest"), "US", 900).service == "ExpressWorldwideNonDoc"

    def test_carriers_limit_every_policy(self) -> None:
        policy = RatePolicy(kind="fastest", carriers=("USPS",))
        assert choose_rate(OFFERED, policy, "US", 900).service == "Express"

    def test_a_service_map_takes_the_first_rule_that_matches_destination_and_weight(self) -> None:
        policy = RatePolicy(
            kind="service_map",
            rules=(
                ServiceRule(countries=("CA", "MX"), carrier="DHLExpress", service="ExpressWorldwideNonDoc"),
                ServiceRule(countries=("US",), max_weight_g=500, carrier="USPS", service="GroundAdvantage"),
                ServiceRule(countries=("US",), carrier="USPS", service="Priority"),
            ),
        )
        assert choose_rate(OFFERED, policy, "US", 400).service == "GroundAdvantage"
        assert choose_rate(OFFERED, policy, "US", 900).service == "Priority"
        assert choose_rate(OFFERED, policy, "CA", 900).carrier == "DHLExpress"

    def test_a_service_map_without_a_matching_offered_rate_falls_back_to_the_cheapest(self) -> None:
        policy = RatePolicy(kind="service_map", rules=(ServiceRule(carrier="FedEx", service="FEDEX_GROUND"),))
        assert choose_rate(OFFERED, policy, "US", 900).service == "GroundAdvantage"

    def test_no_rate_that_may_be_bought_is_a_refusal(self) -> None:
        with pytest.raises(ShipmentRejected, match="no rate offered for a 900 g parcel to US by FedEx"):
            choose_rate(OFFERED, RatePolicy(carriers=("FedEx",)), "US", 900)
        with pytest.raises(ShipmentRejected):
            choose_rate((), RatePolicy(), "US", 900)
