"""Exports for the books: CSV tables and a beancount journal, so accounting can take over from Billed.

projects.csv (and a closing comment in the journal) says per project how far the VAT its documents carry is from
the VAT on its net rounded once (`vat_rounding`, as in `billed status`), so the books reconcile to the cent.

Both are pure text built from the issued records and the payment ledger up to a day; nothing is recomputed that
the records already say (net, tax, total per document), so the books match the invoices to the cent.

Beancount accounts (the journal is self-contained: it opens every account it uses):
  Assets:Receivable:<Client>     what each client owes (invoice totals, less credit notes and payments)
  Income:Milestones              net of milestone charges (and supplements; credit notes reverse them)
  Liabilities:Advances           net of deposit invoices: an advance, not income, until the final invoice
                                 deducts it (the negative "prepaid" line releases it)
  Liabilities:VAT:<rate>         output VAT as invoiced, per rate (Liabilities:VAT:19, Liabilities:VAT:7)
  Income:LatePayment             late-payment interest and flat compensation (documents of kind `interest`)
  Assets:Bank                    payments received
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from typing import Any

from billed import money, taxes
from billed.ledger import Record
from billed.payments import DocState, Payment

ACCOUNTS = {"charge": "Income:Milestones", "deposit": "Liabilities:Advances", "prepaid": "Liabilities:Advances",
            "interest": "Income:LatePayment", "compensation": "Income:LatePayment"}
VAT, BANK = "Liabilities:VAT", "Assets:Bank"
DOC_FIELDS = ("number", "series", "type_code", "kind", "issue_date", "due_date", "supply_date", "client",
              "buyer", "buyer_country", "buyer_vat_id", "project", "currency", "tax_rate", "category", "net", "tax",
              "total", "document_total", "corrects", "prepaid", "state", "credited", "paid", "balance")
PROJECT_FIELDS = ("project", "client", "currency", "net", "vat", "vat_on_net", "vat_rounding")
PAY_FIELDS = ("date", "invoice", "client", "project", "currency", "amount", "source", "id", "reverses", "method",
              "reference", "payer", "file", "line")
# Columns that hold amounts or counts: a value there that is a plain number stays a number (credit notes and
# reversals are negative, "-1190.00"), so a spreadsheet can still sum it. Anything else in them is text.
NUMERIC = {"net", "tax", "total", "document_total", "tax_rate", "credited", "paid", "balance", "amount", "line",
           "vat", "vat_on_net", "vat_rounding"}
_NUMBER = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")
# OWASP "CSV Injection" (owasp.org/www-community/attacks/CSV_Injection) and ASVS 5.0 requirement 1.2.10: a cell
# that begins with = + - @ tab or carriage return (ASVS adds NUL) is read as a formula by Excel, LibreOffice and
# Google Sheets; prefixed with a single quote it is shown as the text it is.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def cell(field: str, value: Any) -> Any:
    """A value as it may go into a CSV cell: text that a spreadsheet would run as a formula is neutralised."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if field in NUMERIC and _NUMBER.match(value):
        return value
    return "'" + value


def _csv(fields: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    """RFC 4180: rows end in CRLF, so the csv module quotes any cell holding a CR or LF (with a bare LF ending
    rows, a CR inside a payment reference was written unquoted and split the row in a spreadsheet)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: cell(k, v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def documents_csv(records: list[Record], states: list[DocState]) -> str:
    """One row per document and VAT rate/category (EN 16931 BG-23): `net`, `tax` and `total` are that rate's,
    `document_total` and the state columns the whole document's (repeated on each of its rows, so sum `total`, not
    `document_total`). Amounts are signed as owed by the client (credit notes negative). The category tells
    domestic sales (S, Z) from reverse-charge (AE), not-taxable (O) and exempt (E) ones for the VAT return."""
    by_number = {s.number: s for s in states}
    rows = []
    for rec in records:
        state = by_number.get(rec.number)
        if state is None:
            continue
        cur, sign = rec["currency"], rec.sign
        head = {
            **{k: rec.get(k) for k in ("number", "series", "type_code", "kind", "issue_date", "due_date",
                                       "supply_date", "client", "project", "currency", "corrects")},
            "buyer": rec["buyer"]["name"], "buyer_country": rec["buyer"].get("country"),
            "buyer_vat_id": rec["buyer"].get("vat_id"), "document_total": money.plain(rec.dec("total") * sign, cur),
            "prepaid": " ".join(p["number"] for p in rec.get("prepaid") or []),
            "state": state.state, "credited": money.plain(state.credited, cur), "paid": money.plain(state.paid, cur),
            "balance": money.plain(state.balance, cur)}
        for t in rec["taxes"]:
            net, tax = Decimal(t["net"]) * sign, Decimal(t["tax"]) * sign
            rows.append({**head, "tax_rate": t["rate"], "category": t["category"], "net": money.plain(net, cur),
                         "tax": money.plain(tax, cur), "total": money.plain(net + tax, cur)})
    return _csv(DOC_FIELDS, rows)


def payments_csv(payments: list[Payment], records: dict[str, Record]) -> str:
    rows = []
    for p in payments:
        rec = records[p.invoice]
        rows.append({**p.as_json(), "client": rec["client"], "project": rec["project"],
                     "currency": rec["currency"], "amount": money.plain(p.amount, rec["currency"])})
    return _csv(PAY_FIELDS, rows)


def vat_rounding(records: list[Record]) -> list[dict[str, str]]:
    """Per project and currency: `net` and `vat` as its documents carry them (signed, credit notes deducted, so
    `vat` is what documents.csv's `tax` adds up to), `vat_on_net` (the VAT on that net rounded once per rate, what
    the contract owes: taxes.whole_vat) and `vat_rounding` = vat - vat_on_net, as `billed status` shows it. Each
    document rounds its own VAT; before a project's final invoice squares it (taxes.true_up) the books can be a
    cent or two off the contract's VAT, and this says by how much, so they reconcile to the cent (issue 11)."""
    sums: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        if rec["kind"] == "interest":  # late-payment interest is no part of the contract (api/late.py)
            continue
        sign, cur = rec.sign, rec["currency"]
        held = sums.setdefault((rec.key, cur),
                               {"client": rec["client"], "net": money.ZERO, "vat": money.ZERO, "bases": {}})
        held["net"] += rec.dec("net") * sign
        held["vat"] += (rec.dec("total") - rec.dec("net")) * sign
        for t in rec["taxes"]:
            base = held["bases"].setdefault((t["rate"], t["category"]), [money.ZERO, money.ZERO])
            base[0] += Decimal(t["net"]) * sign
    rows = []
    for (project, cur), held in sorted(sums.items()):
        whole = taxes.whole_vat(held["bases"], cur)
        rows.append({"project": project, "client": held["client"], "currency": cur,
                     **{k: money.plain(v, cur) for k, v in (("net", held["net"]), ("vat", held["vat"]),
                                                            ("vat_on_net", whole),
                                                            ("vat_rounding", held["vat"] - whole))}})
    return rows


def projects_csv(records: list[Record]) -> str:
    return _csv(PROJECT_FIELDS, vat_rounding(records))


# --- beancount -----------------------------------------------------------------------------------------------


def account_part(name: str) -> str:
    """A client id as a beancount account component: capital first letter, letters, digits and dashes."""
    part = re.sub(r"[^A-Za-z0-9-]", "-", name)
    return part[:1].upper() + part[1:]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "/").replace('"', "'").replace("\n", " ") + '"'


def _posting(account: str, amount: Decimal, cur: str) -> str:
    return f"  {account:<40} {money.plain(amount, cur):>16} {cur}"


def document_txn(rec: Record) -> list[str]:
    """Receivable against income, advances and VAT; every amount from the record, so it balances exactly."""
    cur, sign = rec["currency"], rec.sign
    receivable = f"Assets:Receivable:{account_part(rec['client'])}"
    links = " ".join(f"^{n}" for n in dict.fromkeys([rec.number, rec.get("corrects")] +
                                                     [p["number"] for p in rec.get("prepaid") or []]) if n)
    narration = f"{rec.number} {rec.get('project_title') or rec['project']}"
    lines = [f"{rec['issue_date']} * {_quote(rec['buyer']['name'])} {_quote(narration)} {links}",
             f"  document: {_quote(rec.number)}", f"  type_code: {_quote(rec['type_code'])}",
             _posting(receivable, rec.dec("total") * sign, cur)]
    by_account: dict[str, Decimal] = {}
    for line in rec["lines"]:
        account = ACCOUNTS[line["role"]]
        by_account[account] = by_account.get(account, money.ZERO) - Decimal(line["net"]) * sign
    lines += [_posting(account, amount, cur) for account, amount in by_account.items() if amount]
    for t in rec["taxes"]:  # output VAT per rate, as the VAT return wants it
        if Decimal(t["tax"]):
            lines.append(_posting(vat_account(t["rate"]), -Decimal(t["tax"]) * sign, cur))
    return lines


def vat_account(rate: str) -> str:
    """Liabilities:VAT:19, Liabilities:VAT:7-7 (a dot is not allowed in an account name)."""
    return f"{VAT}:{rate.replace('.', '-')}"


def payment_txn(p: Payment, rec: Record) -> list[str]:
    cur = rec["currency"]
    what = ("Reversal of " + p.reverses + " for " if p.reverses else "Payment ") + p.invoice + (
        f" ({p.method})" if p.method else "")
    lines = [f"{p.date.isoformat()} * {_quote(rec['buyer']['name'])} {_quote(what)} ^{p.invoice}",
             f"  source: {_quote(p.source)}", f"  payment_id: {_quote(p.id)}"]
    if p.reference:
        lines.append(f"  reference: {_quote(p.reference)}")
    lines += [_posting(BANK, p.amount, cur),
              _posting(f"Assets:Receivable:{account_part(rec['client'])}", -p.amount, cur)]
    return lines


def beancount(records: list[Record], payments: list[Payment], title: str, currency: str) -> str:
    """The journal: options, one open per account (on the first date), then every transaction by date."""
    by_number = {r.number: r for r in records}
    txns: list[tuple[str, int, list[str]]] = [(r["issue_date"], 0, document_txn(r)) for r in records]
    txns += [(p.date.isoformat(), 1, payment_txn(p, by_number[p.invoice])) for p in payments]
    txns.sort(key=lambda t: (t[0], t[1]))
    rates = {vat_account(t["rate"]) for r in records for t in r["taxes"] if Decimal(t["tax"])}
    accounts = sorted({f"Assets:Receivable:{account_part(r['client'])}" for r in records} |
                      set(ACCOUNTS.values()) | rates | {BANK})
    head = ["; Exported by Billed: issued documents and payments. Check it with `bean-check <file>`.",
            f"option \"title\" {_quote(title)}", f"option \"operating_currency\" {_quote(currency)}", ""]
    start = txns[0][0] if txns else "2000-01-01"
    head += [f"{start} open {a}" for a in accounts] + [""]
    return "\n".join(head + ["\n".join(t[2]) + "\n" for t in txns] + _rounding_note(records))


def _rounding_note(records: list[Record]) -> list[str]:
    """The projects whose documents' VAT is off the VAT on their net (vat_rounding), as a comment: the postings
    are what the documents say, and this is where an accountant sees the cents the final invoice will square."""
    off = [r for r in vat_rounding(records) if Decimal(r["vat_rounding"])]
    if not off:
        return []
    return ["; VAT rounding per project (`billed status`: vat_rounding): the VAT its documents carry minus the VAT",
            "; on its net rounded once per rate. The final invoice squares it; every project not listed is 0.00.",
            *(f"; {r['project']} {r['currency']}: net {r['net']}, VAT invoiced {r['vat']}, VAT on net "
              f"{r['vat_on_net']}, vat_rounding {r['vat_rounding']}" for r in off), ""]
