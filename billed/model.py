"""The billing repo as frozen, typed values. Each carries a `Loc` so any later rule can point at its file and line.

Builders take a schema-valid `Doc` and return `(value, findings)`; field-level problems a schema cannot express
(an impossible date, an unknown currency, too many decimals) are reported here, all at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billed import money
from billed.errors import Finding
from billed.load import Doc, PathKey

STATUSES = ("planned", "in_progress", "done", "cancelled")


@dataclass(frozen=True)
class Loc:
    """Where a value came from: its document and its path inside it."""

    doc: Doc = field(compare=False, repr=False)
    path: PathKey = ()

    @property
    def file(self) -> str:
        return self.doc.path

    @property
    def line(self) -> int:
        return self.doc.where(self.path)[0]

    def finding(self, sub: PathKey, code: str, message: str, hint: str | None = None, key: bool = False) -> Finding:
        return self.doc.finding((*self.path, *sub), code, message, hint, key)


@dataclass(frozen=True)
class Party:
    name: str
    address: tuple[str, ...]
    country: str
    email: str
    vat_id: str | None = None
    tax_id: str | None = None
    phone: str | None = None
    website: str | None = None


@dataclass(frozen=True)
class Bank:
    iban: str
    holder: str | None = None
    bic: str | None = None
    bank: str | None = None


@dataclass(frozen=True)
class Numbering:
    invoice: str = "INV-{year}-{seq:04}"
    credit_note: str = "CN-{year}-{seq:04}"
    reset: str = "yearly"


@dataclass(frozen=True)
class Settings:
    seller: Party
    currency: str
    tax_rate: Decimal
    locale: str
    payment_terms: int
    bank: Bank | None
    pay_link: str | None
    numbering: Numbering
    einvoice: bool
    reminder_interval: int
    reminder_text: str
    loc: Loc


@dataclass(frozen=True)
class Client:
    id: str
    party: Party
    currency: str | None
    language: str | None
    tax: str
    tax_note: str | None
    payment_terms: int | None
    loc: Loc


@dataclass(frozen=True)
class Milestone:
    id: str
    title: str
    spec: str  # "fixed", "percent" or "rest"
    value: Decimal | None  # the fixed amount or the percentage; None for rest
    status: str
    index: int
    loc: Loc
    description: str = ""
    deliverables: tuple[str, ...] = ()
    due: dt.date | None = None
    done: dt.date | None = None
    final: bool = False
    amount: Decimal = money.ZERO  # resolved against the total by `resolve`

    @property
    def active(self) -> bool:
        return self.status != "cancelled"


@dataclass(frozen=True)
class Project:
    client: str
    id: str
    title: str
    currency: str
    total_given: Decimal | None
    tax_rate: Decimal
    start: dt.date
    deposit_spec: str | None  # "fixed" or "percent"
    deposit_value: Decimal | None
    payment_terms: int
    milestones: tuple[Milestone, ...]
    loc: Loc
    description: str = ""
    deposit: Decimal = money.ZERO
    resolved: bool = False

    @property
    def key(self) -> str:
        return f"{self.client}/{self.id}"

    @property
    def total(self) -> Decimal:
        """The project total, recalculated from its active milestones (equals the contract total when given)."""
        return sum((m.amount for m in self.milestones if m.active), money.ZERO)

    @property
    def final(self) -> Milestone | None:
        return next((m for m in self.milestones if m.final), None)

    def milestone(self, mid: str) -> Milestone | None:
        return next((m for m in self.milestones if m.id == mid), None)


def _date(doc: Doc, path: PathKey, value: Any, out: list[Finding]) -> dt.date | None:
    if value is None:
        return None
    try:
        parsed = dt.date.fromisoformat(str(value))
    except ValueError:
        out.append(doc.finding(path, "E022", f"'{value}' is not a valid date", "write dates as YYYY-MM-DD"))
        return None
    if len(str(value)) != 10 or not 2000 <= parsed.year <= 2100:
        out.append(doc.finding(path, "E022", f"'{value}' is not a plausible date (YYYY-MM-DD, 2000-2100)"))
        return None
    return parsed


def _currency(doc: Doc, path: PathKey, code: Any, out: list[Finding]) -> str | None:
    if code is None:
        return None
    if not money.is_currency(code):
        out.append(doc.finding(path, "E020", f"unknown currency '{code}'", "use an ISO 4217 code such as EUR"))
        return None
    return str(code)


def _rate(value: Any) -> Decimal | None:
    return money.to_decimal(value)


def _party(data: dict[str, Any]) -> Party:
    return Party(name=data["name"], address=tuple(data["address"]), country=data["country"], email=data["email"],
                 vat_id=data.get("vat_id"), tax_id=data.get("tax_id"), phone=data.get("phone"),
                 website=data.get("website"))


def build_settings(doc: Doc) -> tuple[Settings | None, list[Finding]]:
    data, out = doc.data, []
    currency = _currency(doc, ("currency",), data.get("currency"), out)
    bank = data.get("bank")
    numbering = data.get("numbering") or {}
    reminders = data.get("reminders") or {}
    settings = Settings(
        seller=_party(data["seller"]),
        currency=currency or "EUR",
        tax_rate=_rate(data.get("tax_rate")) or money.ZERO,
        locale=data.get("locale", "en"),
        payment_terms=data.get("payment_terms", 14),
        bank=Bank(iban=str(bank["iban"]).replace(" ", ""), holder=bank.get("holder"), bic=bank.get("bic"),
                  bank=bank.get("bank")) if bank else None,
        pay_link=data.get("pay_link"),
        numbering=Numbering(**{k: v for k, v in numbering.items()}),
        einvoice=bool(data.get("einvoice", False)),
        reminder_interval=reminders.get("interval", 7),
        reminder_text=reminders.get("text", "Our records show this invoice is still open. We would be grateful "
                                            "for payment at your earliest convenience."),
        loc=Loc(doc),
    )
    return (settings if not out else None), out


def build_client(doc: Doc, cid: str) -> tuple[Client | None, list[Finding]]:
    data, out = doc.data, []
    currency = _currency(doc, ("currency",), data.get("currency"), out)
    client = Client(id=cid, party=_party(data), currency=currency, language=data.get("language"),
                    tax=data.get("tax", "standard"), tax_note=data.get("tax_note"),
                    payment_terms=data.get("payment_terms"), loc=Loc(doc))
    return (client if not out else None), out


def _amount_spec(doc: Doc, path: PathKey, raw: Any, currency: str | None, out: list[Finding]):
    """(spec, value) for '25%', 'rest' or an exact number; findings for bad decimals or percentages."""
    if isinstance(raw, str):
        if raw.strip() == "rest":
            return "rest", None
        pct = money.parse_percent(raw)
        if pct is None or pct <= 0 or pct > 100:
            out.append(doc.finding(path, "E023", f"'{raw}' is not a percentage between 0% and 100%"))
            return "percent", money.ZERO
        return "percent", pct
    value = money.to_decimal(raw) or money.ZERO
    if value >= money.MAX_AMOUNT:
        out.append(doc.finding(path, "E006", f"amount {raw} is out of range", "amounts are limited to 10^12"))
    elif currency and not money.fits_minor_units(value, currency):
        digits = money.minor_units(currency)
        out.append(doc.finding(path, "E021", f"{raw} has more decimals than {currency} allows ({digits})",
                               f"round it to {digits} decimal places"))
    return "fixed", value


def build_project(doc: Doc, cid: str, pid: str, settings: Settings | None,
                  client: Client | None) -> tuple[Project | None, list[Finding]]:
    data, out = doc.data, []
    currency = _currency(doc, ("currency",), data.get("currency"), out)
    currency = currency or (client.currency if client else None) or (settings.currency if settings else None)
    total = money.to_decimal(data.get("total"))
    if total is not None:
        _amount_spec(doc, ("total",), data["total"], currency, out)
    start = _date(doc, ("start",), data.get("start"), out)
    deposit_spec = deposit_value = None
    if data.get("deposit") is not None:
        deposit_spec, deposit_value = _amount_spec(doc, ("deposit",), data["deposit"], currency, out)
    tax_rate = _rate(data.get("tax_rate"))
    if tax_rate is None:
        tax_rate = settings.tax_rate if settings else money.ZERO
    terms = data.get("payment_terms")
    if terms is None:
        terms = (client.payment_terms if client else None)
    if terms is None:
        terms = settings.payment_terms if settings else 14
    milestones = []
    for i, m in enumerate(data["milestones"]):
        path = ("milestones", i)
        spec, value = _amount_spec(doc, (*path, "amount"), m["amount"], currency, out)
        milestones.append(Milestone(
            id=m["id"], title=m["title"], spec=spec, value=value, status=m.get("status", "planned"), index=i,
            loc=Loc(doc, path), description=m.get("description", ""),
            deliverables=tuple(m.get("deliverables", ())),
            due=_date(doc, (*path, "due"), m.get("due"), out), done=_date(doc, (*path, "done"), m.get("done"), out),
            final=bool(m.get("final", False))))
    if out or currency is None or start is None:
        return None, out
    return Project(client=cid, id=pid, title=data["title"], currency=currency, total_given=total,
                   tax_rate=tax_rate, start=start, deposit_spec=deposit_spec, deposit_value=deposit_value,
                   payment_terms=terms, milestones=tuple(milestones), loc=Loc(doc),
                   description=data.get("description", "")), out
