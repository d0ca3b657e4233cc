"""The plan and what `issue` bills, on real temporary repos: deposits, milestones, taxes, the final invoice,
percentages to the cent, scope changes after invoicing and the history-protecting errors E050-E053."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from billed import api
from tests.conftest import CLIENT as CLIENT_TEXT
from tests.conftest import run, snapshot, write

PROJECT = """\
title: Website relaunch
total: 10000.00
start: 2026-03-01
deposit: 20%
milestones:
  - id: design
    title: Design
    amount: 30%
    status: done
    done: 2026-03-20
  - id: build
    title: Build
    amount: rest
    status: done
    done: 2026-04-15
  - id: launch
    title: Launch
    amount: 40%
    final: true
"""


def issue(root: Path, on: str, *extra: str) -> list[dict]:
    """Issue on `on` (no PDFs: fast) and return the written records as stored on disk."""
    result = run(root, "issue", "--date", on, "--no-pdf", "--json", *extra)
    assert result.code == 0, result.err + result.out
    return [record(root, d["number"]) for d in result.json]


def record(root: Path, number: str) -> dict:
    return json.loads(next((root / "invoices").glob(f"*/{number}.json")).read_text(encoding="utf-8"))


def plan(root: Path, on: str) -> list[dict]:
    result = run(root, "plan", "--date", on, "--json")
    assert result.code == 0, result.err + result.out
    return result.json


def all_records(root: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((root / "invoices").glob("*/*.json"))]


def owed(rec: dict, key: str = "net") -> Decimal:
    """What the client owes by this document: credit notes print positive credited amounts."""
    return Decimal(rec[key]) * (-1 if rec["series"] == "credit_note" else 1)


def set_project(root: Path, text: str, name: str = "site") -> None:
    write(root, {f"projects/nordlicht/{name}.yaml": text})


def test_deposit_is_billed_from_the_start_date_not_before(repo):
    root = repo({"projects/nordlicht/site.yaml": PROJECT.replace("status: done", "status: planned")
                 .replace("    done: 2026-03-20\n", "").replace("    done: 2026-04-15\n", "")})
    assert plan(root, "2026-02-28") == []
    [dep] = issue(root, "2026-03-01")
    assert (dep["kind"], dep["type_code"], dep["series"]) == ("deposit", "386", "invoice")
    assert dep["due_date"] == dep["issue_date"] == "2026-03-01"  # a deposit is due on issue
    assert (dep["net"], dep["tax"], dep["total"]) == ("2000.00", "380.00", "2380.00")
    assert [(line["role"], line["ref"]) for line in dep["lines"]] == [("deposit", "deposit")]
    assert issue(root, "2026-03-02") == []


def test_each_done_milestone_is_billed_once_with_net_tax_and_total(repo):
    root = repo({"projects/nordlicht/site.yaml": """\
        title: Site
        start: 2026-01-05
        milestones:
          - {id: a, title: Alpha, amount: 1234.56, status: done, done: 2026-02-01}
          - {id: b, title: Beta, amount: 99.99, status: done, done: 2026-02-02}
        """, "projects/nordlicht/book.yaml": """\
        title: Book
        start: 2026-01-05
        tax_rate: 7
        milestones:
          - {id: print, title: Print, amount: 1234.56, status: done, done: 2026-02-01}
        """})
    docs = issue(root, "2026-02-10")
    got = {(d["project"], d["lines"][0]["ref"]): (d["net"], d["tax"], d["total"], d["taxes"]) for d in docs}
    assert got == {
        ("site", "a"): ("1234.56", "234.57", "1469.13",
                        [{"rate": "19", "category": "S", "net": "1234.56", "tax": "234.57"}]),
        ("site", "b"): ("99.99", "19.00", "118.99", [{"rate": "19", "category": "S", "net": "99.99", "tax": "19.00"}]),
        ("book", "print"): ("1234.56", "86.42", "1320.98",
                            [{"rate": "7", "category": "S", "net": "1234.56", "tax": "86.42"}]),
    }
    assert all(d["kind"] == "milestone" and d["type_code"] == "380" for d in docs)
    assert [d["supply_date"] for d in docs if d["project"] == "site"] == ["2026-02-01", "2026-02-02"]
    assert issue(root, "2026-02-11") == []
    assert issue(root, "2027-03-01") == []  # once over the life of the repo, whatever the date


def test_a_rate_of_20_percent_prints_as_20(repo):
    root = repo({"projects/nordlicht/site.yaml": """\
        title: Site
        start: 2026-01-05
        tax_rate: 20
        milestones:
          - {id: a, title: Alpha, amount: 100.00, status: done, done: 2026-02-01}
        """})
    [doc] = issue(root, "2026-02-10")
    assert doc["lines"][0]["tax_rate"] == "20" and doc["tax"] == "20.00"
    assert "20%" in (root / "invoices/2026/INV-2026-0001.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("tax, note, category", [
    ("reverse_charge", "Reverse charge", "AE"),
    ("exempt", "Not subject to German VAT (§ 3a UStG).", "E"),
])
def test_reverse_charge_and_exempt_clients_pay_no_vat_and_the_document_says_why(repo, tax, note, category):
    client = f"""\
        name: Kaffeehaus Lindner GmbH
        address: [Mariahilfer Straße 88, 1070 Wien]
        country: AT
        vat_id: ATU13585627
        email: office@kaffeehaus.example
        tax: {tax}
        """ + (f"tax_note: {note}\n" if tax == "exempt" else "")
    root = repo({"projects/kaffee/client.yaml": client, "projects/kaffee/shop.yaml": """\
        title: Shop
        start: 2026-01-05
        milestones:
          - {id: a, title: Alpha, amount: 1000.00, status: done, done: 2026-02-01}
        """})
    [doc] = issue(root, "2026-02-10")
    assert (doc["net"], doc["tax"], doc["total"]) == ("1000.00", "0.00", "1000.00")
    assert doc["taxes"] == [{"rate": "0", "category": category, "net": "1000.00", "tax": "0.00"}]
    assert note in doc["tax_note"]
    html = (root / "invoices/2026/INV-2026-0001.html").read_text(encoding="utf-8")
    assert note in html and "ATU13585627" in html and "Austria" in html  # cross-border: the country is named
    if tax == "reverse_charge":
        assert "Article 196" in html


@pytest.mark.parametrize("language, address, shown, absent", [
    ("de_AT", "[Mariahilfer Straße 88, 1070 Wien, Austria]", "Austria", "Österreich"),  # named in English already
    ("en", "[Mariahilfer Straße 88, 1070 Wien, Österreich]", "Österreich", "Austria"),  # in its own language
    ("de_AT", "[Mariahilfer Straße 88, 1070 Wien]", "Österreich", "Austria"),  # not named: added, in German
    ("de_AT", "[Austriastraße 1, 1070 Wien]", "Österreich", "Wien<br>Austria"),  # a street is not the country
])
def test_a_cross_border_address_names_its_country_once(repo, language, address, shown, absent):
    root = repo({"projects/kaffee/client.yaml": f"""\
        name: Kaffeehaus Lindner GmbH
        address: {address}
        country: AT
        vat_id: ATU13585627
        email: office@kaffeehaus.example
        language: {language}
        tax: reverse_charge
        """, "projects/kaffee/shop.yaml": """\
        title: Shop
        start: 2026-01-05
        milestones:
          - {id: a, title: Alpha, amount: 1000.00, status: done, done: 2026-02-01}
        """})
    issue(root, "2026-02-10")
    html = (root / "invoices/2026/INV-2026-0001.html").read_text(encoding="utf-8")
    buyer = html[html.index("Kaffeehaus Lindner GmbH"):html.index("ATU13585627")]
    assert buyer.count(shown) == 1 and absent not in buyer.replace("\n", "").replace(" ", "")


def test_a_milestone_done_after_the_issue_date_waits(repo):
    root = repo({"projects/nordlicht/site.yaml": """\
        title: Site
        start: 2026-01-05
        milestones:
          - {id: a, title: Alpha, amount: 100.00, status: done, done: 2026-05-10}
        """})
    assert plan(root, "2026-05-09") == []
    assert [d["milestones"] for d in plan(root, "2026-05-10")] == [["a"]]


def test_the_final_invoice_deducts_the_deposit_and_the_project_adds_up_to_its_total(repo):
    root = repo({"projects/nordlicht/site.yaml": PROJECT})
    first = issue(root, "2026-05-01")
    assert [d["kind"] for d in first] == ["deposit", "milestone", "milestone"]
    deposit = first[0]
    set_project(root, PROJECT.replace("    final: true", "    final: true\n    status: done\n    done: 2026-06-30"))
    [final] = issue(root, "2026-07-01")
    assert (final["kind"], final["type_code"]) == ("final", "380")
    assert [(x["role"], x["net"]) for x in final["lines"]] == [("charge", "4000.00"), ("prepaid", "-2000.00")]
    assert final["prepaid"] == [{"number": deposit["number"], "net": "2000.00", "tax": "380.00", "paid": False}]
    assert (final["net"], final["tax"], final["total"]) == ("2000.00", "380.00", "2380.00")
    html = (root / f"invoices/2026/{final['number']}.html").read_text(encoding="utf-8")
    assert deposit["number"] in html and "380.00" in html
    docs = all_records(root)
    assert sum(owed(d) for d in docs) == Decimal("10000.00")
    assert sum(owed(d, "total") for d in docs) == Decimal("11900.00")


def test_a_deposit_larger_than_the_final_milestone_gives_a_credit_note(repo):
    project = PROJECT.replace("deposit: 20%", "deposit: 5000.00").replace("amount: 40%", "amount: 30%").replace(
        "amount: 30%\n    status: done", "amount: 40%\n    status: done")
    root = repo({"projects/nordlicht/site.yaml": project})
    [deposit, *_] = issue(root, "2026-05-01")
    set_project(root, project.replace("    final: true", "    final: true\n    status: done\n    done: 2026-06-30"))
    [final] = issue(root, "2026-07-01")
    assert (final["kind"], final["type_code"], final["series"]) == ("final", "381", "credit_note")
    assert final["number"] == "CN-2026-0001" and final["corrects"] == deposit["number"]
    assert (final["net"], final["tax"], final["total"]) == ("2000.00", "380.00", "2380.00")  # credited
    assert final["prepaid"][0]["number"] == deposit["number"]
    assert sum(owed(d) for d in all_records(root)) == Decimal("10000.00")
    assert issue(root, "2026-07-02") == []
    # the final billed on a credit note is still protected history
    set_project(root, project.replace("  - id: launch", "  - id: golive"))
    assert run(root, "check").code == 1


@pytest.mark.parametrize("currency, total, pcts", [
    ("EUR", "10000.01", ["33.33%", "33.33%", "33.34%"]),
    ("JPY", "1000001", ["33.333%", "33.333%", "33.334%"]),
    ("KWD", "1000.001", ["12.5%", "rest", "12.5%"]),
    ("EUR", "999.99", ["16.67%", "rest", "16.67%"]),
])
def test_percentages_add_up_to_the_contract_total_to_the_minor_unit(repo, currency, total, pcts):
    items = [f"  - {{id: m{i}, title: M{i}, amount: '{p}', status: done, done: 2026-02-0{i + 1}"
             f"{', final: true' if i == len(pcts) - 1 else ''}}}" for i, p in enumerate(pcts)]
    root = repo({"projects/nordlicht/site.yaml": f"title: Site\ncurrency: {currency}\ntotal: {total}\n"
                 f"start: 2026-01-05\ndeposit: 10%\nmilestones:\n" + "\n".join(items) + "\n"})
    docs = issue(root, "2026-03-01")
    assert [d["kind"] for d in docs] == ["deposit", "milestone", "milestone", "final"]
    assert sum(owed(d) for d in docs) == Decimal(total)
    assert sum(owed(d, "total") for d in docs) == sum(owed(d) + owed(d, "tax") for d in docs)
    exponent = Decimal(total).as_tuple().exponent
    assert all(Decimal(d[k]).as_tuple().exponent == exponent for d in docs for k in ("net", "tax", "total"))


SCOPE = """\
title: Site
start: 2026-01-05
milestones:
  - {id: a, title: Alpha, amount: 1000.00, status: done, done: 2026-02-01}
  - {id: b, title: Beta, amount: 500.00, status: done, done: 2026-02-01}
"""


def test_raising_an_invoiced_milestone_gives_a_supplementary_invoice(repo):
    root = repo({"projects/nordlicht/site.yaml": SCOPE})
    original = issue(root, "2026-02-10")[0]
    set_project(root, SCOPE.replace("1000.00", "1250.00"))
    [doc] = issue(root, "2026-03-01")
    assert (doc["kind"], doc["type_code"], doc["series"]) == ("supplementary", "380", "invoice")
    assert doc["corrects"] == original["number"] and doc["number"] == "INV-2026-0003"
    assert (doc["net"], doc["tax"], doc["total"]) == ("250.00", "47.50", "297.50")
    assert doc["supply_date"] == "2026-02-01"
    assert issue(root, "2026-03-02") == []


def test_lowering_or_cancelling_an_invoiced_milestone_gives_credit_notes(repo):
    root = repo({"projects/nordlicht/site.yaml": SCOPE})
    a, b = issue(root, "2026-02-10")
    set_project(root, SCOPE.replace("1000.00", "800.00").replace("500.00, status: done, done: 2026-02-01",
                                                                 "500.00, status: cancelled"))
    lowered, cancelled = issue(root, "2026-03-01")
    assert (lowered["kind"], lowered["type_code"], lowered["number"]) == ("credit", "381", "CN-2026-0001")
    assert lowered["corrects"] == a["number"] and lowered["total"] == "238.00" and lowered["net"] == "200.00"
    assert cancelled["corrects"] == b["number"] and cancelled["net"] == "500.00" and cancelled["number"] == \
        "CN-2026-0002"
    assert cancelled["supply_date"] == "2026-02-01"  # the date of supply of the credited invoice
    assert lowered["due_date"] is None and lowered["bank"] is None
    html = (root / "invoices/2026/CN-2026-0001.html").read_text(encoding="utf-8")
    assert "Credit note" in html and f"corrects invoice <strong>{a['number']}</strong>" in html
    assert sum(owed(d) for d in all_records(root)) == Decimal("800.00")
    assert issue(root, "2026-03-02") == []
    status = run(root, "status", "--json").json
    [ms_a] = [m for p in status for m in p["milestones"] if m["id"] == "a"]
    assert ms_a["invoiced"] == "800.00" and ms_a["documents"] == [a["number"], "CN-2026-0001"]


@pytest.mark.parametrize("edit, code, where", [
    (lambda s: s.replace("  - {id: b, title: Beta, amount: 500.00, status: done, done: 2026-02-01}\n", ""),
     "E050", "site.yaml"),
    (lambda s: s.replace("id: b,", "id: beta,"), "E050", "site.yaml"),
    (lambda s: s.replace("500.00, status: done, done: 2026-02-01", "500.00, status: in_progress"), "E051",
     "site.yaml"),
    (lambda s: s.replace("title: Site", "title: Site\ncurrency: USD"), "E053", "site.yaml"),
])
def test_rewriting_invoiced_history_is_an_error_naming_the_invoice_and_nothing_is_written(repo, edit, code, where):
    root = repo({"projects/nordlicht/site.yaml": SCOPE})
    issue(root, "2026-02-10")
    set_project(root, edit(SCOPE) + "  - {id: c, title: Gamma, amount: 10.00, status: done, done: 2026-02-01}\n")
    before = snapshot(root)
    result = run(root, "issue", "--date", "2026-03-01")
    assert result.code == 1
    assert f"[{code}]" in result.err and where in result.err
    assert "INV-2026-000" in result.err  # names the invoice
    assert snapshot(root) == before
    assert run(root, "plan", "--date", "2026-03-01").code == 1


def test_changing_an_invoiced_deposit_is_an_error(repo):
    root = repo({"projects/nordlicht/site.yaml": PROJECT})
    issue(root, "2026-03-05")
    set_project(root, PROJECT.replace("deposit: 20%", "deposit: 25%"))
    before = snapshot(root)
    result = run(root, "issue", "--date", "2026-05-01")
    assert result.code == 1 and "[E052]" in result.err and "INV-2026-0001" in result.err
    assert snapshot(root) == before


def test_removing_an_invoiced_project_file_is_an_error_at_its_invoice(repo):
    root = repo({"projects/nordlicht/site.yaml": SCOPE})
    issue(root, "2026-02-10")
    (root / "projects/nordlicht/site.yaml").unlink()
    result = run(root, "check")
    assert result.code == 1 and "[E050]" in result.err and "invoices/2026/INV-2026-0001.json" in result.err


@pytest.mark.parametrize("name", ["site.yaml", "site.yml"])
def test_an_invoiced_project_file_that_is_there_but_broken_is_not_called_gone(repo, name):
    """E050 is for a file that is gone; a broken one (not loaded) gets its own findings, not E050 too."""
    root = repo({"projects/nordlicht/site.yaml": SCOPE})
    issue(root, "2026-02-10")
    (root / "projects/nordlicht/site.yaml").unlink()
    (root / "projects/nordlicht" / name).write_text(SCOPE.replace("start: ", "start: not a date "), encoding="utf-8")
    result = run(root, "check")
    assert result.code == 1 and "[E050]" not in result.err and name in result.err, result.err
    (root / "projects/nordlicht" / name).rename(root / "projects/nordlicht/site.txt")
    assert "[E050]" in run(root, "check").err


@pytest.mark.parametrize("client, project", [("..", "billed"), ("x" * 300, "site")])
def test_an_invoiced_project_named_by_a_resealed_record_is_never_a_path(repo, client, project):
    """Whether an invoiced project's file is still there is asked of the listing of its client folder, never of a
    path made of a record's text: `../billed` would find billed.yaml, a 300-character name fail the lookup."""
    from billed import ledger

    root = repo({"projects/nordlicht/site.yaml": SCOPE})
    [*_, last] = issue(root, "2026-02-10")
    path = root / f"invoices/2026/{last['number']}.json"
    data = {**json.loads(path.read_text(encoding="utf-8")), "client": client, "project": project}
    path.write_bytes(ledger.pretty(ledger.seal({k: v for k, v in data.items() if k != "hash"})))
    result = run(root, "check")
    assert result.code == 1 and "[E050]" in result.err and "internal error" not in result.err, result.err


def test_unbilled_milestones_change_freely(repo):
    root = repo({"projects/nordlicht/site.yaml": SCOPE + "  - {id: c, title: Gamma, amount: 10.00}\n"})
    issue(root, "2026-02-10")
    set_project(root, SCOPE + "  - {id: d, title: Delta, amount: 99.00, status: done, done: 2026-02-20}\n")
    [doc] = issue(root, "2026-03-01")
    assert doc["lines"][0]["ref"] == "d"


def test_tax_is_rounded_once_per_rate_and_a_deducted_deposit_nets_its_vat():
    from billed.engine import tax_breakdown

    lines = [{"net": "0.05", "tax_rate": "19", "category": "S"}, {"net": "0.05", "tax_rate": "19", "category": "S"},
             {"net": "-0.02", "tax_rate": "19", "category": "S"}, {"net": "10.00", "tax_rate": "7", "category": "S"},
             {"net": "5.00", "tax_rate": "0", "category": "AE"}]
    assert tax_breakdown(lines, "EUR") == [
        {"rate": "0", "category": "AE", "net": "5.00", "tax": "0.00"},
        {"rate": "7", "category": "S", "net": "10.00", "tax": "0.70"},
        {"rate": "19", "category": "S", "net": "0.08", "tax": "0.02"},  # 0.0152 once, not 0.01 + 0.01 - 0.00
    ]


def test_a_zero_rate_for_a_standard_client_still_says_why(repo):
    root = repo({"projects/nordlicht/site.yaml": SCOPE.replace("title: Site", "title: Site\ntax_rate: 0")})
    docs = issue(root, "2026-02-10")
    assert {d["taxes"][0]["category"] for d in docs} == {"Z"} and {d["tax"] for d in docs} == {"0.00"}
    assert all(d["tax_note"] == "Zero-rated supply: VAT at 0%." for d in docs)


def test_a_correction_issued_the_same_day_is_listed_after_the_invoice_it_corrects(repo):
    root = repo({"projects/nordlicht/site.yaml": SCOPE})
    a, _ = issue(root, "2026-02-10")
    set_project(root, SCOPE.replace("1000.00", "900.00"))
    [credit] = issue(root, "2026-02-10")
    status = run(root, "status", "--json").json
    [ms_a] = [m for p in status for m in p["milestones"] if m["id"] == "a"]
    assert ms_a["documents"] == [a["number"], credit["number"]] and credit["corrects"] == a["number"]


def test_a_backdated_issue_date_is_refused_and_writes_nothing(repo):
    """Numbers follow dates: issuing before the latest issued document would number out of date order."""
    root = repo({"projects/nordlicht/site.yaml": """\
        title: Site
        start: 2026-01-05
        milestones:
          - {id: a, title: Alpha, amount: 100.00, status: done, done: 2026-02-01}
          - {id: b, title: Beta, amount: 200.00, status: done, done: 2026-02-02}
        """})
    assert run(root, "issue", "--date", "2026-03-01", "--no-pdf").code == 0
    write(root, {"projects/nordlicht/site.yaml": """\
        title: Site
        start: 2026-01-05
        milestones:
          - {id: a, title: Alpha, amount: 100.00, status: done, done: 2026-02-01}
          - {id: b, title: Beta, amount: 150.00, status: done, done: 2026-02-02}
        """})
    before = snapshot(root)
    for command in ("plan", "issue"):
        result = run(root, command, "--date", "2026-02-28")
        assert result.code == 1 and "in the order of their dates" in result.err, result.err
        assert "Traceback" not in result.err
    assert snapshot(root) == before
    assert run(root, "issue", "--date", "2026-03-01", "--no-pdf").code == 0  # the same day is fine


# --- tax lineage: a correction is taxed as the supply it corrects was (issue 11, point 1) ----------------------

THREE = """\
title: Site
start: 2026-01-05
milestones:
  - {id: a, title: Alpha, amount: 1000.00, status: done, done: 2026-02-01}
  - {id: b, title: Beta, amount: 1000.00, status: done, done: 2026-02-02}
  - {id: c, title: Gamma, amount: 1000.00, status: done, done: 2026-02-03}
"""


def test_corrections_keep_the_rate_they_were_invoiced_at_when_the_project_rate_changes(repo):
    root = repo({"projects/nordlicht/site.yaml": THREE})
    a, b, c = issue(root, "2026-02-10")
    assert [d["tax"] for d in (a, b, c)] == ["190.00", "190.00", "190.00"]
    # the rate changes to 7%: a lowered and b raised milestone were supplied at 19% and are corrected at 19%;
    # only a milestone done after the change is billed at 7%
    set_project(root, THREE.replace("title: Site", "title: Site\ntax_rate: 7")
                .replace("Alpha, amount: 1000.00", "Alpha, amount: 500.00")
                .replace("Beta, amount: 1000.00", "Beta, amount: 1200.00")
                + "  - {id: d, title: Delta, amount: 100.00, status: done, done: 2026-03-01}\n")
    docs = {d["number"]: d for d in issue(root, "2026-03-02")}
    credit, supplement, new = docs["CN-2026-0001"], docs["INV-2026-0004"], docs["INV-2026-0005"]
    assert (credit["corrects"], credit["net"], credit["tax"], credit["total"]) == (a["number"], "500.00", "95.00",
                                                                                   "595.00")
    assert credit["taxes"] == [{"rate": "19", "category": "S", "net": "500.00", "tax": "95.00"}]
    assert (supplement["corrects"], supplement["net"], supplement["tax"]) == (b["number"], "200.00", "38.00")
    assert supplement["lines"][0]["tax_rate"] == "19"
    assert (new["lines"][0]["ref"], new["net"], new["tax"]) == ("d", "100.00", "7.00")
    assert issue(root, "2026-03-03") == []


def test_a_milestone_cancelled_and_billed_again_is_corrected_at_its_new_rate(repo):
    """Billed at 19%, cancelled (credited in full), billed again at 7% once the rate changed: a later rise is more
    of the supply billed at 7%, and corrects that invoice, not the cancelled one."""
    root = repo({"projects/nordlicht/site.yaml": THREE})
    a, _b, _c = issue(root, "2026-02-10")
    set_project(root, THREE.replace("Alpha, amount: 1000.00, status: done, done: 2026-02-01",
                                    "Alpha, amount: 1000.00, status: cancelled"))
    [credit] = issue(root, "2026-02-20")
    assert (credit["corrects"], credit["net"], credit["tax"]) == (a["number"], "1000.00", "190.00")
    again = THREE.replace("title: Site", "title: Site\ntax_rate: 7").replace(
        "Alpha, amount: 1000.00, status: done, done: 2026-02-01",
        "Alpha, amount: 1000.00, status: done, done: 2026-03-01")
    set_project(root, again)
    [rebilled] = issue(root, "2026-03-02")
    assert (rebilled["net"], rebilled["tax"]) == ("1000.00", "70.00")  # 1000.00 x 7%
    set_project(root, again.replace("Alpha, amount: 1000.00", "Alpha, amount: 1200.00"))
    [supplement] = issue(root, "2026-03-05")
    # 200.00 more at 7% = 14.00 (not 38.00 at the cancelled invoice's 19%)
    assert (supplement["corrects"], supplement["net"], supplement["tax"]) == (rebilled["number"], "200.00", "14.00")


def test_cancelling_after_the_client_became_exempt_reverses_the_vat_invoiced_and_credits_it_fully(repo):
    root = repo({"projects/nordlicht/site.yaml": THREE})
    a, _b, _c = issue(root, "2026-02-10")
    write(root, {"projects/nordlicht/client.yaml": CLIENT_TEXT + "tax: exempt\ntax_note: Exempt (§ 4 UStG).\n"})
    set_project(root, THREE.replace("Alpha, amount: 1000.00, status: done, done: 2026-02-01",
                                    "Alpha, amount: 1000.00, status: cancelled"))
    [credit] = issue(root, "2026-03-02")
    assert (credit["corrects"], credit["net"], credit["tax"], credit["total"]) == (a["number"], "1000.00", "190.00",
                                                                                   "1190.00")
    assert credit["lines"][0]["category"] == "S" and credit["lines"][0]["tax_rate"] == "19"
    assert credit["tax_note"] is None  # the exemption is today's, not the credited supply's
    csv = run(root, "export", "--format", "csv", "--stdout", "--date", "2026-06-30").out
    row = next(r for r in csv.splitlines() if r.startswith(a["number"] + ","))
    assert ",credited,1190.00,0.00,0.00" in row  # nothing due, not overdue
    aging = run(root, "aging", "--json", "--date", "2026-06-30").json
    assert [r["total"] for r in aging] == ["2380.00"]  # b and c only


def test_a_correction_of_a_reverse_charge_supply_keeps_its_legal_note_after_the_client_changes(repo):
    client = CLIENT_TEXT.replace("country: DE", "country: AT").replace("DE987654321", "ATU13585627")
    root = repo({"projects/nordlicht/client.yaml": client + "tax: reverse_charge\n",
                 "projects/nordlicht/site.yaml": THREE})
    a, _b, _c = issue(root, "2026-02-10")
    assert a["lines"][0]["note"] == "reverse_charge" and "Article 196" in a["lines"][0]["exemption"]
    write(root, {"projects/nordlicht/client.yaml": client})  # now standard (say it moved to Germany)
    set_project(root, THREE.replace("Alpha, amount: 1000.00", "Alpha, amount: 600.00"))
    [credit] = issue(root, "2026-03-02")
    assert (credit["net"], credit["tax"], credit["taxes"][0]["category"]) == ("400.00", "0.00", "AE")
    assert credit["lines"][0]["note"] == "reverse_charge" and "Article 196" in credit["tax_note"]


DEPOSITED = """\
title: Site
start: 2026-01-05
deposit: 500.00
milestones:
  - {id: a, title: Alpha, amount: 1000.00, status: done, done: 2026-02-01}
  - {id: z, title: Launch, amount: 1000.00, final: true, status: done, done: 2026-02-02}
"""


@pytest.mark.parametrize("pay", [False, True])
def test_the_final_invoice_says_the_deposit_was_paid_only_when_it_was(repo, pay):
    root = repo({"projects/nordlicht/site.yaml": DEPOSITED.replace("Launch, amount: 1000.00, final: true, status: "
                                                                   "done, done: 2026-02-02", "Launch, amount: "
                                                                   "1000.00, final: true")})
    [deposit] = issue(root, "2026-01-10")
    if pay:
        assert run(root, "pay", deposit["number"], "595.00", "--date", "2026-01-12").code == 0
    set_project(root, DEPOSITED)
    final = next(d for d in issue(root, "2026-02-03") if d["kind"] == "final")
    assert final["prepaid"] == [{"number": deposit["number"], "net": "500.00", "tax": "95.00", "paid": pay}]
    html = (root / f"invoices/2026/{final['number']}.html").read_text(encoding="utf-8")
    said = "Deposits paid on account and deducted:" if pay else "Deposits invoiced and deducted:"
    assert said in html and ("paid on account" in html) == pay
    on = dt.date(2026, 2, 3)  # a plan works out the deducted deposits' states alone: as the rows of every document
    rows = [r for r in api.document_states(api.load(root), on) if r.number == deposit["number"]]
    assert [r.state == "paid" for r in rows] == [pay]
    assert api._paid(api.load(root), on, {deposit["number"]}) == {r.number for r in rows if r.state == "paid"}


BILLED_ONCE = """\
title: Site
start: 2026-01-05
milestones:
  - {id: a, title: Alpha, amount: 1000.00, status: done, done: 2026-02-01}
  - {id: b, title: Beta, amount: 1000.00}
"""


@pytest.mark.parametrize("change", [
    ("", ""),  # nothing new
    ("amount: 1000.00}", "amount: 1000.00, final: true}\ndeposit: 500.00"),  # a deposit added after an invoice
    ("status: done, done: 2026-02-01", "status: cancelled"),  # a billed milestone cancelled: a credit
    ("amount: 1000.00, status: done", "amount: 800.00, status: done"),  # lowered: a credit
    ("amount: 1000.00, status: done", "amount: 1200.00, status: done"),  # raised: a supplement
    ("{id: b, title: Beta, amount: 1000.00}", "{id: b, title: Beta, amount: 1000.00, status: done, done: 2026-05-04}"),
])
def test_a_project_is_skipped_exactly_when_planning_it_would_issue_nothing(repo, change):
    """engine._due restates what Planner.project checks, so that most projects are not planned on a copy of their
    state: on every week of the year it must say "due" exactly when planning the project issues a document."""
    from billed import engine

    root = repo({"projects/nordlicht/site.yaml": BILLED_ONCE})
    assert [d["lines"][0]["ref"] for d in issue(root, "2026-02-02")] == ["a"]
    set_project(root, BILLED_ONCE.replace(*change))
    state = api.load(root)
    billed = engine.settled(state.ledger)["nordlicht/site"]
    project = state.repo.projects["nordlicht/site"]
    answers = set()
    for week in range(48):
        on = dt.date(2026, 2, 2) + dt.timedelta(weeks=week)
        planner = engine.Planner(state.repo.settings, state.repo.clients, state.ledger, on)
        planner.project(project, billed.fork())
        assert engine._due(project, billed, on) == bool(planner.docs), on
        answers.add(bool(planner.docs))
    assert answers == ({False} if change == ("", "") else {True} if "05-04" not in change[1] else {False, True})


@pytest.mark.parametrize("text", [
    BILLED_ONCE.replace("2026-02-01", "2026-06-01"),  # done later in the year
    BILLED_ONCE.replace("amount: 1000.00}", "amount: 1000.00, final: true}\ndeposit: 500.00"),  # a deposit first
    BILLED_ONCE.replace("status: done, done: 2026-02-01", "status: cancelled"),  # cancelled before any bill
    BILLED_ONCE.replace("status: done, done: 2026-02-01", "status: in_progress"),  # nothing done
])
def test_a_project_never_billed_is_skipped_exactly_when_planning_it_would_issue_nothing(repo, text):
    """A project with no record is asked `_due` with an empty state (engine._NOTHING) before it is planned."""
    from billed import engine

    root = repo({"projects/nordlicht/site.yaml": text})
    state = api.load(root)
    assert state.ok, state.findings
    project = state.repo.projects["nordlicht/site"]
    answers = set()
    for week in range(-2, 30):
        on = dt.date(2026, 1, 5) + dt.timedelta(weeks=week)
        planner = engine.Planner(state.repo.settings, state.repo.clients, state.ledger, on)
        planner.project(project, engine.Billed())
        assert engine._due(project, engine._NOTHING, on) == bool(planner.docs), on
        answers.add(bool(planner.docs))
    assert engine.Billed() == engine._NOTHING  # read, never written
    assert answers == ({False} if "cancelled" in text or "in_progress" in text else {False, True})
