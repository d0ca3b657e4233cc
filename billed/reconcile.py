"""Matching bank entries to issued invoices: which credit pays which document, which debit returns which payment.

Pure: entries, document states and recorded payments in; payment entries to append and the entries left over
(with why) out. A credit is matched

1. by the invoice number in its remittance information, also when the bank reformats it: any case, any
   separators (spaces, dashes, slashes, dots, line breaks) between its characters, so "INV 2026 0003",
   "inv-2026-\\n0003" and "INV2026 0003" all name INV-2026-0003; the number must not run on into more digits
   (INV-2026-00031 is another number), nor follow on a digit ("12026-0003") or, for a number starting with a
   letter, on a letter ("PRE-3" is not RE-3);
2. else by amount and payer: the one open invoice whose balance is exactly the amount, of the one client whose
   name is the payer's (legal forms and punctuation aside).

A credit naming an invoice that is already paid (by hand, say, before the statement came) is listed, never booked:
it would count the same money twice; so is a batch whose single amounts the bank left out. Several candidates are
ambiguous and nothing is booked; so are credits in another currency than the invoice's.
A debit is ignored unless it is a return (or reversal) of a credit booked earlier, found by its end-to-end
reference or by its remittance text naming the invoice and the amount: it becomes a reversal of that payment.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from billed import money
from billed.banks import Entry
from billed.payments import DocState, Payment

_SEP = r"[\s\-_/.:,;#]*"
LEGAL = {"gmbh", "mbh", "ag", "kg", "ug", "ohg", "ev", "ek", "se", "co", "ltd", "llc", "inc", "plc", "sa", "sarl",
         "sas", "bv", "nv", "srl", "spa", "oy", "ab", "as", "aps", "kft", "haftungsbeschrankt", "und", "and"}


@dataclass
class Outcome:
    entries: list[dict[str, Any]]  # to append (payments/<year>.yaml)
    unmatched: list[dict[str, Any]]  # credits listed, never booked (no match, ambiguous, currency, too early)
    ignored: int  # debits that return nothing of ours
    already: int = 0  # entries recorded by an earlier import (their id is in payments/)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # those entries, listed with the id they have there


def compact(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def number_pattern(number: str) -> re.Pattern[str]:
    """Tolerant inside the number, strict at its ends: "Order 10003" does not name 0003, "PRE-3" not RE-3."""
    flat = compact(number)
    chars = [re.escape(c) for c in flat]
    before = r"(?<![0-9])" if flat[:1].isdigit() else r"(?<![0-9A-Za-z])"
    return re.compile(before + _SEP.join(chars) + (r"(?![0-9])" if flat[-1:].isdigit() else ""), re.IGNORECASE)


def numbers_in(text: str, numbers: dict[str, str]) -> list[str]:
    """The invoice numbers the text names; `numbers` maps each compacted number to the number."""
    flat = compact(text)
    hits = [n for c, n in numbers.items() if c and c in flat]
    return sorted(n for n in hits if number_pattern(n).search(text))


def name_tokens(name: str | None) -> set[str]:
    folded = re.sub(r"[^\w\s]", " ", (name or "").casefold().replace("ä", "a").replace("ö", "o").replace("ü", "u"))
    return {t for t in folded.split() if t not in LEGAL}


def same_party(payer: str | None, buyer: str) -> bool:
    a, b = name_tokens(payer), name_tokens(buyer)
    return bool(a and b) and (a <= b or b <= a)


def match(entries: list[Entry], rows: list[DocState], buyers: dict[str, str], payments: list[Payment]) -> Outcome:
    """`rows`: the states of the issued documents (today); `buyers`: number -> the buyer's name on it."""
    invoices = {r.number: r for r in rows if r.series == "invoice"}
    numbers = {compact(n): n for n in invoices}
    balance = {n: r.balance for n, r in invoices.items()}
    out = Outcome([], [], 0)
    ours = [(p.id, p.invoice, p.amount, p.reference) for p in payments if p.source == "bank" and p.reverses is None]
    recorded = {p.id for p in payments}
    for e in sorted(entries, key=lambda e: (e.day, e.line)):
        known = next((i for i in e.ids if i in recorded), None)
        if known:  # the same or an overlapping statement: matched then, with the balances of then
            out.already += 1
            out.skipped.append(listed(e, f"recorded by an earlier import as {known}"))
            continue
        recorded.add(e.id)
        if e.debit or e.reversal:
            _debit(e, invoices, numbers, ours, out)
            continue
        number, why = (None, f"a batch of {e.batch} transfers without their single amounts: book them by hand "
                       "(`billed pay`)") if e.batch else _credit(e, invoices, numbers, balance, buyers)
        if number is None:
            out.unmatched.append(listed(e, why))
            continue
        balance[number] -= e.amount
        out.entries.append({"invoice": number, "amount": money.plain(e.amount, e.currency), "date": e.day.isoformat(),
                            "source": "bank", "id": e.id, "method": "bank transfer", "reference": e.end_to_end,
                            "payer": e.payer})
        ours.append((e.id, number, e.amount, e.end_to_end))
    return out


def _credit(e: Entry, invoices: dict[str, DocState], numbers: dict[str, str], balance: dict[str, Decimal],
            buyers: dict[str, str]) -> tuple[str | None, str]:
    named = numbers_in(e.text, numbers)
    if len(named) > 1:
        exact = [n for n in named if balance[n] == e.amount]
        if len(exact) != 1:
            return None, f"names {', '.join(named)}: book it by hand (`billed pay`), split as the client meant"
        named = exact
    if named:
        number = named[0]
    else:
        same = [n for n, r in invoices.items() if balance[n] == e.amount and r.currency == e.currency
                and r.issue_date <= e.day.isoformat() and same_party(e.payer, buyers.get(n, ""))]
        if len(same) > 1:
            return None, f"ambiguous: {', '.join(sorted(same))} each have {e.amount} open for this payer"
        if not same:
            return None, "no invoice number in the text, and no open invoice of this payer for this amount"
        number = same[0]
    row = invoices[number]
    if balance[number] <= 0:  # e.g. recorded by hand (`billed pay`), whose id never equals the bank's
        return None, f"{number} is already paid: book it by hand (`billed pay`) if it is meant as another payment"
    if row.currency != e.currency:
        return None, f"{number} is in {row.currency}, the credit in {e.currency}"
    if e.day < dt.date.fromisoformat(row.issue_date):
        return None, f"credited {e.day}, before {number} was issued ({row.issue_date})"
    return number, ""


Booked = tuple[str, str, Decimal, str | None]  # id, invoice, amount, end-to-end reference of a bank payment


def _debit(e: Entry, invoices: dict[str, DocState], numbers: dict[str, str], ours: list[Booked],
           out: Outcome) -> None:
    """A returned or reversed credit undoes the bank payment it returns; any other debit is not ours."""
    if not (e.debit and e.reversal):
        out.ignored += 1
        return
    named = set(numbers_in(e.text, numbers))
    target = next((b for b in ours if e.end_to_end and b[3] == e.end_to_end), None) or next(
        (b for b in ours if b[1] in named and b[2] == e.amount), None)
    if target is None:
        out.unmatched.append(listed(e, "a return of a credit that was never booked here"))
        return
    pid, number = target[0], target[1]
    cur = invoices[number].currency if number in invoices else e.currency
    out.entries.append({"invoice": number, "amount": "-" + money.plain(e.amount, cur), "date": e.day.isoformat(),
                        "source": "bank", "id": e.id, "reverses": pid, "method": "bank return",
                        "reference": e.end_to_end, "payer": e.payer})


def listed(e: Entry, why: str) -> dict[str, Any]:
    return {"id": e.id, "date": e.day.isoformat(), "amount": str(e.amount), "currency": e.currency,
            "debit": e.debit, "payer": e.payer, "text": e.text, "line": e.line, "why": why}
