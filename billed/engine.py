"""The plan: what the projects say is billable now, minus what the ledger has already issued. Pure, no I/O.

Reconciling against the ledger (not a git diff) is what makes issuing idempotent: a rerun, a missed CI run or a
force-push all lead to the same plan. Per project, in order: the deposit once the start date has come; each done
milestone; the final milestone with every deposit deducted (a credit note when the deposit exceeds it); and for
already invoiced milestones whose amount changed, a supplementary invoice or a credit note for the difference.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from billed import money
from billed.errors import Finding
from billed.i18n import N_
from billed.ledger import FORMAT, Ledger, Record
from billed.model import Client, Milestone, Project, Settings
from billed.taxes import (  # noqa: F401 - the tax names are re-exported: callers use engine.tax_breakdown, ...
    CATEGORIES,
    EXEMPT,
    NOTE_KEYS,
    OUTSIDE_EU,
    REVERSE_CHARGE,
    ZERO_RATED,
    Treatment,
    note_text,
    outside_eu,
    rate_text,
    tax_breakdown,
    tax_note,
    true_up,
    whole_vat,
)

# A line Billed words itself (not a milestone's title) keeps its wording as a msgid with arguments (`wording`), so
# each document prints it in its language; `description` is the English text (also the Factur-X item name).
DEPOSIT = N_("Deposit on %(project)s, due before work begins")
SUPPLEMENT = N_("Supplement: %(title)s (raised from %(from)s to %(to)s)")
CREDIT_CANCELLED = N_("Credit: %(title)s (cancelled)")
CREDIT_LOWERED = N_("Credit: %(title)s (lowered from %(from)s to %(to)s)")
PREPAID = N_("Less deposit invoiced on %(number)s")
PREPAID_REFUND = N_("Deposit paid on account, invoiced on %(number)s")
PREPAID_UNPAID = N_("Deposit invoiced on %(number)s")  # the refund case while the deposit is not paid yet
SET_AGAINST = N_("%(title)s (set against the deposit)")
AMOUNT_ARGS = ("from", "to")  # printed in the document's number format
DATE_ARGS = ("date", "due")  # and these in its date format
Source = Callable[[Project, Milestone], dict[str, str] | None]


def wording(msgid: str, **args: str) -> dict[str, Any]:
    return {"id": msgid, "args": args}


def worded(line: dict[str, Any], words: dict[str, Any]) -> dict[str, Any]:
    """The line with its English description and the wording to translate it from."""
    return {**line, "description": words["id"] % words["args"], "wording": words}


@dataclass
class Billed:
    """What the ledger says about one project, as signed nets (what the client owes)."""

    charged: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: money.ZERO))
    invoices: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # documents that billed it
    documents: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # every document naming it
    supply: dict[str, str] = field(default_factory=dict)  # date of supply of its first bill
    deposits: list[dict[str, Any]] = field(default_factory=list)  # number, net, tax, rate, category
    deducted: Decimal = money.ZERO
    currency: str | None = None
    # per milestone, its charged net per treatment (rate, category) and the document that first billed it so:
    # what a correction of the milestone credits, and at which treatment
    treated: dict[str, dict[tuple[str, str], list[Any]]] = field(default_factory=lambda: defaultdict(dict))
    # per (rate, category), the project's signed net and the VAT its documents charged on it (each document
    # rounding once per rate): what the final invoice squares with the VAT on the whole (see `true_up`)
    vat: dict[tuple[str, str], list[Decimal]] = field(default_factory=dict)

    @property
    def deposit(self) -> Decimal:
        return sum((Decimal(d["net"]) for d in self.deposits), money.ZERO)

    def fork(self) -> Billed:
        """A copy the planner can extend with what it plans, leaving the ledger's own view (`settled`) as is."""
        return Billed(defaultdict(lambda: money.ZERO, self.charged),
                      defaultdict(list, {k: list(v) for k, v in self.invoices.items()}),
                      defaultdict(list, {k: list(v) for k, v in self.documents.items()}),
                      dict(self.supply), list(self.deposits), self.deducted, self.currency,
                      defaultdict(dict, {k: {t: list(v) for t, v in d.items()} for k, d in self.treated.items()}),
                      {k: list(v) for k, v in self.vat.items()})

    def add(self, rec: Record) -> None:
        sign, currency, number = rec.sign, rec["currency"], rec.number
        self.currency = currency
        groups: dict[tuple[str, str], Decimal] = defaultdict(lambda: money.ZERO)
        for _role, _ref, line_net, rate, category in rec.amounts:
            groups[(rate, category)] += Decimal(line_net)
        for (rate, category), net in groups.items():  # the document's VAT breakdown, as tax_breakdown rounds it
            held = self.vat.setdefault((rate, category), [money.ZERO, money.ZERO])
            held[0] += net * sign
            held[1] += money.quantize(net * Decimal(rate) / money.HUNDRED, currency) * sign
        for role, ref, line_net, rate, category in rec.amounts:
            net = Decimal(line_net) * sign
            if role == "charge":
                self.charged[ref] += net
                self.documents[ref].append(number)
                self.treated[ref].setdefault((rate, category), [money.ZERO, number])[0] += net
                # a final credit note (deposit larger than the final milestone) bills the milestone too
                if sign > 0 or rec["kind"] == "final":
                    self.invoices[ref].append(number)
                    if rec.get("supply_date"):
                        self.supply.setdefault(ref, rec["supply_date"])
            elif role == "deposit":
                tax = money.quantize(net * Decimal(rate) / money.HUNDRED, currency)
                self.deposits.append({"number": number, "net": str(net), "tax": str(tax), "rate": rate,
                                      "category": category})
            elif role == "prepaid":
                self.deducted -= net

    def current(self, ref: str) -> tuple[tuple[str, str], str] | None:
        """The treatment (rate, category) a milestone is billed at now, and the document that billed it so: the
        latest still charged (one billed, cancelled and billed again at a new rate takes the new one), else the
        first it ever had."""
        treated = list(self.treated.get(ref, {}).items())
        live = [(key, number) for key, (net, number) in treated if net > 0]
        if live:
            return live[-1]
        return (treated[0][0], treated[0][1][1]) if treated else None

    def credits(self, ref: str, amount: Decimal) -> list[tuple[tuple[str, str], str, Decimal]]:
        """A credit of `amount` on a milestone, split over the treatments it was charged at, the latest first:
        ((rate, category), number of the document that charged it so, net credited at it)."""
        out = []
        for key, (net, number) in reversed(list(self.treated.get(ref, {}).items())):
            take = min(net, amount)
            if take > 0:
                out.append((key, number, take))
                amount -= take
        if amount > 0 and out:  # more credited than charged (cannot happen from the ledger): at the latest
            key, number, take = out[0]
            out[0] = (key, number, take + amount)
        return out


def billed_state(records: list[Record]) -> dict[str, Billed]:
    """Per project key, what has been billed so far. Records are taken in date order and, on one day, first bills
    before the corrections of them (the two series have no common order of their own)."""
    state: dict[str, Billed] = defaultdict(Billed)
    order = {"deposit": 0, "milestone": 0, "final": 0}
    for rec in sorted(records, key=lambda r: (r["issue_date"], order.get(r["kind"], 1), r["series"], r["year"],
                                              r["seq"])):
        state[rec.key].add(rec)
    return state


def settled(ledger: Ledger) -> dict[str, Billed]:
    """`billed_state` of the whole ledger, computed once per ledger (loading, checking and reporting all read it;
    each pass was ~0.5 s at 10,000 projects). Read-only: `plan` builds its own, which it extends as it plans."""
    if "billed" not in ledger.memo:
        ledger.memo["billed"] = billed_state(ledger.records)
    return ledger.memo["billed"]


def target(m: Milestone, on: dt.date, charged: Decimal) -> Decimal:
    """What a milestone should have billed by `on`: its amount once done, nothing once cancelled."""
    if m.status == "done" and m.done is not None:
        return m.amount if m.done <= on else charged
    if m.status == "cancelled":
        return money.ZERO
    return charged  # planned or in progress: nothing new (going back after billing is a check error)


@dataclass
class Planner:
    settings: Settings
    clients: dict[str, Client]
    ledger: Ledger
    on: dt.date
    source: Source | None = None
    docs: list[dict[str, Any]] = field(default_factory=list)
    planned: dict[str, dict[str, Any]] = field(default_factory=dict)  # this run's documents by number
    paid: frozenset[str] = frozenset()  # documents fully paid on `on`: a deducted deposit says "paid" only then

    def __post_init__(self) -> None:
        self.yearly = self.settings.numbering.reset == "yearly"
        self.seqs = {s: self.ledger.next_seq(s, self.on.year, self.yearly) for s in ("invoice", "credit_note")}

    def project(self, p: Project, state: Billed) -> None:
        client = self.clients[p.client]
        final_billed = p.final is not None and bool(state.invoices.get(p.final.id))
        today = self.treatment(p, client)
        if p.deposit > 0 and p.start <= self.on and not state.deposits and not final_billed:
            self.emit(p, client, state, "deposit", "386", [self.line(p, "deposit", "deposit",
                      wording(DEPOSIT, project=p.title), p.deposit, today)], supply=None)
        for m in p.milestones:
            charged = state.charged[m.id]
            delta = target(m, self.on, charged) - charged
            if delta == 0:
                continue
            first = state.invoices[m.id][0] if state.invoices[m.id] else None
            if charged == 0 and delta > 0:
                self.first_bill(p, client, state, m, delta, today)
            elif delta > 0:  # more of the same supply: taxed as it is billed now (Billed.current)
                was = state.current(m.id)
                treated = self.issued(was[1], *was[0]) if was else today
                line = self.line(p, m.id, "charge", wording(SUPPLEMENT, title=m.title, **{
                    "from": money.plain(charged, p.currency), "to": money.plain(m.amount, p.currency)}), delta, treated)
                self.emit(p, client, state, "supplementary", "380", [line], supply=m.done,
                          corrects=was[1] if was else first)
            else:  # a credit reverses what was billed, at the treatment it was billed with
                why = wording(CREDIT_CANCELLED, title=m.title) if m.status == "cancelled" else wording(
                    CREDIT_LOWERED, title=m.title, **{"from": money.plain(charged, p.currency),
                                                      "to": money.plain(m.amount, p.currency)})
                parts = state.credits(m.id, -delta) or [((today.rate, today.category), None, -delta)]
                lines = [self.line(p, m.id, "charge", why, net,
                                   self.issued(number, *key) if number else today) for key, number, net in parts]
                supplied = m.done or (dt.date.fromisoformat(state.supply[m.id]) if m.id in state.supply else None)
                self.emit(p, client, state, "credit", "381", lines, supply=supplied, corrects=parts[0][1] or first,
                          credit=True)

    def treatment(self, p: Project, client: Client) -> Treatment:
        """Today's treatment from the project and client files: what a new supply is taxed at."""
        category = CATEGORIES[client.tax]
        rate = p.tax_rate if category == "S" else money.ZERO
        if category == "S" and rate == 0:
            category = "Z"
        note = NOTE_KEYS.get(category)
        return Treatment(rate_text(rate), category, note, note_text(note, client, self.settings) if note else None)

    def issued(self, number: str, rate: str, category: str) -> Treatment:
        """The treatment document `number` charged (rate, category) with, its legal note included: read from
        the issued record (or this run's plan), never from today's files."""
        note = NOTE_KEYS.get(category)
        if note is None:
            return Treatment(rate, category)
        planned = self.planned.get(number)
        rec = self.ledger.by_number.get(number) if planned is None else None
        data = planned if planned is not None else (rec.data if rec is not None else {})
        line = next((x for x in data.get("lines", ()) if x.get("tax_rate") == rate and x.get("category") == category
                     and x.get("exemption")), None)
        return Treatment(rate, category, line.get("note", note) if line else note,
                         line["exemption"] if line else data.get("tax_note"))

    def first_bill(self, p: Project, client: Client, state: Billed, m: Milestone, amount: Decimal,
                   today: Treatment) -> None:
        lines = [self.line(p, m.id, "charge", m.title, amount, today, m)]
        outstanding = state.deposit - state.deducted
        if not m.final or outstanding <= 0:
            self.emit(p, client, state, "final" if m.final else "milestone", "380", lines, supply=m.done)
            return
        prepaid = [{"number": d["number"], "net": d["net"], "tax": d["tax"], "paid": d["number"] in self.paid}
                   for d in state.deposits]
        refund = amount < outstanding  # the deposit exceeds the final milestone: the client gets the difference back
        for d in state.deposits:
            text = wording((PREPAID_REFUND if d["number"] in self.paid else PREPAID_UNPAID) if refund else PREPAID,
                           number=d["number"])
            lines.append(self.line(p, "deposit", "prepaid", text, -Decimal(d["net"]),
                                   self.issued(d["number"], d["rate"], d["category"])))
        if not refund:
            self.emit(p, client, state, "final", "380", lines, supply=m.done, prepaid=prepaid)
            return
        # a credit note prints credited amounts as positive: the deposit is credited, the final work set against it
        lines[0] = worded(lines[0], wording(SET_AGAINST, title=m.title))
        for line in lines:
            line["net"] = money.plain(-Decimal(line["net"]), p.currency)
        self.emit(p, client, state, "final", "381", lines, supply=m.done, prepaid=prepaid, credit=True,
                  corrects=state.deposits[0]["number"])

    def line(self, p: Project, ref: str, role: str, text: str | dict[str, Any], net: Decimal, treated: Treatment,
             m: Milestone | None = None) -> dict[str, Any]:
        line = {"ref": ref, "role": role, "description": text, "net": money.plain(net, p.currency),
                **treated.fields()}
        if isinstance(text, dict):
            line = worded(line, text)
        if m is not None and (m.description or m.deliverables):
            line["details"] = [x for x in (m.description, *m.deliverables) if x]
        return line

    def emit(self, p: Project, client: Client, state: Billed, kind: str, code: str, lines: list[dict[str, Any]],
             supply: dt.date | None, corrects: str | None = None, prepaid: list[dict[str, str]] | None = None,
             credit: bool = False) -> None:
        series = "credit_note" if credit else "invoice"
        seq = self.seqs[series]
        self.seqs[series] += 1
        pattern = getattr(self.settings.numbering, series)
        number = pattern.format(year=self.on.year, seq=seq)
        taxes = tax_breakdown(lines, p.currency)
        if kind == "final":
            taxes = true_up(taxes, state.vat, -1 if credit else 1, p.currency)
        net = sum((Decimal(t["net"]) for t in taxes), money.ZERO)
        tax = sum((Decimal(t["tax"]) for t in taxes), money.ZERO)
        total = net + tax
        terms = 0 if kind == "deposit" else p.payment_terms
        s, c = self.settings, client.party
        record: dict[str, Any] = {
            "billed": FORMAT, "number": number, "series": series, "year": self.on.year, "seq": seq,
            "type_code": code, "kind": kind, "issue_date": self.on.isoformat(),
            "due_date": None if credit else (self.on + dt.timedelta(days=terms)).isoformat(),
            "supply_date": supply.isoformat() if supply else None, "currency": p.currency,
            "locale": client.locale or client.language or s.locale, "language": client.language or s.language,
            "client": p.client, "project": p.id, "project_title": p.title,
            "seller": party(s.seller), "buyer": party(c), "buyer_reference": p.buyer_reference,
            "purchase_order": p.purchase_order, "lines": lines, "taxes": taxes,
            "net": money.plain(net, p.currency), "tax": money.plain(tax, p.currency),
            "total": money.plain(total, p.currency), "prepaid": prepaid or [], "corrects": corrects,
            "tax_note": tax_note(lines),
            "bank": bank(s) if not credit else None, "payment_terms": terms,
            "pay_link": None if credit else pay_link(s, number, total, p),
            "source": self.provenance(p, lines),
        }
        state.add(Record.of(record, ""))
        self.docs.append(record)
        self.planned[number] = record

    def provenance(self, p: Project, lines: list[dict[str, Any]]) -> dict[str, str] | None:
        if self.source is None:
            return None
        m = next((p.milestone(x["ref"]) for x in lines if x["role"] == "charge"), None)
        return self.source(p, m) if m else None


def party(p: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(p).items() if v is not None}


def bank(s: Settings) -> dict[str, str] | None:
    return party(s.bank) if s.bank else None


def pay_link(s: Settings, number: str, amount: Decimal, p: Any) -> str | None:
    """The link printed on a document. `pay_url` (stable, leads to the balance due whenever it is opened) wins
    over `pay_link` (a pattern filled once, with the total as issued)."""
    if s.pay_url:
        return s.pay_url.format(number=quote(number), client=quote(p.client), project=quote(p.id))
    if s.pay_link:
        return s.pay_link.format(number=quote(number), amount=money.plain(amount, p.currency), currency=p.currency,
                                 client=quote(p.client), project=quote(p.id))
    return None


def backdated(ledger: Ledger, on: dt.date) -> str | None:
    """Why `on` cannot be an issue date: numbers must follow issue dates, so a run may not go back before the
    latest issued document (it would also break the hash chain's order when numbering resets yearly)."""
    latest = ledger.latest()
    if latest is not None and on.isoformat() < latest["issue_date"]:
        return (f"--date {on.isoformat()} is before {latest.number}, issued {latest['issue_date']}: documents are "
                "numbered in the order of their dates, so issue on that date or later")
    return None


def plan(projects: dict[str, Project], clients: dict[str, Client], settings: Settings, ledger: Ledger,
         on: dt.date, source: Source | None = None, paid: Callable[[set[str]], frozenset[str]] | None = None,
         known: Mapping[str, dt.date | None] | None = None) -> list[dict[str, Any]]:
    """The documents to issue on `on`, fully numbered and chained, in a deterministic order. `paid`: which of the
    given deposit invoices are fully paid on `on` (a final invoice says a deducted deposit was paid only when it
    was); it is asked about the deposits of the projects that have something due, never about the others.
    `known`: `due_from` of projects against this ledger, as the project cache kept it (Repo.due_from)."""
    state, known, due = settled(ledger), known or {}, []
    for key in sorted(projects):
        p, first = projects[key], known.get(key, _UNKNOWN)
        # (most projects of a large repo: no deposit, and nothing their milestones will ever bill as they stand)
        if (first is not None or p.deposit) and _due(p, state.get(key) or _NOTHING, on, first):
            due.append(key)
    if not due:  # (most runs: numbering the next document would scan every record for nothing)
        return []
    deducted = {d["number"] for key in due if key in state for d in state[key].deposits}
    planner = Planner(settings, clients, ledger, on, source,
                      paid=paid(deducted) if paid is not None and deducted else frozenset())
    for key in due:
        held = state.get(key)  # (a fork copies every table of the project's state)
        planner.project(projects[key], held.fork() if held is not None else Billed())
    return planner.docs


_NOTHING = Billed()  # what a project never billed has: read by `_due`, never written
_UNKNOWN: Any = object()  # no `due_from` was kept for the project: `_due` works it out


def _due(p: Project, state: Billed, on: dt.date, first: dt.date | None = _UNKNOWN) -> bool:
    """Whether Planner.project would issue anything for `p` (what it checks, read without changing `state`): a
    deposit not yet invoiced, or a milestone whose target differs from what it was charged (`due_from`, given as
    `first` when the project cache kept it). Most projects of a large repo have nothing due on a given day;
    planning each on a copy of its state was ~0.4 s at 10,000."""
    if p.deposit > 0 and p.start <= on and not state.deposits:
        final = p.final  # (a property that walks the milestones: read only for the few with a deposit)
        if final is None or not state.invoices.get(final.id):
            return True
    if first is _UNKNOWN:
        first = due_from(p, state.charged)
    return first is not None and first <= on


def due_from(p: Project, charged: Mapping[str, Decimal]) -> dt.date | None:
    """The first day on which a milestone of `p` has a target (`target`) other than what it was `charged`: a done
    milestone billed other than its amount from the day it was done, a cancelled one still charged at once
    (date.min); None when no day will, until the project or its documents change. (`target` inlined: this runs
    for every project on each plan that the project cache cannot answer.)"""
    get, zero, first = charged.get, money.ZERO, None
    for m in p.milestones:
        status = m.status
        if status == "done":  # its amount once done
            done = m.done
            if done is not None and m.amount != get(m.id, zero) and (first is None or done < first):
                first = done
        elif status == "cancelled" and get(m.id, zero) != zero:  # nothing once cancelled
            return dt.date.min
    return first


def ledger_findings(projects: dict[str, Project], ledger: Ledger, project_files: dict[str, str]) -> list[Finding]:
    """Edits to projects that would rewrite history: removing, renaming or un-doing what was invoiced."""
    out: list[Finding] = []
    billed = settled(ledger)
    for key, recs in sorted(ledger.by_project.items()):
        state = billed[key]
        first = recs[0]
        p = projects.get(key)
        if p is None:
            if key not in project_files:
                out.append(Finding(str(first.path.relative_to(ledger.root)), 1, 1, "E050", f"project {key} was "
                                   f"invoiced on {first.number} but its file is gone",
                                   f"restore projects/{key}.yaml and cancel its milestones instead"))
            continue
        if p.currency != state.currency:
            out.append(p.loc.finding(("currency",), "E053", f"currency is {p.currency} but {first.number} was "
                                     f"issued in {state.currency}", f"set the currency back to {state.currency}"))
        for ref, numbers in state.invoices.items():
            m = p.milestone(ref)
            if m is None:
                out.append(p.loc.finding(("milestones",), "E050", f"milestone '{ref}' was invoiced on "
                                         f"{numbers[0]} and is missing", f"put it back with `id: {ref}` and set "
                                         "`status: cancelled` to credit it"))
            elif m.status in ("planned", "in_progress") and state.charged[ref] != 0:
                out.append(m.loc.finding(("status",), "E051", f"'{ref}' was invoiced on {numbers[0]} but is now "
                                         f"{m.status}", "set it back to done, or cancel it to credit the invoice"))
        if state.deposits:
            number = state.deposits[0]["number"]
            if p.deposit != state.deposit:
                out.append(p.loc.finding(("deposit",) if p.deposit_spec else (), "E052", f"the deposit was "
                                         f"invoiced on {number} as {state.deposit} {p.currency} and cannot change",
                                         f"set it back to {state.deposit}"))
        elif p.deposit > 0 and p.final and state.invoices.get(p.final.id):
            out.append(p.loc.finding(("deposit",), "E052", "a deposit cannot be added after the final invoice",
                                     "bill the extra work as a new milestone instead"))
    return out
