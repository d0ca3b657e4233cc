"""Getting paid, beyond typing a payment in: the stable pay URL, reversals, the list of payments with their ids
and sources. (Bank statements, Stripe and late-payment interest have modules of their own beside this one.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import quote

from billed import money
from billed import payments as payments_mod
from billed.api import State, document_states, load
from billed.errors import BilledError, Finding


def pay_url(state: State, number: str, on: dt.date | None = None) -> str | None:
    """A URL for one invoice that leads to what is still due on it, or None (unknown number, a credit note, no
    `pay_url` or `pay_link` in billed.yaml).

    With `pay_url` (e.g. the hosted portal's `?pay={number}`) it is the same URL for the document's whole life:
    the page behind it asks for the balance due when it is opened. Without it, the `pay_link` pattern is filled
    with the balance due on `on` (default today), so that link changes as payments arrive."""
    rec = state.ledger.by_number.get(number)
    settings = state.repo.settings
    if rec is None or rec["series"] != "invoice" or settings is None:
        return None
    if settings.pay_url:
        return settings.pay_url.format(number=quote(number), client=quote(rec["client"]),
                                       project=quote(rec["project"]))
    if settings.pay_link:
        row = doc_state(state, number, on or dt.date.today())
        if row is None:  # not issued yet on `on`: nothing is due on it
            return None
        cur = rec["currency"]
        return settings.pay_link.format(number=quote(number), amount=money.plain(max(row.balance, money.ZERO), cur),
                                        currency=cur, client=quote(rec["client"]), project=quote(rec["project"]))
    return rec.get("pay_link")


def doc_state(state: State, number: str, on: dt.date) -> payments_mod.DocState | None:
    """Document `number`'s state on `on` (api.document_states), by number: a board asks once per document, and a
    scan per call was O(n^2) in the documents."""
    if ("by_number", on) not in state.memo:
        state.memo[("by_number", on)] = {s.number: s for s in document_states(state, on)}
    return state.memo[("by_number", on)].get(number)


def payment_list(state: State, on: dt.date | None = None, number: str | None = None) -> list[dict[str, Any]]:
    """Every payment up to `on` (all when None), oldest first, with its id, source and what it reverses."""
    by_number = state.ledger.by_number
    out = []
    for p in state.payments:
        if (on is None or p.date <= on) and (number is None or p.invoice == number):
            cur = by_number[p.invoice]["currency"]
            out.append({**p.as_json(), "amount": money.plain(p.amount, cur), "currency": cur,
                        "client": by_number[p.invoice]["client"]})
    return out


def reverse_payment(root: Path | None, pid: str, amount: str | None, on: dt.date, reference: str | None = None,
                    method: str | None = None) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Undo payment `pid` in full (or `amount` of it): a negative entry naming it, against its invoice."""
    state = load(root)
    if not state.ok:
        return None, state.findings
    target = next((p for p in state.payments if p.id == pid), None)
    if target is None:
        known = ", ".join(p.id for p in state.payments[-5:]) or "none yet"
        raise BilledError(f"no payment with id {pid} (latest: {known}); `billed payments` lists them")
    cur = state.ledger.by_number[target.invoice]["currency"]
    left = target.amount + sum((p.amount for p in state.payments if p.reverses == pid), money.ZERO)
    text = (amount or money.plain(left, cur)).strip().lstrip("-")
    payment, found = payments_mod.append(state.repo.root, state.ledger, target.invoice, f"-{text}", on, method,
                                         reference, reverses=pid)
    if found or payment is None:
        return None, found
    row = next(s for s in payments_mod.states(state.ledger.records, [*state.payments, payment], on)
               if s.number == target.invoice)
    return {"payment": payment.as_json(), "document": row.as_json()}, []


def import_statement(root: Path | None, file: Path, shown: str, dry_run: bool = False) -> tuple[
        dict[str, Any] | None, list[Finding]]:
    """Book the credits of a bank statement (camt.053/054, MT940) that pay issued invoices, exactly once each.

    All or nothing: a statement with any problem writes nothing, and so does any finding on the payments as they
    would be. Entries recorded by an earlier import (the same or an overlapping statement) are not added again:
    they are listed under `skipped`, with the id they were recorded under."""
    from billed import banks, reconcile

    state = load(root)
    if not state.ok:
        return None, state.findings
    entries, found = banks.read(file, shown)
    if found:
        return None, found
    rows = document_states(state, dt.date.max)
    buyers = {r.number: r["buyer"]["name"] for r in state.ledger.records}
    outcome = reconcile.match(entries, rows, buyers, state.payments)
    added: list[payments_mod.Payment] = []
    if outcome.entries and not dry_run:
        added, _, found = payments_mod.append_entries(state.repo.root, state.ledger, outcome.entries)
        if found:
            return None, found
    return {"booked": [p.as_json() for p in added] if not dry_run else outcome.entries,
            "already": outcome.already, "skipped": outcome.skipped, "unmatched": outcome.unmatched,
            "ignored_debits": outcome.ignored, "entries": len(entries), "dry_run": dry_run}, []
