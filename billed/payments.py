"""payments/<year>.yaml: the append-only ledger of money received, and the states and aging derived from it.

Payments never go into the issued records (those never change); they are plain YAML lists next to them, read
with the same exact loader (Decimal amounts, line numbers) and checked against the issued documents. A document's
state is derived, never stored: its total, minus the credit notes that correct it, minus the payments dated on or
before the day asked about. So `--date` replays any past day. `billed pay` only ever appends; there is no
negative "reversal" entry yet (amounts must be > 0), so a mistaken entry is corrected by editing it in a
reviewed commit, and git keeps what it said.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from billed import money
from billed.errors import Finding
from billed.ledger import Ledger, Record, locked
from billed.load import Doc, load_file, load_text
from billed.repo import shown
from billed.schema import validate

FOLDER = "payments"
HEADER = ("# Payments received. `billed pay NUMBER AMOUNT` appends entries; fix a mistaken entry in a reviewed\n"
          "# commit (git keeps what it said). Schema: schemas/payments.schema.json\n")
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
_AMOUNT = re.compile(r"^-?[0-9]{1,13}(\.[0-9]{1,6})?$")  # a sign is let through so the rule can say why


@dataclass(frozen=True)
class Payment:
    invoice: str
    amount: Decimal
    date: dt.date
    file: str
    line: int
    method: str | None = None
    reference: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"invoice": self.invoice, "amount": str(self.amount), "date": self.date.isoformat(),
                "method": self.method, "reference": self.reference, "file": self.file, "line": self.line}


@dataclass(slots=True)
class DocState:
    """One issued document as of a day: what it asks, what reduced it, what is left. Amounts are what the client
    owes (a credit note's own row is negative when it corrects nothing)."""

    number: str
    series: str
    client: str
    project: str
    currency: str
    issue_date: str
    due_date: str | None
    total: Decimal
    credited: Decimal = money.ZERO
    paid: Decimal = money.ZERO
    state: str = "open"
    days_overdue: int = 0
    applies_to: str | None = None
    payments: list[Payment] = field(default_factory=list)

    @property
    def balance(self) -> Decimal:
        return self.total - self.credited - self.paid

    def as_json(self) -> dict[str, Any]:
        cur = self.currency
        return {"number": self.number, "series": self.series, "client": self.client, "project": self.project,
                "currency": cur, "issue_date": self.issue_date, "due_date": self.due_date,
                "total": money.plain(self.total, cur), "credited": money.plain(self.credited, cur),
                "paid": money.plain(self.paid, cur), "balance": money.plain(self.balance, cur),
                "state": self.state, "days_overdue": self.days_overdue, "applies_to": self.applies_to}


# --- reading -------------------------------------------------------------------------------------------------


def ledger_files(root: Path) -> list[Path]:
    folder = root / FOLDER
    return sorted(p for p in folder.glob("*.y*ml") if not p.name.startswith(".")) if folder.is_dir() else []


def read(root: Path, ledger: Ledger) -> tuple[list[Payment], list[Finding]]:
    """Every payment in payments/*.yaml, checked against the issued documents; problems as findings."""
    out: list[Payment] = []
    found: list[Finding] = []
    for path in ledger_files(root):
        items, problems = _check_doc(load_file(path, shown(path)), ledger)
        out += items
        found += problems
    return sorted(out, key=lambda p: (p.date, p.file, p.line)), found


def _check_doc(doc: Doc, ledger: Ledger) -> tuple[list[Payment], list[Finding]]:
    if doc.findings:
        return [], list(doc.findings)
    if not isinstance(doc.data, list):
        return [], [Finding(doc.path, 1, 1, "E012", "expected a list of payments (lines starting with `- `)",
                            "see `billed pay --help`; each entry has invoice, amount and date")]
    problems = validate(doc, "payments")
    if problems:
        return [], problems
    by_number = ledger.by_number
    out, found = [], []
    for i, entry in enumerate(doc.data):
        payment, bad = _entry(doc, i, entry, by_number)
        found += bad
        if payment is not None and not bad:
            out.append(payment)
    return out, found


def _entry(doc: Doc, i: int, entry: dict[str, Any], by_number: dict[str, Record]) -> tuple[Payment | None,
                                                                                            list[Finding]]:
    """One entry's rules: the document exists and is an invoice, the amount is positive and fits its currency,
    the currency (when given) is the document's, the date is real and not before the document was issued."""
    bad: list[Finding] = []
    number = entry["invoice"]
    rec = by_number.get(number)
    if rec is None:
        close = [n for n in by_number if n.lower() == number.lower()]
        hint = f"did you mean {close[0]}?" if close else "use the number of an issued invoice (see `billed aging`)"
        bad.append(doc.finding((i, "invoice"), "E070", f"no issued document {number}", hint))
    elif rec["series"] != "invoice":
        bad.append(doc.finding((i, "invoice"), "E070", f"{number} is a credit note; payments settle invoices",
                               f"record the payment against the invoice it corrects ({rec.get('corrects')})"))
    amount = money.to_decimal(entry["amount"]) or money.ZERO
    if amount <= 0:
        bad.append(doc.finding((i, "amount"), "E070", f"amount {entry['amount']} must be more than zero",
                               "record money received as a positive amount (refunds to a client are not payments)"))
    elif amount >= money.MAX_AMOUNT:
        bad.append(doc.finding((i, "amount"), "E006", f"amount {entry['amount']} is out of range"))
    currency = rec["currency"] if rec is not None else entry.get("currency")
    if rec is not None and entry.get("currency") not in (None, currency):
        bad.append(doc.finding((i, "currency"), "E070", f"{number} is in {currency}, not {entry['currency']}",
                               f"record the amount received in {currency}"))
    elif currency and money.is_currency(currency) and amount > 0 and not money.fits_minor_units(amount, currency):
        digits = money.minor_units(currency)
        bad.append(doc.finding((i, "amount"), "E021", f"{entry['amount']} has more decimals than {currency} "
                               f"allows ({digits})", f"round it to {digits} decimal places"))
    day = parse_date(entry["date"])
    if day is None:
        bad.append(doc.finding((i, "date"), "E022", f"'{entry['date']}' is not a valid date",
                               "write dates as YYYY-MM-DD"))
    elif rec is not None and day < dt.date.fromisoformat(rec["issue_date"]):
        bad.append(doc.finding((i, "date"), "E070", f"paid {day}, before {number} was issued "
                               f"({rec['issue_date']})", "check the date"))
    if bad or day is None:
        return None, bad
    line = doc.where((i,))[0]
    return Payment(number, amount, day, doc.path, line, entry.get("method"), entry.get("reference")), []


def parse_date(text: Any) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(str(text))
    except ValueError:
        return None
    return day if len(str(text)) == 10 and 2000 <= day.year <= 2100 else None


# --- appending -----------------------------------------------------------------------------------------------


def entry_text(number: str, amount: str, day: str, method: str | None, reference: str | None,
               currency: str | None) -> str:
    """One YAML list item. Strings are written as JSON strings, which YAML reads back unchanged."""
    lines = [f"- invoice: {json.dumps(number, ensure_ascii=False)}", f"  amount: {amount}"]
    if currency:
        lines.append(f"  currency: {json.dumps(currency)}")
    lines.append(f"  date: {day}")
    for key, value in (("method", method), ("reference", reference)):
        if value:
            lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def append(root: Path, ledger: Ledger, number: str, amount: str, day: dt.date, method: str | None = None,
           reference: str | None = None, currency: str | None = None) -> tuple[Payment | None, list[Finding]]:
    """Append one payment to payments/<year>.yaml. The file's existing bytes are kept as they are (text is only
    added at the end); the whole resulting file is validated first, and nothing is written on any finding."""
    path = root / FOLDER / f"{day.year}.yaml"
    where = shown(path)
    with locked(root / "invoices"):  # the issuing lock (already git-ignored): one writer per checkout
        old = path.read_bytes() if path.exists() else HEADER.encode("utf-8")
        sep = b"" if not old or old.endswith(b"\n") else b"\n"
        text = amount.strip()
        if not _AMOUNT.match(text):
            lines = old.count(b"\n") + len(sep) + 2
            return None, [Finding(where, lines, 11, "E070", f"'{amount}' is not an amount",
                                  "write it like 1190.00: digits, a point, no currency sign or grouping")]
        added = entry_text(number, text, day.isoformat(), method, reference, currency).encode("utf-8")
        try:
            doc = load_text((old + sep + added).decode("utf-8"), where)
        except UnicodeDecodeError:
            return None, [Finding(where, 1, 1, "E001", "not valid UTF-8", "save the file as UTF-8")]
        before = load_text(old.decode("utf-8"), where) if path.exists() else None
        items, found = _check_doc(doc, ledger)
        if not found and before is not None and (not isinstance(before.data, list)
                                                  or len(doc.data) != len(before.data) + 1):
            found = [Finding(where, 1, 1, "E070", "cannot append: the file is not a plain list of entries",
                             "keep one `- invoice: ...` block per payment")]
        if found:
            return None, found
        path.parent.mkdir(parents=True, exist_ok=True)  # only now: a refused payment leaves no folder behind
        _write_append(path, sep + added if before is not None else old + added)
    return items[-1] if items else None, []


def _write_append(path: Path, data: bytes) -> None:
    """Append and fsync: earlier bytes are never rewritten, so git shows an append and nothing else."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


# --- states and aging ----------------------------------------------------------------------------------------


def states(records: list[Record], payments: list[Payment], on: dt.date) -> list[DocState]:
    """Every document issued by `on`, with credit notes and payments up to `on` applied."""
    issued = [r for r in records if dt.date.fromisoformat(r["issue_date"]) <= on]
    rows = {r.number: DocState(r.number, r["series"], r["client"], r["project"], r["currency"], r["issue_date"],
                               r.get("due_date"), Decimal(r["total"]) * r.sign) for r in issued}
    for r in issued:
        target = rows.get(r.get("corrects") or "")
        if r["series"] == "credit_note" and target is not None and target.series == "invoice":
            target.credited += Decimal(r["total"])
            rows[r.number].total = money.ZERO
            rows[r.number].applies_to = target.number
    for p in payments:
        if p.date <= on and p.invoice in rows:
            rows[p.invoice].paid += p.amount
            rows[p.invoice].payments.append(p)
    for row in rows.values():
        row.state, row.days_overdue = _state(row, on)
    return sorted(rows.values(), key=lambda s: (s.issue_date, s.series, s.number))


def _state(row: DocState, on: dt.date) -> tuple[str, int]:
    if row.series == "credit_note":
        return "credited", 0
    late = (on - dt.date.fromisoformat(row.due_date)).days if row.due_date else 0
    if row.credited > 0 and row.total - row.credited <= 0:
        return "credited", 0
    if row.balance <= 0:
        return "paid", 0
    if late > 0:
        return "overdue", late
    return ("partially_paid" if row.paid > 0 or row.credited > 0 else "open"), 0


def bucket(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "1-30"
    if days_overdue <= 60:
        return "31-60"
    if days_overdue <= 90:
        return "61-90"
    return "90+"


def aging(rows: list[DocState]) -> list[dict[str, Any]]:
    """Receivables per client and currency in buckets of days past due; credit balances apart. Currencies are
    never added together."""
    table: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: money.ZERO))
    docs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        key = (row.client, row.currency)
        if row.balance > 0:
            table[key][bucket(row.days_overdue)] += row.balance
            docs[key].append(row.number)
        elif row.balance < 0:
            table[key]["credit"] += -row.balance
    out = []
    for (client, cur), sums in sorted(table.items()):
        item: dict[str, Any] = {"client": client, "currency": cur}
        item.update({b: money.plain(sums[b], cur) for b in BUCKETS})
        item["total"] = money.plain(sum((sums[b] for b in BUCKETS), money.ZERO), cur)
        item["credit"] = money.plain(sums["credit"], cur)
        item["documents"] = docs[(client, cur)]
        out.append(item)
    return out


def totals(rows: list[DocState], by: str = "client") -> dict[tuple[str, str], dict[str, Decimal]]:
    """(client or client/project, currency) -> paid, outstanding, overdue and credit: what `status` shows."""
    out: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: money.ZERO))
    for row in rows:
        sums = out[(row.client if by == "client" else f"{row.client}/{row.project}", row.currency)]
        sums["paid"] += row.paid
        if row.balance > 0:
            sums["outstanding"] += row.balance
            if row.state == "overdue":
                sums["overdue"] += row.balance
        else:
            sums["credit"] += -row.balance
    return out
