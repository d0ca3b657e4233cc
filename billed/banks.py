"""Bank statements in: ISO 20022 camt.053 (statement) and camt.054 (notification), versions 02, 04 and 08, and
SWIFT MT940.

Reading only: a statement becomes a list of `Entry` (one per booked credit or debit; a batch booking with several
transaction details gives one per detail, or one for the whole batch when a detail lacks its amount), or findings
with the place of every problem, and nothing else. A camt file is parsed without entity expansion or network
access and validated against the official XSD of its exact version (schemas/iso20022/) before a single value is
read from it; what differs between the versions is read through `_Dialect` (the rest has the same path in all). MT940
is parsed by the maintained `mt-940` library, after a line check of its own (the library is lenient: it skips
what it does not understand). Matching entries to documents is billed/reconcile.py.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from billed.errors import Finding
from billed.resources import toolkit_dir


@dataclass(frozen=True)
class _Dialect:
    """The paths that differ between the camt versions read (checked against the XSDs in schemas/iso20022/)."""

    status: str  # the entry's Sts: a plain code in 02/04 (EntryStatus2Code), a choice of Cd|Prtry in 08
    party: str  # below RltdPties/Dbtr|Cdtr: PartyIdentification32 (02) / 43 (04) have Nm, Party40Choice (08) Pty/Nm


_PLAIN = _Dialect(status="c:Sts", party="c:Nm")
_DIALECTS = {"02": _PLAIN, "04": _PLAIN, "08": _Dialect(status="c:Sts/c:Cd | c:Sts/c:Prtry", party="c:Pty/c:Nm")}
# namespace -> message name; camt.053.001.02 is what most banks delivered for years (DK before November 2023, the
# Dutch and Belgian banks), camt.053.001.04 the Swiss Payment Standards 2019-2024 (schemas/iso20022/README.md)
CAMT = {f"urn:iso:std:iso:20022:tech:xsd:{kind}.001.{v}": f"{kind}.001.{v}"
        for kind in ("camt.053", "camt.054") for v in _DIALECTS}
_VERSIONS = ", ".join(CAMT.values())
MAX_BYTES = 50 * 1024 * 1024
_MT_TAG = re.compile(r"^:(\d{2}[A-Z]?):")
_MT_61 = re.compile(r"^:61:\d{6}(\d{4})?R?[CD][A-Z]?\d{1,12},\d{0,2}[A-Z0-9]{4}")


@dataclass(frozen=True)
class Entry:
    """One booked movement on the account, as the bank reported it."""

    ref: str  # the bank's entry reference (AcctSvcrRef, else NtryRef; MT940: the bank reference), unique per account
    account: str  # IBAN or other account id
    amount: Decimal  # always positive; `debit` says which way
    currency: str
    day: dt.date  # value date (booking date when there is none)
    debit: bool
    reversal: bool  # reversal or return of an earlier booking (RvslInd, RtrInf; MT940 RC: of a credit, RD: of a debit)
    text: str  # remittance information, the pieces joined with spaces
    payer: str | None  # the debtor's name on a credit (the creditor's on a debit)
    end_to_end: str | None
    line: int  # where the entry starts in the file
    batch: int = 0  # a batch of this many transactions whose single amounts the bank did not give: not matched
    legacy: str | None = None  # the reference an earlier Billed keyed this entry by, when it differs (MT940)

    @property
    def id(self) -> str:
        return f"bank:{self.account}:{self.ref}"

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id this entry may have been recorded under (today's first)."""
        return (self.id, f"bank:{self.account}:{self.legacy}") if self.legacy else (self.id,)


def read(path: Path, shown: str) -> tuple[list[Entry], list[Finding]]:
    """The entries of one statement file (camt or MT940, told apart by content), or findings."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [], [Finding(shown, 1, 1, "E072", f"cannot read the statement ({exc.strerror or exc})")]
    if len(data) > MAX_BYTES:
        return [], [Finding(shown, 1, 1, "E072", "statement larger than 50 MB", "split it by date")]
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head in (b"<", b":", b"{"):
        entries, found = (read_camt if head == b"<" else read_mt940)(data, shown)
        return _numbered(entries), found
    return [], [Finding(shown, 1, 1, "E072", "not a bank statement Billed can read",
                        "export camt.053 / camt.054 (XML, version 02, 04 or 08) or MT940 from your online banking")]


def _numbered(entries: list[Entry]) -> list[Entry]:
    """Two identical transfers on one day without a bank reference have one content key: the n-th of them in the
    file is keyed "<key>#n" (the first keeps the plain key it always had), so the second is booked, not skipped."""
    seen: dict[tuple[str, str], int] = {}
    out = []
    for e in entries:
        n = seen[e.account, e.ref] = seen.get((e.account, e.ref), 0) + 1
        out.append(e if n == 1 else replace(e, ref=f"{e.ref}#{n}"))
    return out


# --- camt.053 / camt.054 -------------------------------------------------------------------------------------


@cache
def _schema(name: str):  # noqa: ANN202 (lxml's XMLSchema)
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(toolkit_dir("schemas") / "iso20022" / f"{name}.xsd")))


def read_camt(data: bytes, shown: str) -> tuple[list[Entry], list[Finding]]:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, col = exc.position if exc.position else (exc.lineno or 1, 1)
        return [], [Finding(shown, line or 1, max(col, 1), "E072", f"not well-formed XML: {exc.msg}",
                            "the file is damaged or cut short: download it again from your bank")]
    ns = etree.QName(root).namespace or ""
    if ns not in CAMT:
        version = ns.rpartition(":")[2] or "no namespace"
        return [], [Finding(shown, root.sourceline or 1, 1, "E072", f"unsupported statement format ({version})",
                            f"Billed reads {_VERSIONS} and MT940; ask your bank for one of them")]
    schema = _schema(CAMT[ns])
    if not schema.validate(root):
        return [], [Finding(shown, e.line or 1, max(e.column, 0) + 1, "E072",
                            f"not valid {CAMT[ns]}: {_short(e.message)}", "the file does not follow the ISO 20022 "
                            "schema: ask your bank, or export it again")
                    for e in schema.error_log]
    x = {"c": ns}
    dialect = _DIALECTS[CAMT[ns].rpartition(".")[2]]
    out: list[Entry] = []
    for report in root.xpath("/c:Document/*/c:Stmt | /c:Document/*/c:Ntfctn", namespaces=x):
        account = _text(report, "c:Acct/c:Id/c:IBAN", x) or _text(report, "c:Acct/c:Id/c:Othr/c:Id", x) or "?"
        for ntry in report.xpath("c:Ntry", namespaces=x):
            out += _camt_entries(ntry, account, x, dialect)
    return out, []


def _short(message: str) -> str:
    """The schema's message without the namespace lxml puts before each element name (of every version read)."""
    return re.sub("|".join(re.escape(f"{{{ns}}}") for ns in CAMT), "", message)


def _text(node, path: str, x: dict[str, str]) -> str | None:  # noqa: ANN001
    found = node.xpath(path, namespaces=x)
    return " ".join(found[0].text.split()) if found and found[0].text else None


def _day(node, x: dict[str, str]) -> dt.date:  # noqa: ANN001
    for path in ("c:ValDt/c:Dt", "c:ValDt/c:DtTm", "c:BookgDt/c:Dt", "c:BookgDt/c:DtTm"):
        text = _text(node, path, x)
        if text:
            return dt.date.fromisoformat(text[:10])
    return dt.date.min


def _camt_entries(ntry, account: str, x: dict[str, str], dialect: _Dialect) -> list[Entry]:  # noqa: ANN001
    status = _text(ntry, dialect.status, x)
    if status not in (None, "BOOK"):
        return []  # pending or informational: booked later, in another statement
    debit = _text(ntry, "c:CdtDbtInd", x) == "DBIT"
    reversal = _text(ntry, "c:RvslInd", x) == "true"
    day = _day(ntry, x)
    ref = _text(ntry, "c:AcctSvcrRef", x) or _text(ntry, "c:NtryRef", x) or _digest(ntry)
    amount, currency = Decimal(ntry.xpath("c:Amt", namespaces=x)[0].text), ntry.xpath("c:Amt", namespaces=x)[0].get(
        "Ccy")
    details = ntry.xpath("c:NtryDtls/c:TxDtls", namespaces=x)
    party = "Cdtr" if debit else "Dbtr"
    if len(details) > 1 and not all(_tx_amount(tx, x) for tx in details):
        # a batch without the amount of each transaction: one entry of the entry's amount (not the whole amount
        # once per detail, booked N times), listed for booking by hand since no one knows how it splits
        payers = {_payer(tx, party, x, dialect) for tx in details}
        ends = {_ref(_text(tx, "c:Refs/c:EndToEndId", x)) for tx in details}
        return [Entry(ref=ref, account=account, amount=amount, currency=currency, day=day, debit=debit,
                      reversal=reversal or any(tx.xpath("c:RtrInf", namespaces=x) for tx in details),
                      text=" ".join(_remittance(tx, ntry, x) for tx in details).strip(),
                      payer=payers.pop() if len(payers) == 1 else None,
                      end_to_end=ends.pop() if len(ends) == 1 else None, line=ntry.sourceline or 1,
                      batch=len(details))]
    out = []
    for n, tx in enumerate(details or [None], start=1):
        tx_amount = _tx_amount(tx, x) if tx is not None else None
        out.append(Entry(
            ref=ref if len(details) <= 1 else f"{ref}/{n}", account=account,
            amount=Decimal(tx_amount) if tx_amount and len(details) > 1 else amount, currency=currency, day=day,
            debit=debit, reversal=reversal or (tx is not None and bool(tx.xpath("c:RtrInf", namespaces=x))),
            text=_remittance(tx, ntry, x),
            payer=_payer(tx, party, x, dialect) if tx is not None else None,
            end_to_end=_ref(_text(tx, "c:Refs/c:EndToEndId", x)) if tx is not None else None,
            line=(tx if len(details) > 1 else ntry).sourceline or 1))
    return out


def _tx_amount(tx, x: dict[str, str]) -> str | None:  # noqa: ANN001
    # TxDtls/Amt exists from version 04 on; AmtDtls/TxAmt/Amt in every version (the only one in 02)
    return _text(tx, "c:Amt", x) or _text(tx, "c:AmtDtls/c:TxAmt/c:Amt", x)


def _remittance(tx, ntry, x: dict[str, str]) -> str:  # noqa: ANN001
    remittance = "c:RmtInf/c:Ustrd | c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref | c:RmtInf/c:Strd/c:AddtlRmtInf"
    pieces = [p.text for p in tx.xpath(remittance, namespaces=x) if p.text] if tx is not None else []
    pieces += [p.text for p in ntry.xpath("c:AddtlNtryInf", namespaces=x) if p.text and not pieces]
    return " ".join(pieces)


def _payer(tx, party: str, x: dict[str, str], dialect: _Dialect) -> str | None:  # noqa: ANN001
    return _text(tx, f"c:RltdPties/c:{party}/{dialect.party}", x)


def _ref(text: str | None) -> str | None:
    return None if not text or text.upper() in ("NOTPROVIDED", "NONREF") else text


def _digest(node) -> str:  # noqa: ANN001
    """An entry without a reference is known by its content: the same entry in an overlapping statement has it."""
    from lxml import etree

    return "sha-" + hashlib.sha256(etree.tostring(node, method="c14n")).hexdigest()[:16]


# --- MT940 ---------------------------------------------------------------------------------------------------


def read_mt940(data: bytes, shown: str) -> tuple[list[Entry], list[Finding]]:
    import mt940

    text = data.decode("utf-8", errors="replace") if _utf8(data) else data.decode("latin-1")
    text = text.lstrip("\ufeff")
    found = _mt940_lines(text, shown)
    if found:
        return [], found
    options = mt940.Options(applicant_iban=True, unbounded_details=True, strip_bom=True, merge_keeps_values=True)
    out: list[Entry] = []
    lines = text.splitlines()
    starts = [i + 1 for i, line in enumerate(lines) if line.startswith(":61:")]
    try:
        statements = mt940.parse_statements(
            text, processors={"post_transaction_details": [mt940.processors.transaction_details_post_processor]},
            options=options)
    except Exception as exc:  # the library raises plain exceptions on input it cannot read
        return [], [Finding(shown, 1, 1, "E072", f"not a readable MT940 statement ({exc})",
                            "export it again from your online banking")]
    k = 0
    for statement in statements:
        account = str(statement.data.get("account_identification") or "?").replace(" ", "")
        for t in statement:
            d = t.data
            line = starts[k] if k < len(starts) else 1
            k += 1
            status = str(d.get("status") or "")
            amount = abs(Decimal(d["amount"].amount))
            purpose = d.get("purpose") or d.get("transaction_details") or ""
            # the bank's reference, never the payer's (customer_reference is whatever the payer typed, the same
            # for two transfers); without one, the content (numbered by read() when it repeats in the file)
            ref = _ref(d.get("bank_reference"))
            day = d.get("date") or d.get("entry_date")
            digest = "sha-" + hashlib.sha256(f"{account}|{day}|{amount}|{status}|{purpose}".encode()).hexdigest()[:16]
            out.append(Entry(
                ref=ref or digest, legacy=None if ref else _ref(d.get("customer_reference")),
                account=account, amount=amount, currency=d["amount"].currency or d.get("currency") or "?",
                day=dt.date(day.year, day.month, day.day), debit=status in ("D", "RC"),
                reversal=status.startswith("R"),
                text=" ".join(str(purpose).split()), payer=d.get("applicant_name"),
                end_to_end=_ref(d.get("end_to_end_reference")), line=line))
    return out, []


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _mt940_lines(text: str, shown: str) -> list[Finding]:
    """What the lenient library would skip in silence: a statement without account or closing balance, a
    :61: line that is not a statement line, an amount that is not one."""
    found = []
    tags = []
    for n, line in enumerate(text.splitlines(), start=1):
        match = _MT_TAG.match(line)
        if match:
            tags.append(match[1])
        if line.startswith(":61:") and not _MT_61.match(line):
            found.append(Finding(shown, n, 5, "E072", "not an MT940 statement line (:61: date, C/D mark, amount "
                                 "with a decimal comma, transaction type)", "the file is damaged: export it again"))
        if line.startswith(":61:"):
            amount = re.match(r"^:61:\d{6}(?:\d{4})?R?[CD][A-Z]?(\d{1,12},\d{0,2})", line)
            try:
                if amount:
                    Decimal(amount[1].replace(",", "."))
            except InvalidOperation:
                found.append(Finding(shown, n, 5, "E072", "amount is not a number"))
    for need, what in (("25", "account (:25:)"),):
        if need not in tags and not found:
            found.append(Finding(shown, 1, 1, "E072", f"not an MT940 statement: no {what}",
                                 "export MT940 (or camt.053) from your online banking"))
    if "61" in tags and not any(t.startswith("62") for t in tags) and not found:
        found.append(Finding(shown, len(text.splitlines()) or 1, 1, "E072", "MT940 statement without a closing "
                             "balance (:62F:): the file is cut short", "download it again"))
    return found
