"""billed status on the bundled example: progress, done, invoiced and remaining per project, worked out by hand."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import copy_example, run

# project -> (currency, total, done, deposit). Worked out from projects/ by hand:
# acme: discovery 15% + design 20% of 48000.00 are done; the deposit is 20%.
# kaffeehaus: 3500 + 9000 + 6000 (the cancelled 1500.00 newsletter is not in the total); wireframes done.
# annual-report: 40/35/25% of 12345.67 by largest remainder = 4938.27 / 4320.98 / 3086.42; concept done.
# brand-refresh: no total, so 4200.00 + 2800.00 + 1999.99; logo and guidelines done.
EXPECTED = {
    "acme/robot-portal": ("GBP", "48000.00", "7200.00+9600.00", "9600.00"),
    "kaffeehaus/webshop": ("EUR", "18500.00", "3500.00", "3000.00"),
    "nordlicht/annual-report": ("EUR", "12345.67", "4938.27", "0.00"),
    "nordlicht/brand-refresh": ("EUR", "8999.99", "4200.00+2800.00", "0.00"),
}
# What `issue --date 2026-11-25` invoices (net): each deposit and each done milestone.
INVOICED = {"acme/robot-portal": "26400.00", "kaffeehaus/webshop": "6500.00",
            "nordlicht/annual-report": "4938.27", "nordlicht/brand-refresh": "7000.00"}


def _sum(text: str) -> str:
    return str(sum((Decimal(x) for x in text.split("+")), Decimal("0.00")))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_example(tmp_path / "repo")


def test_status_json_per_project(root: Path) -> None:
    rows = run(root, "status", "--json").json
    assert [r["project"] for r in rows] == sorted(EXPECTED)
    for r in rows:
        currency, total, done, deposit = EXPECTED[r["project"]]
        assert (r["currency"], r["total"], r["done"], r["deposit"]) == (currency, total, _sum(done), deposit)
        assert r["invoiced"] == "0.00" and r["remaining"] == total
        assert r["deposit_invoiced"] == []


def test_a_json_array_is_one_element_per_line(root: Path) -> None:
    """One JSON value for jq, and a line per project for grep (and json's fast C encoder for 10,000 projects)."""
    result = run(root, "status", "--json")
    lines = result.out.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == len(EXPECTED) + 2
    assert [json.loads(line.strip().rstrip(","))["project"] for line in lines[1:-1]] == sorted(EXPECTED)
    assert json.loads(result.out) == result.json


def test_cancelled_milestone_is_listed_but_not_counted(root: Path) -> None:
    shop = run(root, "status", "kaffeehaus/webshop", "--json").json
    assert len(shop) == 1
    milestones = {m["id"]: m for m in shop[0]["milestones"]}
    assert milestones["newsletter"]["status"] == "cancelled"
    assert milestones["newsletter"]["amount"] == "1500.00"
    active = [m for m in milestones.values() if m["status"] != "cancelled"]
    assert sum(Decimal(m["amount"]) for m in active) == Decimal(shop[0]["total"]) == Decimal("18500.00")
    assert shop[0]["progress"] == "0.1892"  # 3500 / 18500


def test_milestone_amounts_and_states(root: Path) -> None:
    report = run(root, "status", "annual-report", "--json").json[0]
    assert [(m["id"], m["amount"], m["status"]) for m in report["milestones"]] == [
        ("concept", "4938.27", "done"), ("production", "4320.98", "in_progress"), ("print", "3086.42", "planned")]
    assert report["milestones"][0]["done"] == "2026-10-02"
    assert report["milestones"][2]["due"] == "2027-01-15"


def test_status_table_for_people(root: Path) -> None:
    result = run(root, "status")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split() == ["project", "cur", "total", "done", "invoiced", "remaining", "progress"]
    acme = next(line for line in lines if line.startswith("acme/robot-portal "))
    assert acme.split()[1:6] == ["GBP", "£48,000.00", "£16,800.00", "£0.00", "£48,000.00"]
    assert acme.endswith("35%")
    assert "  [-] newsletter" in result.out and "cancelled" in result.out
    assert "  [x] discovery" in result.out and "  [~] build" in result.out and "  [ ] launch" in result.out
    assert "deposit £9,600.00 (not yet invoiced)" in result.out


def test_invoiced_column_after_issuing(root: Path) -> None:
    issued = run(root, "issue", "--date", "2026-11-25", "--no-pdf")
    assert issued.code == 0, issued.err
    rows = {r["project"]: r for r in run(root, "status", "--json").json}
    for project, invoiced in INVOICED.items():
        r = rows[project]
        assert r["invoiced"] == invoiced, project
        assert Decimal(r["remaining"]) == Decimal(r["total"]) - Decimal(invoiced)
    acme = rows["acme/robot-portal"]
    assert acme["remaining"] == "21600.00"
    assert len(acme["deposit_invoiced"]) == 1
    documents = {m["id"]: m["documents"] for m in acme["milestones"]}
    assert len(documents["discovery"]) == 1 and len(documents["design"]) == 1 and documents["build"] == []
    charged = {m["id"]: m["invoiced"] for m in acme["milestones"]}
    assert charged == {"discovery": "7200.00", "design": "9600.00", "build": "0.00", "launch": "0.00"}
    table = run(root, "status").out
    line = next(x for x in table.splitlines() if x.startswith("acme/robot-portal "))
    assert line.split()[4:6] == ["£26,400.00", "£21,600.00"]
    assert f"deposit £9,600.00 ({acme['deposit_invoiced'][0]})" in table


def test_unknown_project_is_an_error(root: Path) -> None:
    result = run(root, "status", "no-such-project")
    assert result.code == 1
    assert "no project named 'no-such-project'" in result.err


def test_status_refuses_an_invalid_repo(root: Path) -> None:
    (root / "projects" / "acme" / "robot-portal.yaml").write_text("title: x\n", encoding="utf-8")
    result = run(root, "status")
    assert result.code == 1
    assert "robot-portal.yaml:1:1: [E011] missing required key 'start'" in result.err
    assert run(root, "status", "--json").json[0]["code"] == "E011"


def test_no_projects_yet(tmp_path: Path) -> None:
    run(tmp_path, "init", "books")
    (tmp_path / "books" / "projects" / "example-client" / "website.yaml").unlink()
    result = run(tmp_path / "books", "status")
    assert result.code == 0 and result.out.startswith("No projects yet")
    assert run(tmp_path / "books", "status", "--json").json == []
