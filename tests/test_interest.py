"""Late-payment interest (billed/interest.py, billed/api/late.py). Every expected figure is worked out by hand
in the comments: balance x rate x days / 365 (2026 is not a leap year), summed exactly, rounded once.

The fixture's seller is in Germany (conftest: country DE) and the client a business: 9 points above the
reference rate (§ 288(2) BGB) and 40.00 EUR compensation (§ 288(5) BGB). Reference rates below are example
values for the test, not the published ones."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from billed import api, interest
from billed.errors import BilledError
from tests.conftest import CLIENT, SETTINGS, run, write
from tests.test_payments import issued  # noqa: F401  INV-0001 2380.00 due 01-20; INV-0002 4760.00 due 02-03

RATES = """\
late_payment:
  reference_rates:
    2026-01-01: 1.27
    2026-07-01: 2.00
"""


def setup(root, extra: str = "") -> None:
    write(root, {"billed.yaml": SETTINGS + RATES + extra})


def test_per_day_on_the_balance_with_a_partial_payment(issued):  # noqa: F811
    setup(issued)
    assert run(issued, "pay", "INV-2026-0002", "1000.00", "--date", "2026-02-13").code == 0
    state = api.load(issued)
    _, acc, flat = api.accrued(state, state.ledger.by_number["INV-2026-0002"], dt.date(2026, 3, 5))
    # 10.27% = 1.27 + 9. Feb 4..13 = 10 days on 4760.00 (the payment day still counts):
    #   4760 x 0.1027 x 10 / 365 = 4888.52 / 365 = 13.393205...
    # Feb 14..Mar 5 = 15 + 5 = 20 days on 3760.00: 3760 x 0.1027 x 20 / 365 = 7723.04 / 365 = 21.159013...
    # total 34.552219... -> 34.55
    assert acc.total("EUR") == Decimal("34.55") and flat
    assert [(p.start, p.end, p.days, p.balance) for p in acc.periods] == [
        (dt.date(2026, 2, 4), dt.date(2026, 2, 13), 10, Decimal("4760.00")),
        (dt.date(2026, 2, 14), dt.date(2026, 3, 5), 20, Decimal("3760.00"))]
    # parts: 13.39 and 21.15 rounded down (34.54); the last cent to the larger remainder (0.0090 > 0.0032)
    assert [d.rpartition(" = ")[2] for d in interest.details(acc, "EUR")] == ["13.39", "21.16"]


def test_half_years_have_their_own_rate(issued):  # noqa: F811
    setup(issued)
    state = api.load(issued)
    _, acc, _ = api.accrued(state, state.ledger.by_number["INV-2026-0001"], dt.date(2026, 7, 10))
    # Jan 21..Jun 30: 11 + 28 + 31 + 30 + 31 + 30 = 161 days at 10.27%: 2380 x 0.1027 x 161 / 365 = 107.8153...
    # Jul 1..10: 10 days at 11.00%: 2380 x 0.11 x 10 / 365 = 7.1726...; total 114.9879... -> 114.99
    assert [(p.days, p.rate) for p in acc.periods] == [(161, Decimal("10.27")), (10, Decimal("11.00"))]
    assert acc.total("EUR") == Decimal("114.99")
    assert [d.rpartition(" = ")[2] for d in interest.details(acc, "EUR")] == ["107.82", "7.17"]


def test_directive_default_consumers_and_a_missing_rate(issued):  # noqa: F811
    setup(issued, "  margin: 8\n  consumers: [nordlicht]\n")
    state = api.load(issued)
    rec = state.ledger.by_number["INV-2026-0002"]
    t, acc, flat = api.accrued(state, rec, dt.date(2026, 3, 5))
    # a consumer, seller in Germany: 5 points (§ 288(1) BGB), no flat compensation (§ 288(5) is B2B only)
    # 30 days (Feb 4..Mar 5) on 4760.00 at 6.27%: 4760 x 0.0627 x 30 / 365 = 8953.56 / 365 = 24.530301... -> 24.53
    assert (t.margin, t.compensation, flat) == (Decimal(5), Decimal(0), False)
    assert acc.total("EUR") == Decimal("24.53")
    write(issued, {"billed.yaml": SETTINGS.replace("country: DE", "country: FR") + RATES + "  consumers: [x]\n"})
    state = api.load(issued)
    t, acc, flat = api.accrued(state, rec, dt.date(2026, 3, 5))
    # the Directive's 8 points: 4760 x 0.0927 x 30 / 365 = 13237.56 / 365 = 36.267287... -> 36.27
    assert (t.margin, acc.total("EUR"), flat) == (Decimal(8), Decimal("36.27"), True)
    with pytest.raises(BilledError, match="no reference rate for the half-year from 2027-01-01"):  # exit 1
        api.bill_interest(issued, dt.date(2027, 1, 5), dry_run=True)


def test_interest_is_its_own_document_and_never_billed_twice(issued):  # noqa: F811
    setup(issued)
    before = {p.name: p.read_bytes() for p in (issued / "invoices/2026").iterdir()}
    contract = run(issued, "status", "--json").json
    assert run(issued, "pay", "INV-2026-0001", "2380.00", "--date", "2026-01-20").code == 0  # on time: no interest
    result = run(issued, "interest", "--date", "2026-03-05", "--no-pdf", "--json")
    assert result.code == 0, result.err
    docs = result.json
    # INV-2026-0002: 30 days (Feb 4..Mar 5) on 4760.00 at 10.27%: 4760 x 0.1027 x 30 / 365 = 14665.56 / 365
    # = 40.179616... -> 40.18, plus 40.00 -> 80.18. INV-2026-0003 (due 02-24): Feb 25..Mar 5 = 4 + 5 = 9 days on
    # 4760.00: 4760 x 0.1027 x 9 / 365 = 4399.668 / 365 = 12.053884... -> 12.05, plus 40.00 -> 52.05
    assert [(d["number"], d["kind"], d["interest"][0]["on"], d["net"], d["tax"], d["total"]) for d in docs] == [
        ("INV-2026-0004", "interest", "INV-2026-0002", "80.18", "0.00", "80.18"),
        ("INV-2026-0005", "interest", "INV-2026-0003", "52.05", "0.00", "52.05")]
    assert [(x["role"], x["net"], x["category"]) for x in docs[0]["lines"]] == [
        ("interest", "40.18", "O"), ("compensation", "40.00", "O")]
    # the late invoices are untouched; the new ones verify like any other
    assert all((issued / "invoices/2026" / n).read_bytes() == b for n, b in before.items())
    assert run(issued, "verify").code == 0
    assert run(issued, "check").code == 0
    # later: only the days since, and no second compensation. INV-2026-0002: Mar 6..Mar 15 = 10 days:
    # 4760 x 0.1027 x 10 / 365 = 13.393205... -> 13.39; INV-2026-0003: the same 10 days on 4760.00 -> 13.39
    again = run(issued, "interest", "--date", "2026-03-15", "--no-pdf", "--json").json
    assert [(d["number"], d["interest"][0]["from"], d["total"]) for d in again] == [
        ("INV-2026-0006", "2026-03-06", "13.39"), ("INV-2026-0007", "2026-03-06", "13.39")]
    assert run(issued, "interest", "--date", "2026-03-15", "--dry-run").out.startswith("No late-payment interest")
    # an interest document is an invoice: it shows in aging, and is paid like one
    record = json.loads((issued / "invoices/2026/INV-2026-0004.json").read_text())
    assert record["interest"] == [{"on": "INV-2026-0002", "from": "2026-02-04", "until": "2026-03-05",
                                   "amount": "40.18", "compensation": True}]
    assert run(issued, "pay", "INV-2026-0004", "80.18", "--date", "2026-03-20").code == 0
    # interest is no part of the contract: invoiced, remaining and the VAT figures of the project stay as they were
    keep = ("total", "invoiced", "remaining", "vat", "vat_rounding")
    assert [{k: p[k] for k in keep} for p in run(issued, "status", "--json").json] == [
        {k: p[k] for k in keep} for p in contract]
    projects = run(issued, "export", "--format", "csv", "--stdout", "--what", "projects").out
    assert "nordlicht" in projects
    assert "80.18" not in projects and "13.39" not in projects


def test_no_late_payment_settings_no_interest(issued):  # noqa: F811
    result = run(issued, "interest", "--date", "2026-03-05")
    assert result.code == 0 and result.out.startswith("No late-payment interest")


def test_an_interest_document_speaks_the_client_s_language(issued):  # noqa: F811
    setup(issued)
    write(issued, {"projects/nordlicht/client.yaml": CLIENT + "language: de\n"})
    assert run(issued, "interest", "--date", "2026-03-05", "--no-pdf").code == 0
    html = (issued / "invoices/2026/INV-2026-0004.html").read_text(encoding="utf-8")  # on INV-2026-0001
    assert '<html lang="de">' in html
    assert ("Verzugszinsen auf Rechnung INV-2026-0001 vom 20.01.2026, fällig am 20.01.2026: Referenzzinssatz + 9 "
            "Prozentpunkte (§ 288 BGB)") in html
    assert "Pauschale für Beitreibungskosten, Rechnung INV-2026-0001 (§ 288(5) BGB)" in html
    assert "kein Entgelt für eine Leistung: nicht umsatzsteuerbar." in html
    # the record keeps the English wording (also the Factur-X item name); the period in figures:
    # Jan 21..Mar 5 = 11 + 28 + 5 = 44 days: 2380 x 0.1027 x 44 / 365 = 10754.744 / 365 = 29.4650... -> 29.47
    record = json.loads((issued / "invoices/2026/INV-2026-0004.json").read_text())
    assert record["lines"][0]["description"].startswith("Late payment interest on invoice INV-2026-0001")
    assert record["lines"][0]["details"] == ["2026-01-21 – 2026-03-05: 2380.00 × 10.27% × 44/365 = 29.47"]
