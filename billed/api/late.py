"""Late-payment interest and compensation, billed as invoices of their own (billed/interest.py works them out)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from billed import engine, interest, money
from billed import ledger as ledger_mod
from billed.api import State, document_states, load, write_documents
from billed.errors import BilledError, Finding
from billed.i18n import N_
from billed.ledger import FORMAT, Record

# Billed words these lines itself: msgids (engine.wording), so each interest document prints them in its language
NOT_TAXABLE = N_("Late payment interest and the compensation for recovery costs are damages, not consideration "
                 "for a supply: not subject to VAT.")
INTEREST = N_("Late payment interest on invoice %(number)s of %(date)s, due %(due)s: reference rate + %(margin)s "
              "points (%(basis)s)")
COMPENSATION = N_("Flat compensation for recovery costs, invoice %(number)s (%(basis)s)")


def accrued(state: State, rec: Record, on: dt.date) -> tuple[interest.Terms | None, interest.Accrual | None, bool]:
    """Interest on one invoice not billed yet, up to `on`, and whether its flat compensation is still due."""
    settings = state.repo.settings
    if rec["series"] != "invoice" or rec["kind"] == "interest" or not rec.get("due_date") or settings is None:
        return None, None, False  # no interest on interest (cf. § 289 BGB)
    t = interest.terms(settings, rec["client"], rec["currency"])
    if t is None:
        return None, None, False
    due = dt.date.fromisoformat(rec["due_date"])
    billed = interest.billed_until(state.ledger.records).get(rec.number, (due, False))
    start = max(due, billed[0]) + dt.timedelta(days=1)
    reductions = [(p.date, p.amount) for p in state.payments if p.invoice == rec.number]
    reductions += [(dt.date.fromisoformat(r["issue_date"]), r.dec("total")) for r in state.ledger.records
                   if r["series"] == "credit_note" and r.get("corrects") == rec.number]
    acc = interest.accrue(rec.dec("total"), reductions, start, on, t)
    late = bool(acc.periods) or billed[0] > due
    return t, acc, late and not billed[1] and t.compensation > 0


def plan_interest(state: State, on: dt.date) -> list[dict[str, Any]]:
    """One document per late invoice with interest (or compensation) not billed yet, numbered after the ledger's
    last invoice; nothing when billed.yaml has no late_payment."""
    settings = state.repo.settings
    if settings is None or not settings.late_payment or not state.ok:
        return []
    problem = engine.backdated(state.ledger, on)
    if problem:
        raise BilledError(problem)
    seq = state.ledger.next_seq("invoice", on.year, state.yearly)
    docs = []
    rows = {s.number: s for s in document_states(state, on)}
    for number, _row in sorted(rows.items(), key=lambda kv: (kv[1].issue_date, kv[0])):
        rec = state.ledger.by_number[number]
        t, acc, flat = accrued(state, rec, on)
        if acc is None or t is None:
            continue
        amount = acc.total(rec["currency"])
        if amount <= 0 and not flat:
            continue
        docs.append(_document(state, rec, on, seq, acc, amount, flat, t))
        seq += 1
    return docs


def _document(state: State, rec: Record, on: dt.date, seq: int, acc: interest.Accrual, amount: Any, flat: bool,
              t: interest.Terms) -> dict[str, Any]:
    settings = state.repo.settings
    cur = rec["currency"]
    german = settings.seller.country == "DE"
    lines = []
    untaxed = {"tax_rate": "0", "category": "O", "exemption": NOT_TAXABLE}
    if amount > 0:
        words = engine.wording(INTEREST, number=rec.number, date=rec["issue_date"], due=rec["due_date"],
                               margin=f"{t.margin.normalize():f}",
                               basis="§ 288 BGB" if german else "Dir. 2011/7/EU, art. 2(6), 3")
        lines.append(engine.worded({"ref": rec.number, "role": "interest", **untaxed,
                                    "details": interest.details(acc, cur), "net": money.plain(amount, cur)}, words))
    if flat:
        words = engine.wording(COMPENSATION, number=rec.number,
                               basis="§ 288(5) BGB" if german else "Dir. 2011/7/EU, art. 6")
        lines.append(engine.worded({"ref": rec.number, "role": "compensation", **untaxed,
                                    "net": money.plain(t.compensation, cur)}, words))
    taxes = engine.tax_breakdown(lines, cur)
    total = sum((Decimal(x["net"]) for x in lines), money.ZERO)
    number = settings.numbering.invoice.format(year=on.year, seq=seq)
    until = acc.periods[-1].end if acc.periods else on
    return {
        "billed": FORMAT, "number": number, "series": "invoice", "year": on.year, "seq": seq, "type_code": "380",
        "kind": "interest", "issue_date": on.isoformat(),
        "due_date": (on + dt.timedelta(days=settings.payment_terms)).isoformat(), "supply_date": None,
        "currency": cur, **_words(state, rec), "client": rec["client"], "project": rec["project"],
        "project_title": rec.get("project_title"), "seller": engine.party(settings.seller), "buyer": rec["buyer"],
        "lines": lines, "taxes": taxes, "net": money.plain(total, cur), "tax": money.plain(money.ZERO, cur),
        "total": money.plain(total, cur), "prepaid": [], "corrects": None, "tax_note": engine.tax_note(lines),
        "bank": engine.bank(settings), "payment_terms": settings.payment_terms,
        "pay_link": engine.pay_link(settings, number, total, SimpleNamespace(client=rec["client"],
                                                                             id=rec["project"], currency=cur)),
        "source": None,
        "interest": [{"on": rec.number, "from": acc.periods[0].start.isoformat() if acc.periods else None,
                      "until": until.isoformat(), "amount": money.plain(amount, cur), "compensation": flat}],
    }


def _words(state: State, rec: Record) -> dict[str, Any]:
    """A new document speaks the client's language of today (as engine.emit does); the invoice's when the client
    file is gone."""
    client, s = state.repo.clients.get(rec["client"]), state.repo.settings
    if client is None:
        return {"locale": rec.get("locale"), "language": rec.get("language")}
    return {"locale": client.locale or client.language or s.locale, "language": client.language or s.language}


def bill_interest(root: Path | None, on: dt.date, dry_run: bool = False, pdf: bool = True) -> tuple[
        list[dict[str, Any]], list[Finding]]:
    """Issue the interest documents of `plan_interest`, exactly once, under the issuing lock."""
    state = load(root)
    if not state.ok:
        return [], state.findings
    if dry_run:
        return plan_interest(state, on), []
    with ledger_mod.locked(state.repo.invoices):
        state = load(state.repo.root)  # what another run issued meanwhile is numbered before ours
        if not state.ok:
            return [], state.findings
        docs = plan_interest(state, on)
        return write_documents(state, docs, pdf, None), []
