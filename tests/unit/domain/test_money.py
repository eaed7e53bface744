"""Money: exact minor units from whatever a platform sends, in the currency's own exponent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from fulfillment.errors import InvalidMoney
from fulfillment.model import Money, currency_exponent


class TestParsingAmounts:
    @pytest.mark.parametrize(
        ("value", "minor"),
        [
            ("126.02", 12602),
            ("126.0000", 12600),  # 4-dp strings from tax-inclusive stores
            ("5.9000", 590),
            ("0.00", 0),
            (" 12.30 ", 1230),
            ("-4.20", -420),
            (Decimal("3.10"), 310),
            (42, 4200),
            (0, 0),
        ],
    )
    def test_reads_strings_decimals_and_ints_exactly(self, value: str | int | Decimal, minor: int) -> None:
        assert Money.parse(value, "EUR") == Money(minor=minor, currency="EUR")

    @pytest.mark.parametrize(
        ("value", "minor"),
        [
            (14.5, 1450),
            (29.0, 2900),
            (0.1 + 0.2, 30),  # 0.30000000000000004
            (1.005, 101),  # binary 1.00499999…, but the number as sent is 1.005
            (2.675, 268),
        ],
    )
    def test_reads_json_floats_as_written_not_as_binary(self, value: float, minor: int) -> None:
        assert Money.parse(value, "EUR").minor == minor

    @pytest.mark.parametrize(
        ("value", "minor"),
        [("1.234", 123), ("1.235", 124), ("1.2349", 123), ("-1.235", -124), ("0.005", 1), ("0.0049", 0)],
    )
    def test_extra_decimals_round_half_up(self, value: str, minor: int) -> None:
        assert Money.parse(value, "EUR").minor == minor

    def test_upper_cases_the_currency(self) -> None:
        assert Money.parse("1.00", "eur") == Money(minor=100, currency="EUR")


class TestCurrencyExponents:
    @pytest.mark.parametrize(
        ("currency", "exponent"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)]
    )
    def test_knows_the_minor_unit_of_a_currency(self, currency: str, exponent: int) -> None:
        assert currency_exponent(currency) == exponent

    @pytest.mark.parametrize(
        ("value", "minor"), [("1500", 1500), (1500, 1500), ("1500.4", 1500), ("1500.5", 1501), (1500.49, 1500)]
    )
    def test_yen_have_no_minor_unit(self, value: str | int | float, minor: int) -> None:
        assert Money.parse(value, "JPY") == Money(minor=minor, currency="JPY")

    @pytest.mark.parametrize(("value", "minor"), [("12.345", 12345), ("12.3", 12300), ("0.0005", 1), (7, 7000)])
    def test_dinar_have_three_decimals(self, value: str | int, minor: int) -> None:
        assert Money.parse(value, "KWD") == Money(minor=minor, currency="KWD")

    def test_euros_have_two_decimals(self) -> None:
        assert Money.parse("12.345", "EUR").minor == 1235


class TestRefusingNonAmounts:
    @pytest.mark.parametrize(
        "value", ["abc", "", "   ", "12,50", "1.2.3", "0x10", "NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf"]
    )
    def test_refuses_strings_that_are_not_finite_amounts(self, value: str) -> None:
        with pytest.raises(InvalidMoney, match="not an amount"):
            Money.parse(value, "EUR")

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), Decimal("NaN"), Decimal("Infinity")])
    def test_refuses_non_finite_numbers(self, value: float | Decimal) -> None:
        with pytest.raises(InvalidMoney):
            Money.parse(value, "EUR")

    @pytest.mark.parametrize("value", [True, False])
    def test_refuses_booleans_although_they_are_ints(self, value: bool) -> None:
        with pytest.raises(InvalidMoney):
            Money.parse(value, "EUR")

    @pytest.mark.parametrize("value", ["1e30", 1e300])
    def test_refuses_amounts_too_large_to_represent_with_a_domain_error(self, value: str | float) -> None:
        with pytest.raises(InvalidMoney):
            Money.parse(value, "EUR")

    @pytest.mark.parametrize("currency", ["EU", "EURO", "€", "12A"])
    def test_refuses_currency_codes_that_are_not_three_letters(self, currency: str) -> None:
        with pytest.raises(ValidationError):
            Money.parse("1.00", currency)


class TestArithmetic:
    def test_adds_and_subtracts_in_the_same_currency(self) -> None:
        a, b = Money.parse("10.05", "EUR"), Money.parse("0.95", "EUR")
        assert a + b == Money(minor=1100, currency="EUR")
        assert a - b == Money(minor=910, currency="EUR")

    def test_multiplies_by_a_quantity(self) -> None:
        assert Money.parse("14.50", "EUR").times(3) == Money(minor=4350, currency="EUR")

    def test_sums_from_zero(self) -> None:
        amounts = [Money.parse(v, "EUR") for v in ("29.00", "29.00", "42.00")]
        assert sum(amounts, Money.zero("EUR")) == Money(minor=10000, currency="EUR")

    @pytest.mark.parametrize("operation", [Money.__add__, Money.__sub__])
    def test_refuses_to_mix_currencies(self, operation: object) -> None:
        euros, dollars = Money.parse("1.00", "EUR"), Money.parse("1.00", "USD")
        with pytest.raises(InvalidMoney, match="EUR with USD"):
            operation(euros, dollars)  # type: ignore[operator]

    def test_amounts_are_immutable(self) -> None:
        amount = Money.parse("1.00", "EUR")
        with pytest.raises(ValidationError):
            amount.minor = 5


class TestFormatting:
    @pytest.mark.parametrize(
        ("minor", "currency", "text"),
        [
            (12602, "EUR", "126.02 EUR"),
            (5, "EUR", "0.05 EUR"),
            (-5, "EUR", "-0.05 EUR"),
            (0, "EUR", "0.00 EUR"),
            (1500, "JPY", "1500 JPY"),
            (12345, "KWD", "12.345 KWD"),
            (12300, "KWD", "12.300 KWD"),
            (1, "CLF", "0.0001 CLF"),
        ],
    )
    def test_prints_the_currency_exponent_digits(self, minor: int, currency: str, text: str) -> None:
        assert str(Money(minor=minor, currency=currency)) == text

    @pytest.mark.parametrize(("minor", "currency"), [(12602, "EUR"), (1500, "JPY"), (12345, "KWD"), (-7, "USD")])
    def test_printed_amounts_parse_back_to_the_same_money(self, minor: int, currency: str) -> None:
        amount = Money(minor=minor, currency=currency)
        text, code = str(amount).split(" ")
        assert Money.parse(text, code) == amount
        assert amount.to_decimal() == Decimal(text)
