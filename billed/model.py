"""The billing repo as frozen, typed values. Each carries a `Loc` so any later rule can point at its file and line.

Builders take a schema-valid `Doc` and return `(value, findings)`; field-level problems a schema cannot express
(an impossible date, an unknown currency, too many decimals) are reported here, all at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError

from billed import money
from billed.errors import Finding
from billed.i18n import N_
from billed.load import Doc, PathKey

STATUSES = ("planned", "in_progress", "done", "cancelled")
# printed in the client's language when billed.yaml keeps the default (reminder.txt.j2 translates it)
REMINDER_TEXT = N_("Our records show this invoice is still open. We would be grateful for payment at your earliest "
                   "convenience.")


def evolve(value: Any, **changes: Any) -> Any:
    """`dataclasses.replace` for these frozen values, without re-running `__init__`: resolving amounts copies
    every milestone, and `replace` was ~10% of `check` at 10,000 projects. Only for fields without validation."""
    new = object.__new__(type(value))
    new.__dict__.update(value.__dict__, **changes)
    return new


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
    register_court: str | None = None
    register_number: str | None = None
    managing_directors: tuple[str, ...] | None = None
    share_capital: str | None = None


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
    pay_url: str | None = None  # a stable URL per document ({number}) that leads to its current balance
    stripe: dict[str, Any] = field(default_factory=dict)  # success_url, cancel_url (the key is never here)
    late_payment: dict[str, Any] = field(default_factory=dict)  # raw; billed/interest.py reads it
    reminder_levels: tuple[dict[str, Any], ...] = ()  # dunning levels: name, after (days), optional text
    language: str = "en"  # the words of documents when the client names no language (default: `locale`'s)


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
    locale: str | None = None  # numbers and dates; default: the client's `language`, then billed.yaml's `locale`
    buyer_reference: str | None = None  # EN 16931 BT-10 (a Leitweg-ID for German public buyers)
    purchase_order: str | None = None  # BT-13


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
    done_given: bool = False  # `done:` was written, even if it was not a valid date (E022 says so, not E034)

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
    buyer_reference: str | None = None  # the client's unless the project names its own
    purchase_order: str | None = None
    example: bool = False  # `example: true`: made by `billed init`; issue refuses to bill it (E081)

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


def _usable(doc: Doc, path: PathKey, value: Any, kind: type | tuple[type, ...]) -> bool:
    """A value worth a field check: present, of the type the schema wants, and not already reported by it."""
    return isinstance(value, kind) and not isinstance(value, bool) and path not in doc.invalid


_DATES: dict[str, dt.date] = {}  # text -> the plausible date it is (dates repeat across 100,000 milestones)


def _date(doc: Doc, path: PathKey, value: Any, out: list[Finding]) -> dt.date | None:
    if not _usable(doc, path, value, str):
        return None
    known = _DATES.get(value)
    if known is not None:
        return known
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        out.append(doc.finding(path, "E022", f"'{value}' is not a valid date", "write dates as YYYY-MM-DD"))
        return None
    if len(value) != 10 or not 2000 <= parsed.year <= 2100:
        out.append(doc.finding(path, "E022", f"'{value}' is not a plausible date", "write dates as YYYY-MM-DD, "
                               "between 2000 and 2100"))
        return None
    if len(_DATES) < 100_000:
        _DATES[value] = parsed  # (only good ones: a bad date is reported at its own place each time)
    return parsed


def _currency(doc: Doc, path: PathKey, code: Any, out: list[Finding]) -> str | None:
    if not _usable(doc, path, code, str):
        return None
    if not money.is_currency(code):
        out.append(doc.finding(path, "E020", f"unknown currency '{code}'",
                               "use the ISO 4217 code of a currency in use today, e.g. EUR, USD, GBP"))
        return None
    return str(code)


def _locale(doc: Doc, path: PathKey, code: Any, out: list[Finding]) -> str | None:
    """A locale babel can format with: checked here, or the first document to print with it would fail."""
    if not _usable(doc, path, code, str):
        return None
    try:
        Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        out.append(doc.finding(path, "E024", f"unknown locale '{code}'",
                               "a language, optionally with a country: en, en_GB, de_DE, de_AT, fr_FR"))
        return None
    return code


def _rate(value: Any) -> Decimal | None:
    return money.to_decimal(value)


def _party(data: dict[str, Any]) -> Party:
    directors = data.get("managing_directors")
    return Party(name=data["name"], address=tuple(data["address"]), country=data["country"], email=data["email"],
                 vat_id=data.get("vat_id"), tax_id=data.get("tax_id"), phone=data.get("phone"),
                 website=data.get("website"), register_court=data.get("register_court"),
                 register_number=data.get("register_number"),
                 managing_directors=tuple(directors) if directors else None, share_capital=data.get("share_capital"))


def build_settings(doc: Doc, valid: bool = True) -> tuple[Settings | None, list[Finding]]:
    """Settings from billed.yaml. With `valid` false (schema errors) only the field checks run, for their findings.

    Field findings still return the settings (an unknown currency read as EUR) so the settings rules can run too;
    the caller keeps them only when there are no findings."""
    data, out = doc.data, []
    currency = _currency(doc, ("currency",), data.get("currency"), out)
    _locale(doc, ("locale",), data.get("locale"), out)
    _locale(doc, ("language",), data.get("language"), out)
    if not valid:
        return None, out
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
        reminder_text=reminders.get("text", REMINDER_TEXT),
        loc=Loc(doc),
        pay_url=data.get("pay_url"),
        stripe=dict(data.get("stripe") or {}),
        late_payment=dict(data.get("late_payment") or {}),
        reminder_levels=tuple(dict(x) for x in reminders.get("levels") or ()),
        language=data.get("language") or data.get("locale", "en"),
    )
    return settings, out


def build_client(doc: Doc, cid: str, valid: bool = True) -> tuple[Client | None, list[Finding]]:
    data, out = doc.data, []
    currency = _currency(doc, ("currency",), data.get("currency"), out)
    _locale(doc, ("language",), data.get("language"), out)
    _locale(doc, ("locale",), data.get("locale"), out)
    if not valid:
        return None, out
    client = Client(id=cid, party=_party(data), currency=currency, language=data.get("language"),
                    tax=data.get("tax", "standard"), tax_note=data.get("tax_note"),
                    payment_terms=data.get("payment_terms"), loc=Loc(doc), locale=data.get("locale"),
                    buyer_reference=data.get("buyer_reference"), purchase_order=data.get("purchase_order"))
    return client, out


_SHARES: dict[str, tuple[str, Decimal | None]] = {}  # '25%' or 'rest' -> (spec, value): they repeat as dates do


def _amount_spec(doc: Doc, path: PathKey, raw: Any, currency: str | None,
                 out: list[Finding]) -> tuple[str, Decimal | None]:
    """(spec, value) for '25%', 'rest' or an exact number; findings for bad decimals or percentages."""
    if _usable(doc, path, raw, str):
        if raw.strip() == "rest":
            share: tuple[str, Decimal | None] = ("rest", None)
        else:
            pct = money.parse_percent(raw)
            if pct is None or pct <= 0 or pct > 100:
                out.append(doc.finding(path, "E023", f"'{raw}' is not a percentage above 0% and up to 100%",
                                       "write a percentage of the total like 25% or 12.5%"))
                return "percent", money.ZERO
            share = ("percent", pct)
        if len(_SHARES) < 10_000:
            _SHARES[raw] = share  # (only good ones, as _DATES: a bad one is reported at its own place each time)
        return share
    value = money.to_decimal(raw) if path not in doc.invalid else None
    if value is None:
        return "fixed", None
    if value >= money.MAX_AMOUNT:
        out.append(doc.finding(path, "E006", f"amount {raw} is out of range", "amounts are limited to 10^12"))
    elif currency and not money.fits_minor_units(value, currency):
        digits = money.minor_units(currency)
        out.append(doc.finding(path, "E021", f"{raw} has more decimals than {currency} allows ({digits})",
                               f"round it to {digits} decimal places" if digits else "write a whole number"))
    return "fixed", value


def _milestone_fields(doc: Doc, data: dict[str, Any], currency: str | None,
                      out: list[Finding]) -> list[tuple[dict[str, Any], int, str, Decimal | None, Any, Any]]:
    """Field checks of every milestone that is a mapping, tolerant of schema errors elsewhere in the file: (its
    data, index, spec, value, due, done) each. A plain exact amount, a share ('25%', 'rest') and a date seen
    before take a short way (the 100,000 milestones of a 10,000-project load): the same answer `_amount_spec` and
    `_date` give, with no finding possible (tests/test_checks.py compares both ways)."""
    items = data.get("milestones")
    fields: list[tuple[dict[str, Any], int, str, Decimal | None, Any, Any]] = []
    if not isinstance(items, list):
        return fields
    plain = not doc.invalid  # nothing rejected by the schema: no value needs its path looked up
    fits = money.fits_minor_units
    dates, shares = _DATES, _SHARES
    for i, m in enumerate(items):
        if not isinstance(m, dict):
            continue
        raw, due, done = m.get("amount"), m.get("due"), m.get("done")
        kind = type(raw)
        if not (plain and (due is None or (type(due) is str and due in dates))
                and (done is None or (type(done) is str and done in dates))
                and ((kind is Decimal and raw.is_finite() and raw < money.MAX_AMOUNT
                      and (not currency or fits(raw, currency))) or (kind is str and raw in shares))):
            fields.append(_milestone_slow(doc, m, i, currency, out))
            continue
        spec, value = ("fixed", raw) if kind is Decimal else shares[raw]
        fields.append((m, i, spec, value, due if due is None else dates[due], done if done is None else dates[done]))
    return fields


def _milestone_slow(doc: Doc, m: dict[str, Any], i: int, currency: str | None,
                    out: list[Finding]) -> tuple[dict[str, Any], int, str, Decimal | None, Any, Any]:
    path = ("milestones", i)
    spec, value = _amount_spec(doc, (*path, "amount"), m.get("amount"), currency, out)
    return (m, i, spec, value, _date(doc, (*path, "due"), m.get("due"), out),
            _date(doc, (*path, "done"), m.get("done"), out))


def build_project(doc: Doc, cid: str, pid: str, settings: Settings | None, client: Client | None,
                  valid: bool = True) -> tuple[Project | None, list[Finding]]:
    """A project from its file. With `valid` false (schema errors) only the field checks run, for their findings.

    With field findings the project is still built when its currency and start are known (a bad date becomes
    None), so the project rules can report their problems in the same run; the caller never keeps it."""
    data, out = doc.data, []
    currency = _currency(doc, ("currency",), data.get("currency"), out)
    if "currency" not in data:
        currency = (client.currency if client else None) or (settings.currency if settings else None)
    total = money.to_decimal(data.get("total"))
    if total is not None:
        _amount_spec(doc, ("total",), data["total"], currency, out)
    start = _date(doc, ("start",), data.get("start"), out)
    deposit_spec = deposit_value = None
    if data.get("deposit") is not None:
        deposit_spec, deposit_value = _amount_spec(doc, ("deposit",), data["deposit"], currency, out)
    fields = _milestone_fields(doc, data, currency, out)
    if not valid or currency is None or start is None:
        return None, out
    tax_rate = _rate(data.get("tax_rate"))
    if tax_rate is None:
        tax_rate = settings.tax_rate if settings else money.ZERO
    terms = data.get("payment_terms")
    if terms is None:
        terms = (client.payment_terms if client else None)
    if terms is None:
        terms = settings.payment_terms if settings else 14
    milestones = tuple(_milestone(doc, *f) for f in fields)
    loc = object.__new__(Loc)
    loc.__dict__.update(doc=doc, path=())
    project = object.__new__(Project)  # (as _milestone: every field given; tests/test_checks.py proves it)
    project.__dict__.update(
        client=cid, id=pid, title=data["title"], currency=currency, total_given=total, tax_rate=tax_rate,
        start=start, deposit_spec=deposit_spec, deposit_value=deposit_value, payment_terms=terms,
        milestones=milestones, loc=loc, description=data.get("description", ""), deposit=money.ZERO,
        buyer_reference=data.get("buyer_reference") or (client.buyer_reference if client else None),
        purchase_order=data.get("purchase_order") or (client.purchase_order if client else None),
        example=data.get("example") is True)
    return project, out


def _milestone(doc: Doc, m: dict[str, Any], i: int, spec: str, value: Decimal | None, due: dt.date | None,
               done: dt.date | None) -> Milestone:
    """A milestone without the frozen dataclass constructor (an object.__setattr__ per field, for 100,000
    milestones at 10,000 projects): every field given here, defaults included (tests/test_checks.py
    rebuilds loaded milestones with the real constructor to prove none is missing)."""
    loc = object.__new__(Loc)
    loc.__dict__.update(doc=doc, path=("milestones", i))
    new = object.__new__(Milestone)
    new.__dict__.update(id=m["id"], title=m["title"], spec=spec, value=value, status=m.get("status", "planned"),
                        index=i, loc=loc, description=m.get("description", ""),
                        deliverables=tuple(m.get("deliverables", ())), due=due, done=done,
                        final=bool(m.get("final", False)), amount=money.ZERO, done_given=m.get("done") is not None)
    return new
