"""Exact money: the one place Billed rounds.

Amounts are `Decimal`, never float. Minor units come from babel's CLDR currency data (ISO 4217), not a table of
ours. Rounding is commercial (half up, away from zero) to the currency's minor unit; allocation of a total over
shares uses largest remainder so the parts always add up to the whole, to the last minor unit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext
from functools import cache
from typing import Any

from babel.core import get_global
from babel.numbers import format_currency, get_currency_precision, list_currencies

MAX_AMOUNT = Decimal(10) ** 12  # a trillion in any currency is a typo, not a contract
ZERO = Decimal(0)
HUNDRED = Decimal(100)
_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]{1,40})?)\s*%\s*$")  # <= 40 decimals: shares stay exact in money.exact()


@cache
def currencies() -> frozenset[str]:
    """ISO 4217 codes that are legal tender somewhere today, from CLDR's territory data.

    CLDR also lists withdrawn currencies (DEM, FRF, HRK), funds codes (CLF, CHE) and codes for no currency,
    tests and metals (XXX, XTS, XAU); nobody invoices in those, so they are unknown here.
    """
    current = {code for spans in get_global("territory_currencies").values()
               for code, _start, end, tender in spans if end is None and tender}
    return frozenset(current & set(list_currencies()))


def is_currency(code: object) -> bool:
    return isinstance(code, str) and code in currencies()


@cache
def minor_units(currency: str) -> int:
    """Digits after the decimal point for `currency` (EUR 2, JPY 0, KWD 3)."""
    return get_currency_precision(currency)


@cache
def _unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def exact() -> AbstractContextManager[Context]:
    """A decimal context wide enough that sums and shares of amounts (< 10^12) and percentages (<= 40 decimals)
    are exact: the default 28 digits silently round them, and then a split that adds up looks like it does not."""
    return localcontext(prec=100)


_ROUNDING = Context(prec=50, rounding=ROUND_HALF_UP)  # passed explicitly: a localcontext per call was ~5% of status


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round to the currency's minor unit, half up (commercial rounding)."""
    return amount.quantize(_unit(currency), context=_ROUNDING)


def fits_minor_units(amount: Decimal, currency: str) -> bool:
    """True when `amount` needs no rounding in `currency` (so 10.005 EUR is rejected, not silently rounded)."""
    return quantize(amount, currency) == amount


def to_decimal(value: object) -> Decimal | None:
    """A YAML number (int or Decimal, never float) as a finite Decimal; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None


def parse_percent(text: str) -> Decimal | None:
    """'25%' -> Decimal('25'); None when the text is not a percentage."""
    match = _PERCENT.match(text)
    if not match:
        return None
    try:
        return Decimal(match.group(1))
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return None


def percent_of(total: Decimal, percent: Decimal, currency: str) -> Decimal:
    return quantize(total * percent / HUNDRED, currency)


def allocate(target: Decimal, shares: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split `target` in proportion to `shares`, to the minor unit, with parts summing exactly to `target`."""
    weight = sum(shares, ZERO)
    if not shares:
        return []
    if weight == 0:
        raise ValueError("cannot allocate over shares that sum to zero")
    with localcontext() as ctx:
        ctx.prec = 60
        return round_to(target, [target * share / weight for share in shares], currency)


def round_to(target: Decimal, exact: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Round exact amounts to the minor unit so that they sum to `target` (largest remainder).

    Every part gets its exact value rounded down, then the units left over go one each to the parts with the
    largest remainders; ties go to the earlier part, so the result is deterministic. If `target` is below the
    rounded-down sum (a caller holding some parts fixed), units are taken from the smallest remainders instead.
    """
    unit = _unit(currency)
    with localcontext() as ctx:
        ctx.prec = 60
        floors = [value.quantize(unit, rounding=ROUND_DOWN) for value in exact]
        left = int(((target - sum(floors, ZERO)) / unit).to_integral_value())
        order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
        for i in order[:left] if left >= 0 else order[::-1][:-left]:
            floors[i] += unit if left >= 0 else -unit
    return floors


def fmt(amount: Decimal, currency: str, locale: str = "en") -> str:
    """Human formatting for the given locale ('1.234,50 €' in de, '€1,234.50' in en)."""
    return format_currency(amount, currency, locale=locale, decimal_quantization=True)


def plain(amount: Decimal, currency: str) -> str:
    """Canonical text for records and JSON output: fixed minor units, no grouping ('1234.50')."""
    return str(quantize(amount, currency))


class Rounded:
    """`quantize` and `plain` worked out once per distinct amount, each result one shared object: a dashboard
    board of 10,000 projects holds ~300,000 rounded amounts, most of them repeats, and each copy was ~100 bytes
    (views.build). No faster than rounding each (Decimal's quantize is C); it saves memory. Equal amounts round
    alike whatever their exponent; the sign is part of the key, as -0 rounds to -0.00."""

    def __init__(self) -> None:
        self._seen: dict[tuple[Decimal, bool, str, bool], Any] = {}

    def quantize(self, amount: Decimal, currency: str) -> Decimal:
        return self._once(amount, currency, False)

    def plain(self, amount: Decimal, currency: str) -> str:
        return self._once(amount, currency, True)

    def _once(self, amount: Decimal, currency: str, text: bool) -> Any:
        key = (amount, amount.is_signed(), currency, text)
        got = self._seen.get(key)
        if got is None:
            got = self._seen[key] = (plain if text else quantize)(amount, currency)
        return got
