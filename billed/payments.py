"""payments/<year>.yaml: the append-only ledger of money received, and the states and aging derived from it.

Payments never go into the issued records (those never change); they are plain YAML lists next to them, read
with the same exact loader (Decimal amounts, line numbers) and checked against the issued documents. A document's
state is derived, never stored: its total, minus the credit notes that correct it, minus the payments dated on or
before the day asked about. So `--date` replays any past day. Entries are only ever appended.

Every entry has a `source` (`manual` by default, `stripe`, `bank`) and an id: the provider's (a Stripe payment
intent or refund, a bank's entry reference) written as `id:`, or, for an entry without one, its place
`P-<file stem>-<n>` (the n-th entry of payments/<stem>.yaml, stable because the file is only appended to). Ids are
unique across all files; that is what makes syncing and importing idempotent: an entry whose id is recorded
already is not appended again. A refund, a bank return or a mistaken entry is undone by a reversal, a negative
entry with `reverses: <id>` of the entry it undoes (at most its amount in all), never by editing the original.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from billed import money, storage
from billed.errors import Finding
from billed.ledger import ABSENT, HEAD, Ledger, Record, locked
from billed.load import Doc, load_file, load_text
from billed.repo import shown
from billed.schema import validate

FOLDER = "payments"
HEADER = ("# Payments received. `billed pay NUMBER AMOUNT` appends entries; undo one with a reversal\n"
          "# (`billed refund ID`), never by editing it. Schema: schemas/payments.schema.json\n")
SOURCES = ("manual", "stripe", "bank")
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
    source: str = "manual"
    id: str = ""
    reverses: str | None = None
    payer: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"invoice": self.invoice, "amount": str(self.amount), "date": self.date.isoformat(),
                "method": self.method, "reference": self.reference, "source": self.source, "id": self.id,
                "reverses": self.reverses, "payer": self.payer, "file": self.file, "line": self.line}


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
    return check_docs([load_file(path, shown(path), places=True) for path in ledger_files(root)], ledger)


def check_docs(docs: list[Doc], ledger: Ledger) -> tuple[list[Payment], list[Finding]]:
    """Each file's entries on their own, then what spans files: unique ids, and reversals that fit what they undo."""
    placed: list[tuple[Doc, int, Payment]] = []
    found: list[Finding] = []
    for doc in docs:
        items, problems = _check_doc(doc, ledger)
        placed += [(doc, i, p) for i, p in items]
        found += problems
    bad, links = _links(placed)
    out = [p for doc, i, p in placed if (doc.path, i) not in bad]
    return sorted(out, key=lambda p: (p.date, p.file, p.line)), sorted(found + links)


def _check_doc(doc: Doc, ledger: Ledger) -> tuple[list[tuple[int, Payment]], list[Finding]]:
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
            out.append((i, payment))
    return out, found


def _links(placed: list[tuple[Doc, int, Payment]]) -> tuple[set[tuple[str, int]], list[Finding]]:
    """Ids are unique across files; a reversal names a recorded payment (not a reversal) of the same invoice,
    dated no earlier, and all reversals of one payment together undo at most its amount."""
    by_id: dict[str, Payment] = {}
    bad: set[tuple[str, int]] = set()
    found: list[Finding] = []

    def refuse(doc: Doc, i: int, key: str, message: str, hint: str) -> None:
        bad.add((doc.path, i))
        found.append(doc.finding((i, key), "E070", message, hint))

    for doc, i, p in placed:
        if p.id in by_id:
            first = by_id[p.id]
            refuse(doc, i, "id", f"payment id {p.id} is recorded twice (first at {first.file}:{first.line})",
                   "each payment is recorded once; remove the repeated entry")
        else:
            by_id[p.id] = p
    undone: dict[str, Decimal] = defaultdict(lambda: money.ZERO)
    for doc, i, p in sorted(placed, key=lambda t: (t[2].date, t[2].file, t[2].line)):
        if p.reverses is None or (doc.path, i) in bad:
            continue
        target = by_id.get(p.reverses)
        hint = "name the id of the payment this undoes (`billed payments` lists them)"
        if target is None:
            refuse(doc, i, "reverses", f"reverses {p.reverses}, which is not a recorded payment", hint)
        elif target.reverses is not None:
            refuse(doc, i, "reverses", f"{p.reverses} is itself a reversal", "reverse the original payment")
        elif target.invoice != p.invoice:
            refuse(doc, i, "invoice", f"{p.reverses} paid {target.invoice}, not {p.invoice}",
                   f"a reversal is recorded against the invoice of the payment it undoes ({target.invoice})")
        elif p.date < target.date:
            refuse(doc, i, "date", f"reversed on {p.date}, before {p.reverses} was received ({target.date})",
                   "check the date")
        elif undone[target.id] - p.amount > target.amount:
            refuse(doc, i, "amount", f"reverses {-p.amount} of {p.reverses}, but only "
                   f"{target.amount - undone[target.id]} of it is left to reverse", "check the amount")
        else:
            undone[target.id] -= p.amount
    return bad, found


def _entry(doc: Doc, i: int, entry: dict[str, Any], by_number: dict[str, Record]) -> tuple[Payment | None,
                                                                                            list[Finding]]:
    """One entry's rules: the document exists and is an invoice, the amount fits its currency and is positive
    (negative only for a reversal), the currency (when given) is the document's, the date is real and not before
    the document was issued."""
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
    reverses = entry.get("reverses")
    if reverses is None and amount <= 0:
        bad.append(doc.finding((i, "amount"), "E070", f"amount {entry['amount']} must be more than zero",
                               "record money received as a positive amount; undo a payment with a reversal "
                               "(`billed refund ID`)"))
    elif reverses is not None and amount >= 0:
        bad.append(doc.finding((i, "amount"), "E070", f"a reversal's amount must be negative, not {entry['amount']}",
                               f"write the amount given back as a negative number, e.g. -{entry['amount']}"))
    elif abs(amount) >= money.MAX_AMOUNT:
        bad.append(doc.finding((i, "amount"), "E006", f"amount {entry['amount']} is out of range"))
    currency = rec["currency"] if rec is not None else entry.get("currency")
    if rec is not None and entry.get("currency") not in (None, currency):
        bad.append(doc.finding((i, "currency"), "E070", f"{number} is in {currency}, not {entry['currency']}",
                               f"record the amount received in {currency}"))
    elif currency and money.is_currency(currency) and amount and not money.fits_minor_units(amount, currency):
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
    pid = entry.get("id") or implicit_id(doc.path, i)
    return Payment(number, amount, day, doc.path, line, entry.get("method"), entry.get("reference"),
                   entry.get("source", "manual"), pid, reverses, entry.get("payer")), []


def implicit_id(path: str, index: int) -> str:
    """The id of an entry written without one: P-<file stem>-<its position>, e.g. P-2026-0003."""
    return f"P-{Path(path).stem}-{index + 1:04}"


def parse_date(text: Any) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(str(text))
    except ValueError:
        return None
    return day if len(str(text)) == 10 and 2000 <= day.year <= 2100 else None


# --- appending -----------------------------------------------------------------------------------------------


ENTRY_KEYS = ("invoice", "amount", "currency", "date", "source", "id", "reverses", "method", "reference", "payer")


def entry_text(entry: dict[str, Any]) -> str:
    """One YAML list item. Strings are written as JSON strings, which YAML reads back unchanged; the amount and
    date as they are (checked before), and `source` only when it is not the default."""
    lines = [f"- invoice: {json.dumps(entry['invoice'], ensure_ascii=False)}", f"  amount: {entry['amount']}"]
    for key in ENTRY_KEYS[2:]:
        value = entry.get(key)
        if key == "date":
            lines.append(f"  date: {value}")
        elif value and not (key == "source" and value == "manual"):
            lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def append(root: Path, ledger: Ledger, number: str, amount: str, day: dt.date, method: str | None = None,
           reference: str | None = None, currency: str | None = None,
           reverses: str | None = None) -> tuple[Payment | None, list[Finding]]:
    """Append one manual payment (or reversal) to payments/<year>.yaml; nothing written on any finding."""
    entry = {"invoice": number, "amount": amount.strip(), "date": day.isoformat(), "method": method,
             "reference": reference, "currency": currency, "reverses": reverses}
    added, _, found = append_entries(root, ledger, [entry])
    return (added[0] if added else None), found


def append_entries(root: Path, ledger: Ledger, entries: list[dict[str, Any]]) -> tuple[
        list[Payment], list[dict[str, Any]], list[Finding]]:
    """Append entries to payments/<year of each date>.yaml, all or nothing: (appended, already recorded, findings).

    An entry whose `id` is recorded already (or repeated in `entries`) is not appended: that is what lets a
    sync or an import run again. Every file is checked as it would be after the append, with every other file
    (ids and reversals span files); the files' existing bytes are kept as they are, text is only added."""
    with locked(root / "invoices"):  # the issuing lock (already git-ignored): one writer per checkout
        docs = {shown(p): load_file(p, shown(p), places=True) for p in ledger_files(root)}
        existing, found = check_docs(list(docs.values()), ledger)
        if found:
            return [], [], found
        known = {p.id for p in existing}
        todo, skipped = [], []
        for entry in entries:
            if entry.get("id") and entry["id"] in known:
                skipped.append(entry)
            else:
                todo.append(entry)
                known.add(entry.get("id") or "")
        writes, found = _proposed(root, docs, todo)
        if found or not writes:
            return [], skipped, found
        items, found = check_docs(list(docs.values()), ledger)
        if found:
            return [], skipped, found
        for path, (data, _) in writes.items():
            path.parent.mkdir(parents=True, exist_ok=True)  # only now: a refusal leaves no folder behind
            _write_append(path, data)
    firsts = {shown(path): first for path, (_, first) in writes.items()}
    added = [p for p in items if p.file in firsts and p.line >= firsts[p.file]]
    return sorted(added, key=lambda p: (p.file, p.line)), skipped, []


def _proposed(root: Path, docs: dict[str, Doc], todo: list[dict[str, Any]]) -> tuple[
        dict[Path, tuple[bytes, int]], list[Finding]]:
    """Per file, the bytes to append and the first new line; `docs` gets each file as it would be after."""
    by_year: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in todo:
        by_year[str(entry["date"])[:4]].append(entry)
    writes: dict[Path, tuple[bytes, int]] = {}
    for year, group in sorted(by_year.items()):
        path = root / FOLDER / f"{year}.yaml"
        where = shown(path)
        old = path.read_bytes() if path.exists() else HEADER.encode("utf-8")
        sep = b"" if not old or old.endswith(b"\n") else b"\n"
        first = old.count(b"\n") + len(sep) + 1
        for entry in group:
            if not _AMOUNT.match(str(entry["amount"])):
                return {}, [Finding(where, first + 1, 11, "E070", f"'{entry['amount']}' is not an amount",
                                    "write it like 1190.00: digits, a point, no currency sign or grouping")]
        added = "".join(entry_text(e) for e in group).encode("utf-8")
        try:
            doc = load_text((old + sep + added).decode("utf-8"), where, places=True)
        except UnicodeDecodeError:
            return {}, [Finding(where, 1, 1, "E001", "not valid UTF-8", "save the file as UTF-8")]
        before = docs.get(where)
        if before is not None and (not isinstance(doc.data, list) or len(doc.data) != len(before.data) + len(group)):
            return {}, [Finding(where, 1, 1, "E070", "cannot append: the file is not a plain list of entries",
                                "keep one `- invoice: ...` block per payment")]
        docs[where] = doc
        writes[path] = (sep + added if path.exists() else old + added, first)
    return writes, []


def _write_append(path: Path, data: bytes) -> None:
    """Append and fsync: earlier bytes are never rewritten, so git shows an append and nothing else."""
    storage.append_exactly(path, data)


_NUMBER, _SERIES, _CLIENT, _PROJECT, _CURRENCY, _ISSUED, _DUE, _TOTAL = (
    HEAD.index(k) for k in ("number", "series", "client", "project", "currency", "issue_date", "due_date", "total"))


# --- states and aging ----------------------------------------------------------------------------------------


def states(records: list[Record], payments: list[Payment], on: dt.date) -> list[DocState]:
    """Every document issued by `on`, with credit notes and payments up to `on` applied."""
    issued = [r for r in records if dt.date.fromisoformat(r.head[_ISSUED]) <= on]
    rows = {h[_NUMBER]: DocState(h[_NUMBER], h[_SERIES], h[_CLIENT], h[_PROJECT], h[_CURRENCY], h[_ISSUED],
                                 None if (due := h[_DUE]) is ABSENT else due, Decimal(h[_TOTAL]) * r.sign)
            for r in issued if (h := r.head)}  # (the head tuple read directly: ~3x faster than by key)
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
        for p in row.payments:
            table[key][f"paid_{p.source}"] += p.amount
        if row.balance > 0:
            table[key][bucket(row.days_overdue)] += row.balance
            docs[key].append(row.number)
        elif row.balance < 0:
            table[key]["credit"] += -row.balance
    out = []
    for (client, cur), sums in sorted(table.items()):
        if not any(sums[b] for b in BUCKETS) and not sums["credit"]:
            continue  # paid up: aging lists what is owed (a client seen only through payments is not)
        item: dict[str, Any] = {"client": client, "currency": cur}
        item.update({b: money.plain(sums[b], cur) for b in BUCKETS})
        item["total"] = money.plain(sum((sums[b] for b in BUCKETS), money.ZERO), cur)
        item["credit"] = money.plain(sums["credit"], cur)
        item["paid_by_source"] = by_source(sums, cur)
        item["documents"] = docs[(client, cur)]
        out.append(item)
    return out


def by_source(sums: dict[str, Decimal], cur: str) -> dict[str, str]:
    """Net amount received per source (manual, stripe, bank), reversals deducted; sources never used left out."""
    return {src: money.plain(sums[f"paid_{src}"], cur) for src in SOURCES if f"paid_{src}" in sums}


def totals(rows: list[DocState], by: str = "client") -> dict[tuple[str, str], dict[str, Decimal]]:
    """(client or client/project, currency) -> paid, outstanding, overdue and credit: what `status` shows."""
    out: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: money.ZERO))
    for row in rows:
        sums = out[(row.client if by == "client" else f"{row.client}/{row.project}", row.currency)]
        sums["paid"] += row.paid
        for p in row.payments:
            sums[f"paid_{p.source}"] += p.amount
        if row.balance > 0:
            sums["outstanding"] += row.balance
            if row.state == "overdue":
                sums["overdue"] += row.balance
        else:
            sums["credit"] += -row.balance
    return out
