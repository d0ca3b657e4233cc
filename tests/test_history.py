"""billed history: scope changes over real git history, with authors and the totals before and after."""

from __future__ import annotations

from pathlib import Path

import pytest

from billed import api
from tests._gitsandbox import (
    PROJECT,
    commit_all,
    git,
    git_identity,  # noqa: F401 - autouse: git identity for in-process runs
    set_status,
)
from tests.conftest import make_repo, run

PERCENT = """\
title: Brand refresh
total: 10000.00
start: 2026-01-05
milestones:
  - id: audit
    title: Brand audit
    amount: 30%
    status: done
    done: 2026-02-01
  - id: identity
    title: New identity
    amount: rest
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/annual-report.yaml": PROJECT,
                                         "projects/nordlicht/brand-refresh.yaml": PERCENT})
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "Start", GIT_AUTHOR_NAME="Ada Author")
    return root


def edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / "projects/nordlicht" / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_a_scope_change_shows_its_author_and_the_totals_before_and_after(repo: Path) -> None:
    edit(repo, "annual-report.yaml", "amount: 6000.00", "amount: 7500.00")
    with open(repo / "projects/nordlicht/annual-report.yaml", "a", encoding="utf-8") as handle:
        handle.write("  - id: index\n    title: Index pages\n    amount: 900.00\n")
    scope = commit_all(repo, "Bigger layout, add the index", GIT_AUTHOR_NAME="Sam Scope",
                       GIT_AUTHOR_EMAIL="sam@example.com", GIT_AUTHOR_DATE="2026-04-01T10:00:00+02:00")
    set_status(repo, "layout", "done")
    commit_all(repo, "Layout done", GIT_AUTHOR_NAME="Lena Layout")
    edit(repo, "annual-report.yaml", "Print files", "Print-ready files")  # wording only: not a scope change
    commit_all(repo, "Wording")

    entries = api.history(repo, "nordlicht/annual-report")
    assert [e["subject"] for e in entries] == ["Start", "Bigger layout, add the index", "Layout done"]
    start, change, done = entries
    assert (start["total_before"], start["total_after"]) == (None, "12000.00")
    assert [c["change"] for c in start["changes"]] == ["added", "added", "added"]
    assert change["commit"] == scope and change["author"] == "Sam Scope" and change["email"] == "sam@example.com"
    assert change["date"] == "2026-04-01T10:00:00+02:00"
    assert (change["total_before"], change["total_after"]) == ("12000.00", "14400.00")
    assert change["changes"] == [
        {"milestone": "layout", "change": "amount", "before": "6000.00", "after": "7500.00"},
        {"milestone": "index", "change": "added", "amount": "900.00", "status": "planned"}]
    assert done["changes"] == [{"milestone": "layout", "change": "status", "before": "planned", "after": "done"}]
    assert done["total_before"] == done["total_after"] == "14400.00"

    text = run(repo, "history", "annual-report")
    assert text.code == 0, text.err
    line = next(ln for ln in text.out.splitlines() if scope[:7] in ln)
    assert "Sam Scope" in line and "layout: amount €6,000.00 -> €7,500.00" in line
    assert line.split()[-2:] == ["€12,000.00", "€14,400.00"]
    assert "index: added (€900.00, planned)" in text.out


def test_percentages_are_resolved_at_each_version_and_removals_are_listed(repo: Path) -> None:
    edit(repo, "brand-refresh.yaml", "total: 10000.00", "total: 12000.00")
    commit_all(repo, "Client extends the budget")
    tone = "  - id: tone\n    title: Tone\n    amount: 10%\n"
    edit(repo, "brand-refresh.yaml", "    amount: rest\n", "    amount: rest\n" + tone)
    commit_all(repo, "Add tone of voice")
    edit(repo, "brand-refresh.yaml", tone, "")
    commit_all(repo, "Drop tone of voice")
    entries = run(repo, "history", "nordlicht/brand-refresh", "--json").json
    assert [(e["subject"], e["total_before"], e["total_after"]) for e in entries] == [
        ("Start", None, "10000.00"), ("Client extends the budget", "10000.00", "12000.00"),
        ("Add tone of voice", "12000.00", "12000.00"), ("Drop tone of voice", "12000.00", "12000.00")]
    assert entries[1]["changes"] == [
        {"milestone": "audit", "change": "amount", "before": "3000.00", "after": "3600.00"},
        {"milestone": "identity", "change": "amount", "before": "7000.00", "after": "8400.00"}]
    assert {"milestone": "tone", "change": "added", "amount": "1200.00", "status": "planned"} in entries[2]["changes"]
    assert {"milestone": "tone", "change": "removed", "amount": "1200.00"} in entries[3]["changes"]


def test_an_invalid_version_is_reported_not_fatal_and_renames_are_followed(repo: Path) -> None:
    edit(repo, "annual-report.yaml", "amount: 6000.00", "amount: 6000.001")
    commit_all(repo, "Typo")
    edit(repo, "annual-report.yaml", "amount: 6000.001", "amount: 6500.00")
    commit_all(repo, "Fix typo")
    entries = api.history(repo, "annual-report")
    typo = next(e for e in entries if e["subject"] == "Typo")
    assert typo["total_after"] is None and typo["note"].startswith("invalid at this commit: ")
    fixed = next(e for e in entries if e["subject"] == "Fix typo")
    assert (fixed["total_before"], fixed["total_after"]) == ("12000.00", "12500.00")

    git(repo, "mv", "projects/nordlicht/annual-report.yaml", "projects/nordlicht/report.yaml")
    commit_all(repo, "Rename the project")
    moved = api.history(repo, "nordlicht/report")
    assert [e["subject"] for e in moved][:1] == ["Start"] and moved[-1]["subject"] == "Fix typo"


def test_unknown_project_and_no_history(repo: Path, tmp_path: Path) -> None:
    assert run(repo, "history", "nope").code == 1
    empty = run(repo, "history", "nordlicht/never-existed")
    assert empty.code == 0 and "No committed history" in empty.out
