"""billed issue --commit/--push and check --base, against real git repositories (bare origin + clones in tmp)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from billed import api
from tests._gitsandbox import (
    GIT_ENV,
    PROJECT,
    clone,
    commit_all,
    files_on,
    git,
    git_identity,  # noqa: F401 - autouse: git identity for in-process runs
    origin,
    set_status,
)
from tests.conftest import make_repo, run, run_process

DATE = "2026-06-01"


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    bare = origin(tmp_path)
    return bare, clone(bare, tmp_path / "work")


def issue(repo: Path, *extra: str):
    return run(repo, "issue", "--date", DATE, "--no-pdf", *extra)


def test_commit_holds_exactly_the_new_documents_with_trailer_and_provenance(sandbox: tuple[Path, Path]) -> None:
    _, work = sandbox
    set_status(work, "layout", "done")
    became = commit_all(work, "Layout signed off", GIT_AUTHOR_NAME="Lena Layout", GIT_AUTHOR_EMAIL="lena@example.com")
    (work / "NOTES.md").write_text("staged, not Billed's\n")
    git(work, "add", "NOTES.md")
    (work / "scratch.txt").write_text("untracked\n")

    result = issue(work, "--commit")
    assert result.code == 0, result.err
    shown = git(work, "show", "--name-only", "--format=%B", "HEAD")
    assert "Issue INV-2026-0001, INV-2026-0002" in shown
    assert "Billed-Issued: INV-2026-0001\nBilled-Issued: INV-2026-0002" in shown
    committed = git(work, "show", "--name-only", "--format=", "HEAD").splitlines()
    assert committed == ["invoices/2026/INV-2026-0001.html", "invoices/2026/INV-2026-0001.json",
                         "invoices/2026/INV-2026-0002.html", "invoices/2026/INV-2026-0002.json"]
    assert git(work, "diff", "--cached", "--name-only") == "NOTES.md"  # the user's staged work stays staged
    layout = json.loads((work / "invoices/2026/INV-2026-0002.json").read_text())
    assert layout["lines"][0]["ref"] == "layout"
    assert layout["source"]["commit"] == became
    assert (layout["source"]["author"], layout["source"]["email"]) == ("Lena Layout", "lena@example.com")
    assert layout["source"]["file"] == "projects/nordlicht/annual-report.yaml"
    concept = json.loads((work / "invoices/2026/INV-2026-0001.json").read_text())
    assert concept["source"]["commit"] == git(work, "rev-list", "--max-parents=0", "HEAD")
    assert run(work, "verify").code == 0


def test_provenance_is_the_latest_move_to_done(sandbox: tuple[Path, Path]) -> None:
    _, work = sandbox
    set_status(work, "layout", "done")
    commit_all(work, "Layout done (too early)")
    set_status(work, "layout", "in_progress")
    commit_all(work, "Layout reopened")
    set_status(work, "layout", "done")
    again = commit_all(work, "Layout done for real", GIT_AUTHOR_NAME="Otto")
    path = work / "projects/nordlicht/annual-report.yaml"
    good = path.read_text()
    path.write_text("title: [broken\n")
    commit_all(work, "Broken YAML")
    path.write_text(good)
    commit_all(work, "Fix the YAML")  # a broken version in between does not make layout newly done
    assert issue(work, "--commit").code == 0
    record = json.loads((work / "invoices/2026/INV-2026-0002.json").read_text())
    assert (record["source"]["commit"], record["source"]["author"]) == (again, "Otto")


def test_commit_refuses_uncommitted_project_edits(sandbox: tuple[Path, Path]) -> None:
    _, work = sandbox
    set_status(work, "layout", "done")
    before = git(work, "rev-parse", "HEAD")
    result = issue(work, "--commit")
    assert result.code == 1
    assert "uncommitted changes in projects/nordlicht/annual-report.yaml" in result.err
    assert not (work / "invoices/2026").exists()
    assert git(work, "rev-parse", "HEAD") == before


def test_issue_commit_after_a_kill_cleans_its_own_leftovers(sandbox: tuple[Path, Path]) -> None:
    """Killed after writing a rendering (no record yet), and mid-write of another (its temp file): the next
    `issue --commit` removes both, instead of refusing with "uncommitted changes"."""
    _, work = sandbox
    set_status(work, "layout", "done")
    commit_all(work, "Layout done")
    killed = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit",
                         env={**GIT_ENV, "BILLED_FAULT_AFTER_WRITES": "1"})
    assert killed.code == 75
    assert (work / "invoices/2026/INV-2026-0001.html").exists()
    assert not (work / "invoices/2026/INV-2026-0001.json").exists()
    (work / "invoices/2026/.INV-2026-0002.html.20441.tmp").write_text("<html>half")
    (work / "invoices/2026/notes.txt").write_text("mine")  # not Billed's: left alone, and still refused
    refused = issue(work, "--commit")
    assert refused.code == 1 and "uncommitted changes in invoices/2026/notes.txt" in refused.err
    assert not (work / "invoices/2026/.INV-2026-0002.html.20441.tmp").exists()
    (work / "invoices/2026/notes.txt").unlink()
    result = issue(work, "--commit")
    assert result.code == 0, result.err
    assert git(work, "show", "--name-only", "--format=", "HEAD").splitlines() == [
        "invoices/2026/INV-2026-0001.html", "invoices/2026/INV-2026-0001.json",
        "invoices/2026/INV-2026-0002.html", "invoices/2026/INV-2026-0002.json"]
    assert git(work, "status", "--porcelain") == ""
    assert run(work, "verify").code == 0


def test_issue_commit_commits_documents_issued_here_before(sandbox: tuple[Path, Path]) -> None:
    """Killed after its first record, or run without --commit: the documents are issued (their numbers taken)
    but not in git. The next `issue --commit` commits them with their trailers, so git witnesses them."""
    _, work = sandbox
    set_status(work, "layout", "done")
    commit_all(work, "Layout done")
    killed = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit",
                         env={**GIT_ENV, "BILLED_FAULT_AFTER_WRITES": "2"})  # INV-2026-0001.html, .json, dead
    assert killed.code == 75 and (work / "invoices/2026/INV-2026-0001.json").exists()
    result = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", env=GIT_ENV)
    assert result.code == 0, result.err
    assert "(with INV-2026-0001, issued here earlier and not committed yet)" in result.err
    assert git(work, "show", "--name-only", "--format=", "HEAD").splitlines() == [
        "invoices/2026/INV-2026-0001.html", "invoices/2026/INV-2026-0001.json",
        "invoices/2026/INV-2026-0002.html", "invoices/2026/INV-2026-0002.json"]
    trailers = git(work, "log", "-1", "--format=%(trailers:key=Billed-Issued,valueonly,separator=%x2C)")
    assert trailers == "INV-2026-0001,INV-2026-0002"
    assert git(work, "status", "--porcelain") == "" and run(work, "verify").code == 0


def test_issue_commit_adopts_a_plain_issue_only_while_nothing_it_is_made_of_changed(sandbox: tuple[Path, Path]
                                                                                      ) -> None:
    """A record names the commit it was issued at; a commit since that touches no input (a README) is fine, one
    that does (billed.yaml here) makes `issue --commit` refuse to vouch for it, committing nothing."""
    _, work = sandbox
    set_status(work, "layout", "done")
    commit_all(work, "Layout done")
    at = git(work, "rev-parse", "HEAD")
    assert issue(work).code == 0  # no --commit: INV-2026-0001 and 0002 stay untracked
    record = json.loads((work / "invoices/2026/INV-2026-0002.json").read_text())
    assert record["source"]["head"] == at
    (work / "README.md").write_text("notes\n")
    git(work, "add", "README.md")
    git(work, "commit", "-q", "-m", "Notes")
    settings = work / "billed.yaml"
    settings.write_text(settings.read_text() + "\n")
    git(work, "commit", "-q", "-m", "Reformat", "--", "billed.yaml")
    before = git(work, "rev-parse", "HEAD")
    refused = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", env=GIT_ENV)
    assert refused.code == 1 and "Traceback" not in refused.err
    assert (f"invoices/2026/INV-2026-0001.json: 1 commit(s) since it was issued at {at[:12]} changed what "
            "documents are made of") in refused.err
    assert git(work, "rev-parse", "HEAD") == before
    git(work, "reset", "-q", "--keep", "HEAD~1")  # the change undone: HEAD is a state the records came from
    result = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", env=GIT_ENV)
    assert result.code == 0, result.err
    trailers = git(work, "log", "-1", "--format=%(trailers:key=Billed-Issued,valueonly,separator=%x2C)")
    assert trailers == "INV-2026-0001,INV-2026-0002" and run(work, "verify").code == 0


def test_a_stale_index_lock_is_explained(sandbox: tuple[Path, Path]) -> None:
    _, work = sandbox
    lock = work / ".git/index.lock"
    lock.write_bytes(b"")  # what a killed `git add` leaves
    before = git(work, "rev-parse", "HEAD")
    result = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", env=GIT_ENV)
    assert result.code == 1 and "Traceback" not in result.err
    assert f"{lock} exists" in result.err and "a git command that was killed" in result.err
    assert f"rm {lock}" in result.err and "Nothing was issued." in result.err
    assert not list(work.glob("invoices/2026/*")) and git(work, "rev-parse", "HEAD") == before
    lock.unlink()
    assert issue(work, "--commit").code == 0


def test_push_then_rerun_does_nothing(sandbox: tuple[Path, Path]) -> None:
    bare, work = sandbox
    result = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", "--push", env=GIT_ENV)
    assert result.code == 0, result.err
    assert "and pushed it to origin" in result.err
    assert files_on(bare) == ["invoices/2026/INV-2026-0001.html", "invoices/2026/INV-2026-0001.json"]
    tip = git(bare, "rev-parse", "main")
    again = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", "--push", env=GIT_ENV)
    assert again.code == 0 and "Nothing to issue" in again.out
    assert git(bare, "rev-parse", "main") == tip


def test_a_stale_checkout_catches_up_before_planning(sandbox: tuple[Path, Path], tmp_path: Path) -> None:
    """CI may check out a commit that is no longer the tip: Billed fast-forwards, then plans."""
    bare, work = sandbox
    dev = clone(bare, tmp_path / "dev")
    set_status(dev, "layout", "done")
    commit_all(dev, "Layout done")
    git(dev, "push", "-q", "origin", "main")
    assert issue(work, "--commit", "--push").code == 0
    numbers = [p for p in files_on(bare) if p.endswith(".json")]
    assert numbers == ["invoices/2026/INV-2026-0001.json", "invoices/2026/INV-2026-0002.json"]


def hook(repo: Path, name: str, script: str) -> None:
    path = repo / ".git" / "hooks" / name if (repo / ".git").is_dir() else repo / "hooks" / name
    path.write_text("#!/bin/sh\nunset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_rejected_push_replans_from_the_new_state(sandbox: tuple[Path, Path], tmp_path: Path) -> None:
    """Between our commit and our push another run issues INV-0001 and a merge marks `layout` done. Our push is
    rejected; we must drop our INV-0001, fetch, re-plan and issue layout as INV-0002: no number used twice."""
    bare, work = sandbox
    other, dev = clone(bare, tmp_path / "other"), clone(bare, tmp_path / "dev")
    set_status(dev, "layout", "done")
    commit_all(dev, "Layout done")
    billed = Path(run_process.__globals__["BILLED"])
    hook(work, "pre-push", f"""[ -e "{tmp_path}/raced" ] && exit 0
touch "{tmp_path}/raced"
cd "{other}" && "{billed}" issue --date {DATE} --no-pdf --commit --push >/dev/null 2>&1 || exit 1
cd "{dev}" && git pull -q --rebase origin main && git push -q origin HEAD:main
""")
    result = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", "--push", env=GIT_ENV)
    assert result.code == 0, result.err
    log = git(bare, "log", "--format=%s", "main").splitlines()
    assert log[:3] == ["Issue INV-2026-0002", "Layout done", "Issue INV-2026-0001"]
    records = [json.loads(git(bare, "show", f"main:{p}")) for p in files_on(bare) if p.endswith(".json")]
    assert [(r["number"], r["lines"][0]["ref"]) for r in records] == [("INV-2026-0001", "concept"),
                                                                      ("INV-2026-0002", "layout")]
    assert git(work, "rev-parse", "HEAD") == git(bare, "rev-parse", "main")
    assert run(work, "verify").code == 0


def test_gives_up_after_the_retries_and_leaves_nothing_behind(sandbox: tuple[Path, Path], tmp_path: Path) -> None:
    bare, work = sandbox
    dev = clone(bare, tmp_path / "dev")
    hook(work, "pre-push", f"""cd "{dev}" && git pull -q --rebase origin main && date +%s%N >> moved.txt \\
  && git add moved.txt && git commit -qm moved && git push -q origin HEAD:main
""")
    result = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", "--push", "--retries", "1",
                         env=GIT_ENV)
    assert result.code == 1
    assert "gave up after 2 attempts" in result.err
    assert files_on(bare) == []
    assert not list((work / "invoices").glob("2026/*"))
    assert git(work, "status", "--porcelain") == ""


def test_a_push_refused_for_another_reason_is_an_error_not_a_retry(sandbox: tuple[Path, Path]) -> None:
    bare, work = sandbox
    hook(bare, "pre-receive", "echo 'protected branch' >&2; exit 1\n")
    result = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", "--push", env=GIT_ENV)
    assert result.code == 1
    assert "git push to origin main failed" in result.err and "protected branch" in result.err
    assert "Traceback" not in result.err


def test_commit_outside_git_is_a_clear_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "plain", {"projects/nordlicht/annual-report.yaml": PROJECT})
    result = issue(repo, "--commit")
    assert result.code == 1 and "not inside a git repository" in result.err
    plain = issue(repo)  # without --commit a plain folder still works, and names no commit
    assert plain.code == 0
    assert json.loads((repo / "invoices/2026/INV-2026-0001.json").read_text())["source"] is None


# --- check --base ---------------------------------------------------------------------------------------------


@pytest.fixture
def issued(sandbox: tuple[Path, Path]) -> tuple[Path, Path]:
    """Origin main with INV-2026-0001 issued and pushed; `work` is a clone on a feature branch."""
    bare, work = sandbox
    assert issue(work, "--commit", "--push").code == 0
    git(work, "checkout", "-q", "-b", "feature")
    return bare, work


@pytest.mark.parametrize(("change", "words"), [
    ("edit", "edits it"), ("delete", "deletes it"), ("rename", "renames it to invoices/2026/INV-2026-0009.html")])
def test_check_base_names_an_issued_file_the_change_touches(issued: tuple[Path, Path], change: str,
                                                            words: str) -> None:
    _, work = issued
    target = work / "invoices/2026/INV-2026-0001.html"
    if change == "edit":
        target.write_text(target.read_text().replace("Concept", "Concept (discounted)"))
    elif change == "delete":
        git(work, "rm", "-q", str(target))
    else:
        git(work, "mv", str(target), str(target.with_name("INV-2026-0009.html")))
    commit_all(work, f"{change} an issued invoice")
    result = run(work, "check", "--base", "origin/main")
    assert result.code == 1
    assert (f"invoices/2026/INV-2026-0001.html:1:1: [E061] invoices/2026/INV-2026-0001.html was already issued "
            f"and this change {words} (since origin/main)") in result.err


def test_check_base_sees_uncommitted_edits_too(issued: tuple[Path, Path]) -> None:
    _, work = issued
    path = work / "invoices/2026/INV-2026-0001.json"
    path.write_text(path.read_text().replace("4000.00", "400.00"))
    found = run(work, "check", "--base", "origin/main", "--json").json["findings"]
    assert {(f["file"], f["code"]) for f in found} >= {("invoices/2026/INV-2026-0001.json", "E061")}


def test_check_base_ignores_documents_issued_on_main_after_the_fork(issued: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    """A branch that is behind main lacks the newer invoices: that is not a deletion (merge base, not tip)."""
    bare, work = issued
    ci = clone(bare, tmp_path / "ci")
    set_status(ci, "print", "done")
    commit_all(ci, "Print done")
    assert issue(ci, "--commit", "--push").code == 0
    git(work, "fetch", "-q", "origin")
    set_status(work, "layout", "done")
    commit_all(work, "Layout done")
    result = run(work, "check", "--base", "origin/main", "--json")
    assert result.code == 0, result.out
    assert result.json["findings"] == []
    git(work, "merge", "-q", "--no-edit", "origin/main")  # what a pull request's merge checkout holds
    merged = run(work, "check", "--base", "origin/main", "--json")
    assert merged.code == 0, merged.out
    assert [(d["number"], d["milestones"]) for d in merged.json["plan"]] == [("INV-2026-0003", ["layout"])]


def test_check_base_shows_the_plan_and_writes_the_job_summary(issued: tuple[Path, Path], tmp_path: Path) -> None:
    _, work = issued
    set_status(work, "layout", "done")
    commit_all(work, "Layout done")
    summary = tmp_path / "summary.md"
    result = run_process(work, "check", "--base", "origin/main", env={**GIT_ENV,
                                                                       "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.code == 0, result.err
    assert "Merging this will issue:" in result.out and "INV-2026-0002" in result.out
    text = summary.read_text()
    assert "Merging this will issue INV-2026-0002, €7,140.00 to Nordlicht Verlag GmbH." in text
    assert "| INV-2026-0002 | Invoice | Nordlicht Verlag GmbH | annual-report | layout | €6,000.00 |" in text


def test_check_base_with_an_unknown_rev_is_a_clear_error(issued: tuple[Path, Path]) -> None:
    _, work = issued
    result = run_process(work, "check", "--base", "origin/nope", env=GIT_ENV)
    assert result.code == 1
    assert "cannot compare with 'origin/nope'" in result.err and "Traceback" not in result.err


def test_a_billing_repo_in_a_subfolder_of_a_bigger_git_repo(tmp_path: Path) -> None:
    """Paths git prints are relative to the top level; Billed's are relative to billed.yaml. Both must line up."""
    top = tmp_path / "company"
    billing = make_repo(top / "finance" / "billing", {"projects/nordlicht/annual-report.yaml": PROJECT})
    (top / "README.md").write_text("company monorepo\n")
    git(top, "init", "-q", "-b", "main")
    done = commit_all(top, "Monorepo with billing")
    assert issue(billing, "--commit").code == 0
    record = json.loads((billing / "invoices/2026/INV-2026-0001.json").read_text())
    assert record["source"]["commit"] == done
    assert record["source"]["file"] == "finance/billing/projects/nordlicht/annual-report.yaml"
    assert git(top, "show", "--name-only", "--format=", "HEAD").splitlines() == [
        "finance/billing/invoices/2026/INV-2026-0001.html", "finance/billing/invoices/2026/INV-2026-0001.json"]
    git(top, "branch", "base")
    path = billing / "invoices/2026/INV-2026-0001.json"
    path.write_text(path.read_text().replace("Concept", "Konzept"))
    found = run(billing, "check", "--base", "base", "--json").json["findings"]
    assert ("invoices/2026/INV-2026-0001.json", "E061") in {(f["file"], f["code"]) for f in found}
    assert [e["subject"] for e in api.history(billing, "nordlicht/annual-report")] == ["Monorepo with billing"]


def test_a_detached_head_must_name_its_branch(sandbox: tuple[Path, Path]) -> None:
    """CI often checks out a bare commit: pushing needs to know which branch, and says so in one line."""
    bare, work = sandbox
    set_status(work, "layout", "done")
    commit_all(work, "Layout signed off")
    git(work, "push", "-q", "origin", "main")
    git(work, "checkout", "-q", "--detach", "HEAD")
    result = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", "--push", env=GIT_ENV)
    assert result.code == 1 and "--branch" in result.err and "Traceback" not in result.err
    assert files_on(bare) == []
    ok = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", "--push", "--branch", "main",
                     env=GIT_ENV)
    assert ok.code == 0, ok.err
    assert files_on(bare)


def issued_then_raced(bare: Path, work: Path, tmp_path: Path, change: str) -> tuple[Path, bytes]:
    """INV-2026-0001 issued in `work` without --commit (untracked), and a pre-push hook that, once, pushes
    `change` (shell, run in another clone) to main first: `work`'s next push is rejected. (its path, its bytes)"""
    assert issue(work).code == 0
    path = work / "invoices/2026/INV-2026-0001.json"
    dev = clone(bare, tmp_path / "dev")
    hook(work, "pre-push", f"""[ -e "{tmp_path}/raced" ] && exit 0
touch "{tmp_path}/raced"
cd "{dev}" && {change} && git push -q origin HEAD:main
""")
    return path, path.read_bytes()


def test_a_rejected_push_keeps_the_documents_issued_here_before(sandbox: tuple[Path, Path], tmp_path: Path) -> None:
    """Documents issued here earlier without --commit are adopted by `issue --commit --push`. When that push is
    rejected, undoing our commit must not delete them: they were issued (and may have been mailed), so the retry
    adopts the very same bytes, or, if it cannot, stops with them still on disk."""
    bare, work = sandbox
    path, issued = issued_then_raced(bare, work, tmp_path, "echo notes > NOTES.md && git add NOTES.md && "
                                                          "git commit -qm Notes")
    result = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", "--push", env=GIT_ENV)
    assert result.code == 0, result.err
    assert git(bare, "log", "--format=%s", "main").splitlines()[:2] == ["Issue INV-2026-0001", "Notes"]
    published = git(bare, "show", "main:invoices/2026/INV-2026-0001.json").encode() + b"\n"  # (git() strips)
    assert published == issued and path.read_bytes() == issued and run(work, "verify").code == 0


def test_a_rejected_push_that_cannot_adopt_again_stops_with_the_documents_still_there(
        sandbox: tuple[Path, Path], tmp_path: Path) -> None:
    bare, work = sandbox
    path, issued = issued_then_raced(bare, work, tmp_path, "echo >> billed.yaml && git commit -qam Reformat")
    result = run_process(work, "issue", "--date", DATE, "--no-pdf", "--commit", "--push", env=GIT_ENV)
    assert result.code == 1 and "Traceback" not in result.err
    assert "changed what documents are made of" in result.err, result.err
    assert path.read_bytes() == issued and files_on(bare) == []  # still here, and nothing published
