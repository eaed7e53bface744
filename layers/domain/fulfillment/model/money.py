"""Exact money in integer minor units, with ISO 4217 currency exponents."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

from fulfillment.errors import InvalidMoney

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

# ISO 4217 minor-unit exponents that differ from the common 2.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}


# Amounts arrive as "126.02", "-17.26" or "126.0000": no exponents, no digit grouping.
_PLAIN_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
# Far above any order, far below what exact integer arithmetic and DynamoDB numbers can hold.
_LARGEST_AMOUNT = Decimal(10) ** 15


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


class Money(BaseModel):
    """An amount in the currency's minor unit (cents, fils, yen), never a float."""

    model_config = ConfigDict(frozen=True)

    minor: int
    currency: CurrencyCode

    @field_validator("currency", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def parse(cls, value: str | int | float | Decimal, currency: str) -> Self:
        """Parse a platform amount ("126.02", "126.0000", 14.5, 1500) in major units.

        Floats go through ``repr`` so 14.5 stays 14.5 and not 14.4999…; amounts with more
        decimals than the currency has (tax-inclusive 4-dp prices) round half-up, as stores do.
        """
        if isinstance(value, bool):
            raise InvalidMoney(f"not an amount: {value!r}")
        try:
            amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
        except InvalidOperation as exc:
            raise InvalidMoney(f"not an amount: {value!r}") from exc
        if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(value.strip()):
            raise InvalidMoney(f"not an amount: {value!r}")
        if not amount.is_finite():
            raise InvalidMoney(f"not an amount: {value!r}")
        if abs(amount) >= _LARGEST_AMOUNT:
            raise InvalidMoney(f"amount out of range: {value!r}")
        code = currency.upper()
        exponent = currency_exponent(code)
        minor = amount.scaleb(exponent).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        return cls(minor=int(minor), currency=code)

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(minor=0, currency=currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-currency_exponent(self.currency))

    def __str__(self) -> str:
        exponent = currency_exponent(self.currency)
        return f"{self.to_decimal():.{exponent}f} {self.currency}"

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidMoney(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(minor=self.minor + other.minor, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(minor=self.minor - other.minor, currency=self.currency)

    def times(self, quantity: int) -> Money:
        return Money(minor=self.minor * quantity, currency=self.currency)
