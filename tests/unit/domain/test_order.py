"""The canonical order: identity, execution names, and what makes it fulfillable."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from fulfillment.errors import OrderInvalid
from fulfillment.model import Totals, fulfillment_execution_name, order_key
from fulfillment.model.order import is_valid_store_id
from tests.fakes import make_address, make_line, make_order, money

NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
LONGEST_STORE_ID = "s" * 63


class TestExecutionName:
    def test_a_plain_id_gives_a_readable_name(self) -> None:
        assert fulfillment_execution_name("kaffeekontor", "4711") == "kaffeekontor_4711"
        assert make_order().execution_name() == "kaffeekontor_4711"

    def test_is_deterministic(self) -> None:
        assert fulfillment_execution_name("shop", "gid://shopify/Order/1") == fulfillment_execution_name(
            "shop", "gid://shopify/Order/1"
        )

    @pytest.mark.parametrize(
        "external_id",
        [
            "4711",
            "a/b",
            "gid://shopify/Order/5123456789",
            "order #12 (ü)",
            "x" * 200,
            "ü" * 90,
            "a" * 16,
            "a" * 17,
            "🔥",
            " ",
        ],
    )
    @pytest.mark.parametrize("store_id", ["a", "kaffeekontor", LONGEST_STORE_ID])
    def test_fits_step_functions_rules(self, store_id: str, external_id: str) -> None:
        assert NAME.fullmatch(fulfillment_execution_name(store_id, external_id))

    def test_ids_that_clean_to_the_same_text_get_different_names(self) -> None:
        ids = ["a/b", "a_b", "a:b", "a b", "a.b", "a\\b", "a+b", "a_b_", "a__b", "a/_b"]
        names = {fulfillment_execution_name("shop", external_id) for external_id in ids}
        assert len(names) == len(ids)

    def test_long_ids_sharing_a_prefix_get_different_names(self) -> None:
        prefix = "x" * 100
        first = fulfillment_execution_name(LONGEST_STORE_ID, prefix + "1")
        second = fulfillment_execution_name(LONGEST_STORE_ID, prefix + "2")
        assert first != second
        assert len(first) == len(second) == 80

    def test_a_long_id_gets_a_hash_suffix(self) -> None:
        name = fulfillment_execution_name("kaffeekontor", "9" * 120)
        assert re.fullmatch(r"kaffeekontor_9+-[0-9a-f]{10}", name)
        assert len(name) <= 80

    def test_an_id_that_needed_cleaning_gets_a_hash_suffix(self) -> None:
        assert re.fullmatch(r"shop_a_b-[0-9a-f]{10}", fulfillment_execution_name("shop", "a/b"))

    def test_a_name_of_exactly_80_characters_stays_readable(self) -> None:
        external_id = "1" * (80 - len(LONGEST_STORE_ID) - 1)
        assert fulfillment_execution_name(LONGEST_STORE_ID, external_id) == f"{LONGEST_STORE_ID}_{external_id}"

    def test_orders_of_different_stores_never_share_a_name(self) -> None:
        assert order_key("shop", "eu-1") != order_key("shop-eu", "1")
        assert fulfillment_execution_name("shop", "eu-1") != fulfillment_execution_name("shop-eu", "1")


class TestStoreId:
    @pytest.mark.parametrize("store_id", ["kaffeekontor", "shop-1", "a", "0abc", LONGEST_STORE_ID])
    def test_accepts_lower_case_slugs(self, store_id: str) -> None:
        assert is_valid_store_id(store_id)

    @pytest.mark.parametrize(
        "store_id", ["", "-shop", "Shop", "shop_1", "shop.1", "shop 1", "shop\n", "shop/1", "ümlaut", "s" * 64]
    )
    def test_refuses_anything_else(self, store_id: str) -> None:
        assert not is_valid_store_id(store_id)

    def test_an_order_needs_a_valid_store_id(self) -> None:
        with pytest.raises(ValidationError):
            make_order(store_id="Kaffee Kontor")

    def test_the_order_key_names_store_and_external_id(self) -> None:
        assert make_order(external_id="4711").key == "kaffeekontor:4711"


class TestFulfillability:
    def test_a_complete_paid_order_has_no_problems(self) -> None:
        order = make_order()
        assert order.problems_for_fulfillment() == []
        order.ensure_fulfillable()

    @pytest.mark.parametrize(
        ("address_change", "problem"),
        [
            ({"name": ""}, "shipping address has no name"),
            ({"name": "   "}, "shipping address has no name"),
            ({"lines": ()}, "shipping address has no street"),
            ({"lines": ("", " ")}, "shipping address has no street"),
            ({"city": ""}, "shipping address has no city"),
            ({"country": ""}, "shipping address has no country"),
        ],
    )
    def test_names_each_missing_address_part(self, address_change: dict[str, object], problem: str) -> None:
        order = make_order(shipping_address=make_address(**address_change))
        assert order.problems_for_fulfillment() == [problem]

    def test_a_missing_postal_code_is_not_a_problem(self) -> None:
        assert make_order(shipping_address=make_address(postal_code="")).problems_for_fulfillment() == []

    def test_only_the_shipping_address_matters(self) -> None:
        assert make_order(billing_address=make_address(city="")).problems_for_fulfillment() == []

    def test_an_unpaid_order_cannot_be_fulfilled(self) -> None:
        assert make_order(paid=False).problems_for_fulfillment() == ["order is not paid"]

    def test_an_order_without_lines_cannot_be_fulfilled(self) -> None:
        assert make_order(lines=()).problems_for_fulfillment() == ["order has no lines"]

    def test_negative_amounts_cannot_be_fulfilled(self) -> None:
        order = make_order(lines=(make_line(unit_price=money("-1.00")),))
        assert order.problems_for_fulfillment() == ["negative amounts"]

    def test_reports_every_problem_at_once(self) -> None:
        order = make_order(paid=False, lines=(), shipping_address=make_address(city="", country=""))
        with pytest.raises(OrderInvalid) as refused:
            order.ensure_fulfillable()
        assert str(refused.value) == (
            "shipping address has no city; shipping address has no country; order has no lines; order is not paid"
        )


class TestCurrencies:
    def test_a_line_in_another_currency_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="order currency EUR"):
            make_order(lines=(make_line(unit_price=money("14.50", "USD")),))

    def test_a_total_in_another_currency_is_refused(self) -> None:
        euros = money("1.00")
        totals = Totals(items=euros, shipping=euros, tax=money("0.19", "USD"), discount=euros, grand_total=euros)
        with pytest.raises(ValidationError, match="order currency EUR"):
            make_order(totals=totals)

    def test_an_order_currency_that_differs_from_its_amounts_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="order currency USD"):
            make_order(currency="USD")


class TestLineItems:
    def test_a_line_subtotal_is_price_times_quantity(self) -> None:
        assert make_line(unit_price=money("14.50"), quantity=3).subtotal == money("43.50")

    @pytest.mark.parametrize("quantity", [0, -1])
    def test_a_line_needs_a_positive_quantity(self, quantity: int) -> None:
        with pytest.raises(ValidationError):
            make_line(quantity=quantity)

    def test_a_line_needs_a_sku(self) -> None:
        with pytest.raises(ValidationError):
            make_line(sku="")
