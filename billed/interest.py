"""Late payment: statutory interest and the flat compensation, worked out per day, and billed as documents of
their own (an issued invoice never changes).

Law (docs/payments.md cites it): Directive 2011/7/EU art. 2(6) makes statutory interest simple interest at the
reference rate plus at least 8 percentage points; art. 3(2) fixes the reference rate per half-year (the rate in
force on 1 January for January-June, on 1 July for July-December); art. 3(3)(a) runs it from the day after the
due date; art. 6 adds a fixed EUR 40 per late payment. It covers commercial transactions only. German law
(§ 288 BGB) sets 9 points above the Basiszinssatz between businesses (para. 2), 5 points when a consumer is the
debtor (para. 1), and the EUR 40 Pauschale against debtors who are not consumers (para. 5).

Day count: each day of default accrues balance x rate / (days in that calendar year), 365 or 366 (actual/actual,
the German "Effektivzinsmethode"); the days run from the day after the due date up to and including the day the
money came in (§§ 187(1), 188(1) BGB), so a payment reduces the balance from the next day. The sum is exact and
rounded once, half up, to the currency's minor unit.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billed import money
from billed.errors import BilledError
from billed.model import Settings

GERMAN_B2B, GERMAN_B2C, DIRECTIVE_B2B = Decimal(9), Decimal(5), Decimal(8)
COMPENSATION = Decimal("40.00")


@dataclass(frozen=True)
class Terms:
    margin: Decimal  # percentage points above the reference rate
    compensation: Decimal  # flat, once per late invoice (0 for consumers)
    rates: dict[dt.date, Decimal]  # half-year start -> reference rate in percent
    consumer: bool


def terms(settings: Settings, client: str, currency: str) -> Terms | None:
    """The seller's terms for this client, or None when billed.yaml has no late_payment (or no rate applies)."""
    lp = settings.late_payment
    if not lp:
        return None
    german = settings.seller.country == "DE"
    consumer = client in (lp.get("consumers") or ())
    if consumer:
        margin = lp.get("consumer_margin", GERMAN_B2C if german else None)
        if margin is None:
            return None  # the Directive does not cover consumers: only national law, when configured
    else:
        margin = lp.get("margin", GERMAN_B2B if german else DIRECTIVE_B2B)
    flat = Decimal(str(lp.get("compensation", COMPENSATION))) if currency == "EUR" or "compensation" in lp else (
        money.ZERO)
    rates = {dt.date.fromisoformat(str(k)): Decimal(str(v)) for k, v in (lp.get("reference_rates") or {}).items()}
    return Terms(Decimal(str(margin)), money.ZERO if consumer else flat, rates, consumer)


def half_year(day: dt.date) -> dt.date:
    return dt.date(day.year, 1 if day.month <= 6 else 7, 1)


@dataclass
class Period:
    start: dt.date
    end: dt.date
    balance: Decimal
    rate: Decimal  # percent per year: reference + margin
    year_days: int
    exact: Decimal = money.ZERO

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass
class Accrual:
    periods: list[Period] = field(default_factory=list)

    def total(self, currency: str) -> Decimal:
        return money.quantize(sum((p.exact for p in self.periods), money.ZERO), currency)


def accrue(total: Decimal, reductions: list[tuple[dt.date, Decimal]], start: dt.date, until: dt.date,
           t: Terms) -> Accrual:
    """Interest on what was outstanding each day from `start` to `until` (both included). `reductions` are the
    payments and credits (date, amount; reversals negative): one dated d counts from d + 1."""
    out = Accrual()
    day = start
    while day <= until:
        balance = total - sum((a for d, a in reductions if d < day), money.ZERO)
        if balance <= 0:
            day += dt.timedelta(days=1)
            continue
        ref = t.rates.get(half_year(day))
        if ref is None:
            raise BilledError(f"no reference rate for the half-year from {half_year(day)}: add it to "
                              "late_payment.reference_rates in billed.yaml (e.g. the ECB main refinancing rate "
                              "or the Basiszinssatz in force that day)")
        rate = ref + t.margin
        year_days = 366 if calendar.isleap(day.year) else 365
        last = out.periods[-1] if out.periods else None
        if last and last.end == day - dt.timedelta(days=1) and (last.balance, last.rate, last.year_days) == (
                balance, rate, year_days):
            last.end = day
        else:
            out.periods.append(Period(day, day, balance, rate, year_days))
            last = out.periods[-1]
        last.exact += balance * rate / money.HUNDRED / year_days
        day += dt.timedelta(days=1)
    return out


def details(acc: Accrual, currency: str) -> list[str]:
    """One line per period, in figures alone (any language reads them): balance x rate x days / days in the year
    = share; the rounded shares add up to the rounded total."""
    parts = money.round_to(acc.total(currency), [p.exact for p in acc.periods], currency)
    return [f"{p.start.isoformat()} – {p.end.isoformat()}: {money.plain(p.balance, currency)} × "
            f"{p.rate.normalize():f}% × {p.days}/{p.year_days} = {money.plain(part, currency)}"
            for p, part in zip(acc.periods, parts, strict=True)]


def billed_until(records: list[Any]) -> dict[str, tuple[dt.date, bool]]:
    """Per invoice, the last day already billed as interest and whether its compensation was billed."""
    out: dict[str, tuple[dt.date, bool]] = {}
    for rec in records:
        info = rec.get("interest") if rec["series"] == "invoice" else None
        for item in info or ():
            until = dt.date.fromisoformat(item["until"])
            prev = out.get(item["on"], (dt.date.min, False))
            out[item["on"]] = (max(prev[0], until), prev[1] or bool(item.get("compensation")))
    return out
