"""Payment sources, ids, reversals and the stable pay URL (billed/api/pay.py, billed/payments.py)."""

from __future__ import annotations

import datetime as dt

from billed import api
from tests.conftest import SETTINGS, run, snapshot, write
from tests.test_payments import issued, states  # noqa: F401  (the fixture: three issued invoices)


def test_entries_without_id_get_their_place_and_old_files_stay_valid(issued):  # noqa: F811
    write(issued, {"payments/2026.yaml": """\
        - invoice: INV-2026-0002
          amount: 100.00
          date: 2026-01-25
        - invoice: INV-2026-0002
          amount: 200.00
          date: 2026-01-26
          method: card
        """})
    state = api.load(issued)
    assert state.ok, state.findings
    assert [(p.id, p.source) for p in state.payments] == [("P-2026-0001", "manual"), ("P-2026-0002", "manual")]
    result = run(issued, "pay", "INV-2026-0002", "50.00", "--date", "2026-01-27")
    assert "id P-2026-0003" in result.out
    text = run(issued, "payments").out
    assert "P-2026-0003" in text and "manual" in text


def test_refund_reverses_in_part_then_in_full_and_states_follow(issued):  # noqa: F811
    assert run(issued, "pay", "INV-2026-0001", "2380.00", "--date", "2026-01-21").code == 0
    assert states(issued, "2026-01-22")["INV-2026-0001"]["state"] == "paid"
    result = run(issued, "refund", "P-2026-0001", "380.00", "--date", "2026-01-23", "--reference", "chargeback")
    assert result.code == 0, result.err
    assert "€380.00" in result.out and "€380.00 still due" in result.out
    text = (issued / "payments/2026.yaml").read_text()
    assert "  amount: -380.00\n  date: 2026-01-23\n  reverses: \"P-2026-0001\"\n" in text
    row = states(issued, "2026-01-23")["INV-2026-0001"]
    assert (row["state"], row["paid"], row["balance"]) == ("overdue", "2000.00", "380.00")
    assert states(issued, "2026-01-22")["INV-2026-0001"]["state"] == "paid"  # the past replays as it was
    aging = api.aging(api.load(issued), dt.date(2026, 1, 23))
    assert aging[0]["1-30"] == "380.00"
    # the rest of it, in full without an amount: 2380.00 - 380.00 = 2000.00 left to reverse
    result = run(issued, "refund", "P-2026-0001", "--date", "2026-01-24", "--json")
    assert result.json["payment"]["amount"] == "-2000.00"
    assert result.json["document"]["balance"] == "2380.00"
    # nothing is left to reverse: refused, nothing written
    before = snapshot(issued)
    result = run(issued, "refund", "P-2026-0001", "1.00", "--date", "2026-01-25")
    assert result.code == 1
    assert "[E070] reverses 1.00 of P-2026-0001, but only 0.00 of it is left to reverse" in result.err
    assert snapshot(issued) == before


def test_bad_reversals_are_findings_at_their_place(issued):  # noqa: F811
    write(issued, {"payments/2026.yaml": """\
        - invoice: INV-2026-0002
          amount: 100.00
          date: 2026-01-25
          id: "abc"
        - invoice: INV-2026-0002
          amount: -10.00
          date: 2026-01-26
          reverses: "nope"
        - invoice: INV-2026-0001
          amount: -10.00
          date: 2026-01-26
          reverses: "abc"
        - invoice: INV-2026-0002
          amount: 5.00
          date: 2026-01-26
          reverses: "abc"
        - invoice: INV-2026-0002
          amount: 1.00
          date: 2026-01-27
          id: "abc"
        - invoice: INV-2026-0002
          amount: -1.00
          date: 2026-01-24
          reverses: "abc"
        """})
    err = run(issued, "check").err
    assert "payments/2026.yaml:8:13: [E070] reverses nope, which is not a recorded payment" in err
    assert "payments/2026.yaml:9:12: [E070] abc paid INV-2026-0002, not INV-2026-0001" in err
    assert "payments/2026.yaml:14:11: [E070] a reversal's amount must be negative, not 5.00" in err
    assert "payments/2026.yaml:20:7: [E070] payment id abc is recorded twice (first at payments/2026.yaml:1)" in err
    assert "payments/2026.yaml:23:9: [E070] reversed on 2026-01-24, before abc was received (2026-01-25)" in err


def test_sources_in_status_aging_payments_and_exports(issued):  # noqa: F811
    write(issued, {"payments/2026.yaml": """\
        - invoice: INV-2026-0001
          amount: 2380.00
          date: 2026-01-21
          source: bank
          id: "bank:DE89370400440532013000:2026012100001"
          payer: Nordlicht Verlag GmbH
        - invoice: INV-2026-0002
          amount: 1000.00
          date: 2026-02-05
          source: stripe
          id: "pi_3Abc"
        - invoice: INV-2026-0002
          amount: 500.00
          date: 2026-02-06
        """})
    text = run(issued, "status", "--date", "2026-02-06").out
    assert "bank €2,380.00, stripe €1,000.00, manual €500.00" not in text  # fixed order: manual, stripe, bank
    assert "manual €500.00, stripe €1,000.00, bank €2,380.00" in text
    aging = run(issued, "aging", "--date", "2026-02-06", "--json").json
    assert aging[0]["paid_by_source"] == {"manual": "500.00", "stripe": "1000.00", "bank": "2380.00"}
    assert "manual €500.00, stripe €1,000.00, bank €2,380.00" in run(issued, "aging", "--date", "2026-02-06").out
    listing = run(issued, "payments", "--json").json
    assert [(r["source"], r["id"]) for r in listing] == [
        ("bank", "bank:DE89370400440532013000:2026012100001"), ("stripe", "pi_3Abc"), ("manual", "P-2026-0003")]
    csv = run(issued, "export", "--format", "csv", "--what", "payments", "--stdout", "--date", "2026-02-06").out
    header, first = csv.splitlines()[:2]
    assert header.startswith("date,invoice,client,project,currency,amount,source,id,reverses,")
    assert first.startswith("2026-01-21,INV-2026-0001,nordlicht,site,EUR,2380.00,bank,")


def test_pay_url_is_stable_and_falls_back_to_the_pay_link_with_the_balance(issued):  # noqa: F811
    state = api.load(issued)
    # conftest's pay_link pattern, filled with the balance due today (not the total): nothing paid yet
    assert api.pay_url(state, "INV-2026-0002") == "https://pay.example.com/INV-2026-0002?amount=4760.00&currency=EUR"
    assert run(issued, "pay", "INV-2026-0002", "1000.00", "--date", "2026-01-25").code == 0
    state = api.load(issued)
    assert api.pay_url(state, "INV-2026-0002", dt.date(2026, 1, 25)) == (
        "https://pay.example.com/INV-2026-0002?amount=3760.00&currency=EUR")
    assert api.pay_url(state, "INV-2026-0099") is None
    assert api.pay_url(state, "INV-2026-0002", dt.date(2025, 12, 31)) is None  # not issued yet on that day
    write(issued, {"billed.yaml": SETTINGS + "pay_url: https://billing.example.com/?pay={number}\n"})
    state = api.load(issued)
    assert state.ok, state.findings
    assert api.pay_url(state, "INV-2026-0002") == "https://billing.example.com/?pay=INV-2026-0002"


def test_pay_url_is_checked(issued):  # noqa: F811
    write(issued, {"billed.yaml": SETTINGS + "pay_url: https://billing.example.com/?pay={amount}\n"})
    err = run(issued, "check").err
    assert "[E044] payment URL uses unknown placeholders amount" in err
    write(issued, {"billed.yaml": SETTINGS + "pay_url: https://billing.example.com/pay\n"})
    assert "[E044] payment URL needs {number}" in run(issued, "check").err
