"""Payments: the append-only ledger, its validation, document states, balances and aging on fixed dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from billed import api
from billed.payments import bucket
from tests.conftest import run, snapshot, write

PROJECT = """\
title: Website
total: 10000.00
start: 2026-01-05
deposit: 2000.00
milestones:
  - id: design
    title: Design
    amount: 4000.00
    status: done
    done: 2026-01-20
  - id: launch
    title: Launch
    amount: 6000.00
    final: true
    status: done
    done: 2026-02-10
"""


@pytest.fixture
def issued(repo) -> Path:
    """Deposit INV-2026-0001 (2380.00, due at once), design INV-2026-0002 (4760.00, due +14 days), both issued
    on 2026-01-20; launch issued 2026-02-10 as INV-2026-0003 with the deposit deducted (4760.00)."""
    project = PROJECT.replace("    status: done\n    done: 2026-02-10\n", "    status: in_progress\n")
    root = repo({"projects/nordlicht/site.yaml": project})
    assert run(root, "issue", "--date", "2026-01-20", "--no-pdf").code == 0
    write(root, {"projects/nordlicht/site.yaml": PROJECT})
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    return root


def states(root: Path, on: str) -> dict[str, dict]:
    state = api.load(root)
    assert state.ok, state.findings
    return {s.number: s.as_json() for s in api.document_states(state, dt.date.fromisoformat(on))}


def test_issued_totals_are_what_the_tests_assume(issued):
    rows = states(issued, "2026-02-10")
    assert {n: r["total"] for n, r in rows.items()} == {
        "INV-2026-0001": "2380.00", "INV-2026-0002": "4760.00", "INV-2026-0003": "4760.00"}
    assert rows["INV-2026-0001"]["due_date"] == "2026-01-20"


def test_partial_then_full_payment(issued):
    assert run(issued, "pay", "INV-2026-0002", "1000.00", "--date", "2026-01-25").code == 0
    row = states(issued, "2026-01-25")["INV-2026-0002"]
    assert (row["state"], row["paid"], row["balance"]) == ("partially_paid", "1000.00", "3760.00")
    result = run(issued, "pay", "INV-2026-0002", "3760", "--date", "2026-01-30", "--method", "bank transfer",
                 "--reference", "SEPA 4711")
    assert result.code == 0, result.err
    assert "paid in full" in result.out
    row = states(issued, "2026-02-01")["INV-2026-0002"]
    assert (row["state"], row["balance"]) == ("paid", "0.00")
    # the past is replayable: on the day of the first payment it was only partly paid
    assert states(issued, "2026-01-26")["INV-2026-0002"]["state"] == "partially_paid"


def test_overpayment_is_a_credit_balance(issued):
    result = run(issued, "pay", "INV-2026-0001", "2500.00", "--date", "2026-01-21", "--json")
    assert result.code == 0
    assert result.json["document"]["balance"] == "-120.00"
    rows = api.aging(api.load(issued), dt.date(2026, 1, 21))
    assert rows[0]["credit"] == "120.00"
    status = {r["project"]: r for r in api.status(api.load(issued), on=dt.date(2026, 1, 21))}
    assert status["nordlicht/site"]["credit"] == "120.00"
    assert status["nordlicht/site"]["paid"] == "2500.00"
    text = run(issued, "status", "--date", "2026-01-21").out
    assert "Receivables per client" in text
    assert "nordlicht  EUR  €2,500.00    €4,760.00    €0.00  €120.00" in text


def test_overdue_after_due_date_and_states_per_day(issued):
    assert states(issued, "2026-01-20")["INV-2026-0001"]["state"] == "open"  # due today: not late yet
    row = states(issued, "2026-01-21")["INV-2026-0001"]
    assert (row["state"], row["days_overdue"]) == ("overdue", 1)
    assert states(issued, "2026-02-03")["INV-2026-0002"]["state"] == "open"
    assert states(issued, "2026-02-04")["INV-2026-0002"]["state"] == "overdue"
    status = {r["project"]: r for r in api.status(api.load(issued), on=dt.date(2026, 2, 4))}
    assert status["nordlicht/site"]["overdue"] == "7140.00"
    assert status["nordlicht/site"]["outstanding"] == "7140.00"  # INV-2026-0003 is not issued until 02-10
    status = {r["project"]: r for r in api.status(api.load(issued), on=dt.date(2026, 2, 10))}
    assert status["nordlicht/site"]["outstanding"] == "11900.00"


def test_credit_note_reduces_what_is_owed(repo):
    project = PROJECT.replace("deposit: 2000.00\n", "").replace("    final: true\n", "")
    project = project.replace("total: 10000.00\n", "")
    root = repo({"projects/nordlicht/site.yaml": project})
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    lowered = project.replace("amount: 4000.00", "amount: 3000.00")
    write(root, {"projects/nordlicht/site.yaml": lowered})
    assert run(root, "issue", "--date", "2026-02-12", "--no-pdf").code == 0
    rows = states(root, "2026-02-12")
    assert rows["CN-2026-0001"]["applies_to"] == "INV-2026-0001"
    assert (rows["INV-2026-0001"]["credited"], rows["INV-2026-0001"]["balance"]) == ("1190.00", "3570.00")
    assert run(root, "pay", "INV-2026-0001", "3570.00", "--date", "2026-02-13").code == 0
    assert states(root, "2026-02-13")["INV-2026-0001"]["state"] == "paid"
    # cancelling the other milestone credits its invoice in full
    write(root, {"projects/nordlicht/site.yaml": lowered.replace(
        "    status: done\n    done: 2026-02-10\n", "    status: cancelled\n")})
    assert run(root, "issue", "--date", "2026-02-14", "--no-pdf").code == 0
    rows = states(root, "2026-02-14")
    assert (rows["INV-2026-0002"]["state"], rows["INV-2026-0002"]["balance"]) == ("credited", "0.00")


def test_aging_buckets_on_fixed_dates(issued):
    assert [bucket(d) for d in (-3, 0, 1, 30, 31, 60, 61, 90, 91)] == [
        "current", "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+"]
    assert run(issued, "pay", "INV-2026-0002", "760.00", "--date", "2026-02-01").code == 0
    # on 2026-04-25: deposit due 01-20 is 95 days late, design due 02-03 is 81, launch due 02-24 is 60
    result = run(issued, "aging", "--date", "2026-04-25", "--json")
    assert result.code == 0, result.err
    assert result.json == [{
        "client": "nordlicht", "currency": "EUR", "current": "0.00", "1-30": "0.00", "31-60": "4760.00",
        "61-90": "4000.00", "90+": "2380.00", "total": "11140.00", "credit": "0.00",
        "paid_by_source": {"manual": "760.00"}, "documents": ["INV-2026-0001", "INV-2026-0002", "INV-2026-0003"]}]
    text = run(issued, "aging", "--date", "2026-02-10")
    assert text.code == 0 and "nordlicht" in text.out and "EUR" in text.out


def test_aging_never_adds_currencies(repo):
    usd = PROJECT.replace("title: Website\n", "title: Website US\ncurrency: USD\n")
    root = repo({"projects/nordlicht/site.yaml": PROJECT, "projects/nordlicht/us.yaml": usd})
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    rows = api.aging(api.load(root), dt.date(2026, 3, 1))
    assert [(r["client"], r["currency"]) for r in rows] == [("nordlicht", "EUR"), ("nordlicht", "USD")]
    assert rows[0]["total"] == rows[1]["total"]


def test_pay_appends_without_rewriting(issued):
    assert run(issued, "pay", "INV-2026-0002", "100.00", "--date", "2026-01-25").code == 0
    path = issued / "payments" / "2026.yaml"
    before = path.read_bytes()
    result = run(issued, "pay", "INV-2026-0002", "200.00", "--date", "2026-01-26", "--reference", 'a "quoted": ref')
    assert result.code == 0
    after = path.read_bytes()
    assert after.startswith(before) and len(after) > len(before)
    state = api.load(issued)
    assert [(p.amount, p.reference, p.line) for p in state.payments] == [
        (Decimal("100.00"), None, 3), (Decimal("200.00"), 'a "quoted": ref', 6)]


@pytest.mark.parametrize(("args", "code", "text"), [
    (("INV-2026-0099", "10.00"), "E070", "no issued document INV-2026-0099"),
    (("INV-2026-0002", "0"), "E070", "must be more than zero"),
    (("INV-2026-0002", "-5.00"), "E070", "amount -5.00 must be more than zero"),
    (("INV-2026-0002", "ten"), "E070", "is not an amount"),
    (("INV-2026-0002", "10.001"), "E021", "more decimals than EUR allows"),
    (("INV-2026-0002", "10.00", "--currency", "USD"), "E070", "is in EUR, not USD"),
    (("INV-2026-0002", "10.00", "--date", "2026-01-19"), "E070", "before INV-2026-0002 was issued"),
])
def test_pay_refuses_bad_input_and_writes_nothing(issued, args, code, text):
    assert run(issued, "pay", "INV-2026-0002", "1.00", "--date", "2026-01-25").code == 0
    before = snapshot(issued)
    if "--date" not in args:
        args = (*args, "--date", "2026-01-25")
    result = run(issued, "pay", *args)
    assert result.code == 1
    assert f"[{code}]" in result.err and text in result.err
    assert "payments/2026.yaml:" in result.err  # placed where the entry would have gone
    assert "Traceback" not in result.err
    assert snapshot(issued) == before


def test_bad_ledger_entries_are_findings_in_check(issued):
    write(issued, {"payments/2026.yaml": """\
        - invoice: INV-2026-0002
          amount: 100.00
          date: 2026-01-25
        - invoice: INV-2026-0042
          amount: -5
          date: 2026-02-30
        - invoice: INV-2026-0001
          amount: 10.00
          currency: USD
          date: 2026-01-25
        - invoice: CN-2026-0001
          amount: 1
          date: 2026-01-25
          bogus: 1
        """})
    result = run(issued, "check")
    assert result.code == 1
    err = result.err
    assert "payments/2026.yaml:14:3: [E010] unknown key 'bogus'" in err
    # a schema error stops the rules for that file; fix it and every rule finding shows, each on its line
    write(issued, {"payments/2026.yaml": (issued / "payments/2026.yaml").read_text().replace("  bogus: 1\n", "")})
    err = run(issued, "check").err
    assert "payments/2026.yaml:4:12: [E070] no issued document INV-2026-0042" in err
    assert "payments/2026.yaml:5:11: [E070] amount -5 must be more than zero" in err
    assert "payments/2026.yaml:6:9: [E022] '2026-02-30' is not a valid date" in err
    assert "payments/2026.yaml:9:13: [E070] INV-2026-0001 is in EUR, not USD" in err
    assert "payments/2026.yaml:11:12: [E070] no issued document CN-2026-0001" in err
    # and a payment ledger problem blocks `pay` until it is fixed
    assert run(issued, "pay", "INV-2026-0002", "1.00", "--date", "2026-01-25").code == 1


def test_pay_help_and_json(issued):
    assert "Record a payment" in run(issued, "pay", "--help").out
    result = run(issued, "pay", "INV-2026-0003", "4760.00", "--date", "2026-02-11", "--json")
    assert result.json["document"]["state"] == "paid"
    assert result.json["payment"]["file"].endswith("payments/2026.yaml")


def test_a_refused_first_payment_leaves_no_payments_folder(issued):
    assert not (issued / "payments").exists()
    result = run(issued, "pay", "INV-2026-0099", "10.00", "--date", "2026-01-25")
    assert result.code == 1 and "[E070]" in result.err
    assert not (issued / "payments").exists()
