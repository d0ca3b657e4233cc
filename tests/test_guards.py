"""What `billed issue` refuses before planning (E080 uncommitted inputs, E081 the example project) and what `check`
only warns about (W001, W002); real git repositories, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._gitsandbox import (
    PROJECT,
    commit_all,
    git,
    git_identity,  # noqa: F401 - autouse: git identity for in-process runs
    set_status,
)
from tests.conftest import make_repo, run, run_process, snapshot
from tests.test_corpus import ISSUE_EXAMPLES, WARNING_EXAMPLES

DATE = "2026-06-01"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A committed billing repo in git: one project with one done milestone (concept, 4000.00)."""
    root = make_repo(tmp_path / "books", {"projects/nordlicht/annual-report.yaml": PROJECT,
                                          ".gitignore": "invoices/.lock\nprojects/secret/\n"})
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "Start")
    return root


def test_uncommitted_untracked_and_ignored_inputs_are_refused_by_name(repo: Path) -> None:
    set_status(repo, "layout", "done")  # an edit not committed
    (repo / "projects/acme").mkdir()
    (repo / "projects/acme/client.yaml").write_text((repo / "projects/nordlicht/client.yaml").read_text())
    (repo / "projects/secret").mkdir()  # git-ignored: billed from, yet not in git
    (repo / "projects/secret/client.yaml").write_text((repo / "projects/nordlicht/client.yaml").read_text())
    (repo / "templates/invoice.css").write_text("body { color: red }\n")
    (repo / "NOTES.md").write_text("not read by issue: allowed\n")
    before = snapshot(repo)
    result = run_process(repo, "issue", "--date", DATE, "--no-pdf")
    assert result.code == 1, result.err
    named = sorted(line.split(":", 1)[0] for line in result.err.splitlines() if "[E080]" in line)
    assert named == ["projects/acme/client.yaml", "projects/nordlicht/annual-report.yaml",
                     "projects/secret/client.yaml", "templates/invoice.css"]
    assert "hint: commit it first" in result.err and "nothing was written" in result.err
    assert "Traceback" not in result.err
    assert snapshot(repo) == before  # not even invoices/.lock


def test_allow_dirty_issues_and_the_record_names_the_uncommitted_files(repo: Path) -> None:
    set_status(repo, "layout", "done")
    result = run(repo, "issue", "--date", DATE, "--no-pdf", "--allow-dirty", "--json")
    assert result.code == 0, result.err
    assert [d["milestones"] for d in result.json] == [["concept"], ["layout"]]
    concept = json.loads((repo / "invoices/2026/INV-2026-0001.json").read_text())
    layout = json.loads((repo / "invoices/2026/INV-2026-0002.json").read_text())
    assert concept["source"]["uncommitted"] == ["projects/nordlicht/annual-report.yaml"]
    assert concept["source"]["file"] == "projects/nordlicht/annual-report.yaml"  # concept was done when committed
    head = git(repo, "rev-parse", "HEAD")  # the commit checked out, which the inputs differ from
    assert layout["source"] == {"head": head, "uncommitted": ["projects/nordlicht/annual-report.yaml"]}
    assert run(repo, "verify").code == 0


def test_a_committed_state_issues_and_names_its_commit(repo: Path) -> None:
    set_status(repo, "layout", "done")
    became = commit_all(repo, "Layout signed off")
    result = run(repo, "issue", "--date", DATE, "--no-pdf")
    assert result.code == 0, result.err
    layout = json.loads((repo / "invoices/2026/INV-2026-0002.json").read_text())
    assert layout["source"]["commit"] == became and "uncommitted" not in layout["source"]


def test_outside_git_issuing_is_allowed_and_the_record_names_no_commit(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "plain", {"projects/nordlicht/annual-report.yaml": PROJECT})
    result = run(root, "issue", "--date", DATE, "--no-pdf")
    assert result.code == 0, result.err
    assert json.loads((root / "invoices/2026/INV-2026-0001.json").read_text())["source"] is None


def test_allow_dirty_never_combines_with_commit(repo: Path) -> None:
    result = run_process(repo, "issue", "--allow-dirty", "--commit")
    assert result.code == 2 and "--allow-dirty cannot be combined with --commit" in result.err


def test_the_e080_example_in_the_catalogue_is_what_billed_prints(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "books", {".gitignore": "invoices/.lock\n"})
    (root / "projects/acme").mkdir()
    (root / "projects/acme/client.yaml").write_bytes((root / "projects/nordlicht/client.yaml").read_bytes())
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "Start")
    (root / "projects/acme/site.yaml").write_text(PROJECT)
    result = run_process(root, "issue")
    assert result.code == 1
    assert result.err.splitlines()[:-1] == ISSUE_EXAMPLES["E080"]


def test_the_example_project_of_init_is_never_billed(tmp_path: Path) -> None:
    assert run(tmp_path, "init", "books").code == 0
    books = tmp_path / "books"
    check = run_process(books, "check")
    assert check.code == 0, check.err
    warnings = [line.removeprefix("warning: ") for line in check.err.splitlines()]
    assert warnings == WARNING_EXAMPLES["W001"] + WARNING_EXAMPLES["W002"]
    before = snapshot(books)
    for command in ("plan", "issue"):
        refused = run_process(books, command, "--date", "2026-03-01")
        assert refused.code == 1, refused.err
        assert refused.err.splitlines()[:-1] == ISSUE_EXAMPLES["E081"]
    assert snapshot(books) == before
    # made real: the flag removed (and committed), the project is billed like any other
    path = books / "projects/example-client/website.yaml"
    path.write_text(path.read_text().replace("example: true", "example: false"))
    commit_all(books, "This client is real")
    assert run(books, "issue", "--date", "2026-03-01", "--no-pdf").code == 0
    assert (books / "invoices/2026/INV-2026-0001.json").is_file()
