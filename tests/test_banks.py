"""`billed import`: camt.053, camt.054 (versions 02, 04, 08) and MT940 statements (tests/statements/, written to
the official XSD in several banks' styles) booked against the three invoices of test_payments' fixture:
INV-2026-0001 2380.00 and INV-2026-0002 4760.00 (issued 2026-01-20), INV-2026-0003 4760.00 (issued 2026-02-10)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from billed import api, banks
from tests.conftest import run, snapshot
from tests.test_payments import issued, states  # noqa: F401

STATEMENTS = Path(__file__).parent / "statements"
SPARKASSE = "bank:DE89370400440532013000:"


def statement(root: Path, name: str, text: str | None = None) -> str:
    target = root / "bank" / name
    target.parent.mkdir(exist_ok=True)
    if text is None:
        shutil.copy(STATEMENTS / name, target)
    else:
        target.write_text(text, encoding="utf-8")
    return str(target)


def test_camt053_books_matches_lists_the_rest_and_is_idempotent(issued):  # noqa: F811
    path = statement(issued, "sparkasse.camt053.xml")
    result = run(issued, "import", path, "--json")
    assert result.code == 0, result.err
    booked = result.json["booked"]
    assert [(b["invoice"], b["amount"], b["date"], b["id"], b["source"]) for b in booked] == [
        ("INV-2026-0001", "2380.00", "2026-01-22", SPARKASSE + "2026012200001", "bank"),
        ("INV-2026-0002", "1000.00", "2026-02-04", SPARKASSE + "2026020400007", "bank")]  # "INV-2026-" / "0002"
    assert booked[0]["payer"] == "NORDLICHT VERLAG GMBH" and booked[0]["reference"] == "NV-2026-17"
    assert result.json["ignored_debits"] == 1  # the rent; the pending credit is no entry yet
    assert [(u["amount"], u["payer"]) for u in result.json["unmatched"]] == [("55.00", "Max Mustermann")]
    rows = states(issued, "2026-02-09")
    assert (rows["INV-2026-0001"]["state"], rows["INV-2026-0002"]["balance"]) == ("paid", "3760.00")
    # the same statement again adds nothing, and says so
    before = snapshot(issued)
    again = run(issued, "import", path)
    assert again.code == 0
    assert "0 payments booked in payments/; 2 already recorded; 1 debit ignored." in again.out
    assert "Max Mustermann" in again.out and "no invoice number in the text" in again.out
    assert snapshot(issued) == before


def test_camt054_return_reverses_the_credit_it_returns(issued):  # noqa: F811
    assert run(issued, "import", statement(issued, "sparkasse.camt053.xml")).code == 0
    result = run(issued, "import", statement(issued, "postfinance.camt054.xml"), "--json")
    assert result.code == 0, result.err
    assert [(b["invoice"], b["amount"], b["reverses"]) for b in result.json["booked"]] == [
        ("INV-2026-0002", "3760.00", None), ("INV-2026-0001", "-2380.00", SPARKASSE + "2026012200001")]
    rows = states(issued, "2026-02-16")
    assert (rows["INV-2026-0002"]["state"], rows["INV-2026-0002"]["balance"]) == ("paid", "0.00")
    assert (rows["INV-2026-0001"]["state"], rows["INV-2026-0001"]["balance"]) == ("overdue", "2380.00")
    aging = api.aging(api.load(issued), dt.date(2026, 2, 16))
    assert aging[0]["paid_by_source"] == {"bank": "4760.00"}  # 2380.00 + 1000.00 + 3760.00 - 2380.00


def test_batch_amount_and_payer_ambiguity_and_currency(issued):  # noqa: F811
    result = run(issued, "import", statement(issued, "banque.camt053.xml"), "--json")
    assert result.code == 0, result.err
    # the batch's first transaction names inv2026-0003 (structured reference, lower case)
    assert [(b["invoice"], b["amount"], b["id"]) for b in result.json["booked"]] == [
        ("INV-2026-0003", "4760.00", "bank:FR7630006000011234567890189:E0002/1")]
    why = {u["id"].rpartition(":")[2]: u["why"] for u in result.json["unmatched"]}
    assert why["E0001"] == "ambiguous: INV-2026-0002, INV-2026-0003 each have 4760.00 open for this payer"
    assert why["E0002/2"].startswith("no invoice number in the text")
    assert why["E0003"] == "INV-2026-0002 is in EUR, the credit in USD"


def test_mt940_with_german_structured_details(issued):  # noqa: F811
    result = run(issued, "import", statement(issued, "volksbank.mt940"), "--json")
    assert result.code == 0, result.err
    assert [(b["invoice"], b["amount"], b["date"], b["payer"]) for b in result.json["booked"]] == [
        ("INV-2026-0002", "1000.00", "2026-02-04", "Nordlicht Verlag GmbH"),
        # no number: the one open invoice of this payer with exactly 4760.00 issued by then (INV-2026-0002 has
        # 3760.00 left after the 1000.00)
        ("INV-2026-0003", "4760.00", "2026-02-11", "NORDLICHT VERLAG GMBH")]
    assert result.json["ignored_debits"] == 1
    assert run(issued, "import", statement(issued, "volksbank.mt940"), "--json").json["already"] == 2


def test_dry_run_writes_nothing(issued):  # noqa: F811
    path = statement(issued, "sparkasse.camt053.xml")
    before = snapshot(issued)
    result = run(issued, "import", path, "--dry-run")
    assert result.code == 0 and "2 payments would be booked (dry run: nothing written)" in result.out
    assert snapshot(issued) == before


def _line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def test_malformed_statements_are_placed_and_write_nothing(issued):  # noqa: F811
    good = (STATEMENTS / "sparkasse.camt053.xml").read_text(encoding="utf-8")
    cases = {
        "cut.xml": good[:good.index("<AcctSvcrRef>2026020400007")],
        "invalid.xml": good.replace("<CdtDbtInd>DBIT</CdtDbtInd>", "<CdtDbtInd>DEBIT</CdtDbtInd>").replace(
            "<AcctSvcrRef>2026012200001</AcctSvcrRef>", "<AcctSvcrRef>2026012200001</AcctSvcrRef><Foo/>"),
        "old.xml": good.replace("camt.053.001.08", "camt.053.001.06"),
        "bad.mt940": (STATEMENTS / "volksbank.mt940").read_text().replace("CR1000,00NTRF", "CR1000.00NTRF"),
        "notes.txt": "hello\n",
    }
    before = snapshot(issued)
    errs = {}
    for name, text in cases.items():
        result = run(issued, "import", statement(issued, name, text))
        assert result.code == 1 and "Traceback" not in result.err, (name, result.err)
        errs[name] = result.err
        assert "nothing was written" in result.err
    invalid = cases["invalid.xml"]
    assert f"invalid.xml:{_line_of(invalid, '<CdtDbtInd>DEBIT')}:" in errs["invalid.xml"]
    assert "[E072] not valid camt.053.001.08: Element 'CdtDbtInd': [facet 'enumeration'] The value 'DEBIT'" in (
        errs["invalid.xml"])
    assert f"invalid.xml:{_line_of(invalid, '<Foo/>')}:" in errs["invalid.xml"]  # every problem, all at once
    assert "[E072] not well-formed XML" in errs["cut.xml"]
    assert "[E072] unsupported statement format (camt.053.001.06)" in errs["old.xml"]
    assert ("Billed reads camt.053.001.02, camt.053.001.04, camt.053.001.08, camt.054.001.02, camt.054.001.04, "
            "camt.054.001.08 and MT940") in errs["old.xml"]
    assert f"bad.mt940:{_line_of(cases['bad.mt940'], 'CR1000.00')}:5: [E072] not an MT940 statement line" in (
        errs["bad.mt940"])
    assert "[E072] not a bank statement Billed can read" in errs["notes.txt"]
    (issued / "bank").rename(issued.parent / "bank-moved")  # the statements themselves were the only change
    assert snapshot(issued) == {k: v for k, v in before.items() if not k.startswith("bank")}


def test_camt_without_references_is_keyed_by_content(issued):  # noqa: F811
    good = (STATEMENTS / "banque.camt053.xml").read_text(encoding="utf-8").replace("<NtryRef>E0002</NtryRef>", "")
    entries, found = banks.read(Path(statement(issued, "noref.xml", good)), "noref.xml")
    assert not found
    refs = [e.ref for e in entries]
    assert refs[1].startswith("sha-") and refs[1].endswith("/1") and refs[2].endswith("/2")
    again, _ = banks.read(Path(statement(issued, "noref2.xml", good)), "noref2.xml")
    assert [e.ref for e in again] == refs


def test_mt940_return_of_a_credit_reverses_it(issued):  # noqa: F811
    text = """\
:20:STARTUMSE
:25:37040044/0532013000
:28C:00013/001
:60F:C260131EUR10000,00
:61:2602040204CR2380,00NTRFNONREF//2026020400001
:86:166?00GUTSCHRIFT?20EREF+NV-DEP-1?21SVWZ+INV-2026-0001?32Nordlicht Verlag GmbH
:61:2602090209RC2380,00NRTINONREF//2026020900004
:86:109?00RUECKUEBERWEISUNG?20EREF+NV-DEP-1?21SVWZ+RETOURE INV-2026-0001
:62F:C260209EUR10000,00
-
"""
    result = run(issued, "import", statement(issued, "return.mt940", text), "--json")
    assert result.code == 0, result.err
    account = "bank:37040044/0532013000:"
    assert [(b["amount"], b["id"], b["reverses"]) for b in result.json["booked"]] == [
        ("2380.00", account + "2026020400001", None),
        ("-2380.00", account + "2026020900004", account + "2026020400001")]
    assert states(issued, "2026-02-09")["INV-2026-0001"]["balance"] == "2380.00"


def test_a_credit_for_an_invoice_paid_by_hand_is_listed_not_booked_again(issued):  # noqa: F811
    # the user saw the transfer and recorded it (id P-…, never the bank's id); then the statement comes
    assert run(issued, "pay", "INV-2026-0001", "2380.00", "--date", "2026-01-22").code == 0
    result = run(issued, "import", statement(issued, "sparkasse.camt053.xml"), "--json")
    assert result.code == 0, result.err
    assert [(b["invoice"], b["amount"]) for b in result.json["booked"]] == [("INV-2026-0002", "1000.00")]
    why = {u["id"].rpartition(":")[2]: u["why"] for u in result.json["unmatched"]}
    assert why["2026012200001"].startswith("INV-2026-0001 is already paid: book it by hand")
    rows = states(issued, "2026-02-09")
    assert (rows["INV-2026-0001"]["state"], rows["INV-2026-0001"]["balance"]) == ("paid", "0.00")


def test_a_batch_without_single_amounts_is_one_entry_listed_not_booked_per_detail(issued):  # noqa: F811
    good = (STATEMENTS / "banque.camt053.xml").read_text(encoding="utf-8")
    text = good.replace('<Amt Ccy="EUR">99.00</Amt>', "")  # valid to the XSD: TxDtls/Amt is optional
    result = run(issued, "import", statement(issued, "batch.xml", text), "--json")
    assert result.code == 0, result.err
    assert result.json["booked"] == []  # not 4859.00 for INV-2026-0003, nor once per detail
    batch = [u for u in result.json["unmatched"] if u["id"].endswith(":E0002")]
    assert [(u["amount"], u["why"]) for u in batch] == [
        ("4859.00", "a batch of 2 transfers without their single amounts: book them by hand (`billed pay`)")]
    assert "inv2026-0003" in batch[0]["text"] and "Abonnement 2026" in batch[0]["text"]


TWICE = """\
:20:STARTUMSE
:25:37040044/0532013000
:28C:00013/001
:60F:C260131EUR10000,00
:61:2602040204CR1000,00NTRFRG-NV-17
:86:166?00GUTSCHRIFT?109310?20SVWZ+RE INV-2026-0002?32Nordlicht Verlag GmbH
:61:2602040204CR1000,00NTRFRG-NV-17
:86:166?00GUTSCHRIFT?109310?20SVWZ+RE INV-2026-0002?32Nordlicht Verlag GmbH
:62F:C260204EUR12000,00
-
"""


def test_two_identical_mt940_transfers_on_one_day_are_both_booked(issued):  # noqa: F811
    # no bank reference, the payer's own reference the same on both: the n-th identical entry is keyed "#n"
    entries, found = banks.read(Path(statement(issued, "twice.mt940", TWICE)), "twice.mt940")
    assert not found
    first, second = (e.ref for e in entries)
    assert first.startswith("sha-") and second == first + "#2"
    assert entries[0].ids[1] == "bank:37040044/0532013000:RG-NV-17"  # what an earlier Billed keyed it by
    result = run(issued, "import", statement(issued, "twice.mt940", TWICE), "--json")
    assert result.code == 0, result.err
    assert [(b["invoice"], b["amount"]) for b in result.json["booked"]] == [
        ("INV-2026-0002", "1000.00"), ("INV-2026-0002", "1000.00")]
    assert states(issued, "2026-02-05")["INV-2026-0002"]["balance"] == "2760.00"
    # the same statement again: nothing booked, and each entry is reported, not dropped in silence
    again = run(issued, "import", statement(issued, "twice.mt940", TWICE), "--json")
    assert again.json["booked"] == [] and again.json["already"] == 2
    assert [s["why"] for s in again.json["skipped"]] == [
        f"recorded by an earlier import as {entries[0].id}", f"recorded by an earlier import as {entries[1].id}"]


# --- older camt versions: 02 (Dutch, Belgian, German DK before November 2023) and 04 (Swiss Payment Standards) --
# Per file: what is booked (invoice, amount, value date, id, payer), the debits ignored, what is listed unmatched,
# and the balances after it. Each has a pending entry (zkb also an informational one) that must not be booked.

OLDER = {
    "rabobank.camt053.v02.xml": (
        [("INV-2026-0001", "2380.00", "2026-01-23", "bank:NL91ABNA0417164300:RABO-20260123-0001",
          "NORDLICHT VERLAG GMBH"),
         ("INV-2026-0002", "1000.00", "2026-02-04", "bank:NL91ABNA0417164300:RABO-20260204-0007/1",
          "Nordlicht Verlag GmbH")],  # the batch's first detail, its amount from AmtDtls/TxAmt
        [("250.00", "De Vries Consultancy")],
        ("2026-02-10", {"INV-2026-0001": "0.00", "INV-2026-0002": "3760.00", "INV-2026-0003": "4760.00"})),
    "kbc.camt054.v02.xml": (
        [("INV-2026-0002", "1000.00", "2026-02-05", "bank:BE68539007547034:0502260013KBC/1", "Nordlicht Verlag GmbH"),
         ("INV-2026-0003", "4760.00", "2026-02-12", "bank:BE68539007547034:1202260008KBC", "NORDLICHT VERLAG GMBH")],
        [("99.00", "Peeters BVBA")],
        ("2026-02-13", {"INV-2026-0001": "2380.00", "INV-2026-0002": "3760.00", "INV-2026-0003": "0.00"})),
    "ubs.camt053.v04.xml": (
        [("INV-2026-0001", "2380.00", "2026-01-26", "bank:CH9300762011623852957:2026012600A1B2",
          "Nordlicht Verlag GmbH"),
         ("INV-2026-0002", "4760.00", "2026-02-12", "bank:CH9300762011623852957:2026021200E5F6/1",
          "Nordlicht Verlag GmbH")],
        [("99.00", "Muster Treuhand AG")],
        ("2026-02-13", {"INV-2026-0001": "0.00", "INV-2026-0002": "0.00", "INV-2026-0003": "4760.00"})),
    "zkb.camt054.v04.xml": (
        [("INV-2026-0002", "1000.00", "2026-02-04", "bank:CH4431999123000889012:ZKB20260204X0001",
          "NORDLICHT VERLAG GMBH"),
         ("INV-2026-0002", "3760.00", "2026-02-11", "bank:CH4431999123000889012:ZKB20260211X0042/1",
          "Nordlicht Verlag GmbH"),
         ("INV-2026-0001", "2380.00", "2026-02-11", "bank:CH4431999123000889012:ZKB20260211X0042/2",
          "Nordlicht Verlag GmbH")],  # "INV 2026 0001" in the structured reference
        [("50.00", "Anna Keller")],
        ("2026-02-12", {"INV-2026-0001": "0.00", "INV-2026-0002": "0.00", "INV-2026-0003": "4760.00"})),
}


@pytest.mark.parametrize("name", OLDER)
def test_older_camt_versions_book_like_version_08(issued, name):  # noqa: F811
    booked, unmatched, (on, balances) = OLDER[name]
    path = statement(issued, name)
    result = run(issued, "import", path, "--json")
    assert result.code == 0, result.err
    assert [(b["invoice"], b["amount"], b["date"], b["id"], b["payer"]) for b in result.json["booked"]] == booked
    assert result.json["ignored_debits"] == 1  # pending and informational entries are no entries at all
    assert [(u["amount"], u["payer"]) for u in result.json["unmatched"]] == unmatched
    assert {n: r["balance"] for n, r in states(issued, on).items()} == balances
    before = snapshot(issued)
    again = run(issued, "import", path, "--json")
    assert (again.json["booked"], again.json["already"]) == ([], len(booked))
    assert snapshot(issued) == before


def test_a_02_statement_whose_entries_are_all_pending_books_nothing(issued):  # noqa: F811
    text = (STATEMENTS / "rabobank.camt053.v02.xml").read_text(encoding="utf-8")
    assert text.count("<Sts>BOOK</Sts>") == 3
    path = statement(issued, "pending.xml", text.replace("<Sts>BOOK</Sts>", "<Sts>PDNG</Sts>"))
    before = snapshot(issued)
    result = run(issued, "import", path, "--json")
    assert result.code == 0, result.err
    assert (result.json["booked"], result.json["unmatched"], result.json["ignored_debits"]) == ([], [], 0)
    assert snapshot(issued) == before


def test_older_camt_breaking_its_own_version_schema_is_placed_and_writes_nothing(issued):  # noqa: F811
    v02 = (STATEMENTS / "rabobank.camt053.v02.xml").read_text(encoding="utf-8")
    v04 = (STATEMENTS / "zkb.camt054.v04.xml").read_text(encoding="utf-8")
    cases = {  # what is right in version 08 is wrong in 02 and 04, and the other way round
        "v02.xml": v02.replace("<Sts>PDNG</Sts>", "<Sts><Cd>PDNG</Cd></Sts>"),
        "v04.xml": v04.replace("<Dbtr><Nm>Anna Keller</Nm></Dbtr>", "<Dbtr><Pty><Nm>Anna Keller</Nm></Pty></Dbtr>"),
        "v04-noamount.xml": v04.replace('<Amt Ccy="EUR">50.00</Amt>', ""),  # TxDtls/Amt is mandatory in 04
    }
    paths = {name: statement(issued, name, text) for name, text in cases.items()}
    before = snapshot(issued)
    errs = {}
    for name, path in paths.items():
        result = run(issued, "import", path)
        assert result.code == 1 and "Traceback" not in result.err, (name, result.err)
        assert "nothing was written" in result.err and "{urn:" not in result.err
        errs[name] = result.err
    assert snapshot(issued) == before
    line = _line_of(cases["v02.xml"], "<Sts><Cd>PDNG")
    assert (f"v02.xml:{line}:1: [E072] not valid camt.053.001.02: Element 'Sts': Element content is not allowed, "
            "because the type definition is simple.") in errs["v02.xml"]
    line = _line_of(cases["v04.xml"], "<Pty><Nm>Anna")
    assert (f"v04.xml:{line}:1: [E072] not valid camt.054.001.04: Element 'Pty': This element is not expected."
            ) in errs["v04.xml"]
    line = _line_of(cases["v04-noamount.xml"], "<CdtDbtInd>CRDT</CdtDbtInd>\n            <RltdPties><Dbtr><Nm>Anna")
    assert (f"v04-noamount.xml:{line}:1: [E072] not valid camt.054.001.04: Element 'CdtDbtInd': This element is "
            "not expected. Expected is one of ( Refs, Amt ).") in errs["v04-noamount.xml"]


def test_a_02_batch_without_single_amounts_is_one_entry_listed(issued):  # noqa: F811
    # version 02 has no TxDtls/Amt: without AmtDtls/TxAmt nobody knows how the 1250.00 splits
    text = (STATEMENTS / "rabobank.camt053.v02.xml").read_text(encoding="utf-8")
    for amount in ("1000.00", "250.00"):
        text = text.replace(f'<AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>', "")
    result = run(issued, "import", statement(issued, "batch02.xml", text), "--json")
    assert result.code == 0, result.err
    assert [b["invoice"] for b in result.json["booked"]] == ["INV-2026-0001"]
    batch = [u for u in result.json["unmatched"] if u["id"].endswith(":RABO-20260204-0007")]
    assert [(u["amount"], u["why"]) for u in batch] == [
        ("1250.00", "a batch of 2 transfers without their single amounts: book them by hand (`billed pay`)")]
