"""`billed plan`, `billed issue` and `billed render` as people and CI use them: JSON fields, a dry run that writes
nothing, progress output on a terminal and in logs, the bundled example ending with documents to open."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from tests.conftest import BILLED, TOOLKIT, run, run_process, snapshot

SITE = """\
title: Site
start: 2026-01-05
deposit: 100.00
milestones:
  - {id: a, title: Alpha, amount: 1000.00, status: done, done: 2026-02-01}
  - {id: b, title: Beta, amount: 500.00, status: done, done: 2026-02-02, final: true}
"""


def test_plan_json_lists_what_issue_would_write_and_writes_nothing(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE})
    before = snapshot(root)
    result = run(root, "plan", "--date", "2026-02-10", "--json")
    assert result.code == 0 and snapshot(root) == before
    docs = result.json
    assert [d["number"] for d in docs] == ["INV-2026-0001", "INV-2026-0002", "INV-2026-0003"]
    assert set(docs[0]) == {"number", "kind", "type_code", "title", "client", "project", "milestones", "issue_date",
                            "due_date", "currency", "net", "tax", "total", "corrects"}
    assert docs[0] | {"title": None} == {
        "number": "INV-2026-0001", "kind": "deposit", "type_code": "386", "title": None, "client": "nordlicht",
        "project": "site", "milestones": ["deposit"], "issue_date": "2026-02-10", "due_date": "2026-02-10",
        "currency": "EUR", "net": "100.00", "tax": "19.00", "total": "119.00", "corrects": None}
    assert [(d["kind"], d["milestones"], d["total"], d["due_date"]) for d in docs[1:]] == [
        ("milestone", ["a"], "1190.00", "2026-02-24"), ("final", ["b"], "476.00", "2026-02-24")]
    issued = run(root, "issue", "--date", "2026-02-10", "--json", "--no-pdf").json
    assert issued == docs  # the plan is exactly what issue does


def test_plan_prints_a_table_and_says_when_there_is_nothing_to_do(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE})
    before = snapshot(root)
    result = run(root, "plan", "--date", "2026-02-10")
    assert result.code == 0 and "INV-2026-0002" in result.out and "Prepayment invoice" in result.out
    assert "3 documents would be issued" in result.out and "€1,190.00" in result.out
    assert run(root, "plan", "--date", "2026-01-01").out.startswith("Nothing to issue")
    assert snapshot(root) == before


def test_a_second_issue_issues_nothing(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE})
    first = run(root, "issue", "--date", "2026-02-10", "--no-pdf")
    assert first.code == 0 and "Issued 3 documents" in first.out
    before = snapshot(root)
    second = run(root, "issue", "--date", "2026-02-10")
    assert second.code == 0 and "Nothing to issue" in second.out
    assert run(root, "issue", "--date", "2026-02-11", "--json").json == []
    assert snapshot(root) == before


def test_issue_in_ci_prints_one_plain_line_per_document(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE})
    result = run_process(root, "issue", "--date", "2026-02-10", "--no-pdf")
    assert result.code == 0
    assert result.err.splitlines() == ["issued INV-2026-0001 (1/3)", "issued INV-2026-0002 (2/3)",
                                       "issued INV-2026-0003 (3/3)"]
    assert "\r" not in result.err and "INV-2026-0003" in result.out


def test_issue_json_keeps_stdout_clean_for_ci(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE})
    result = run_process(root, "issue", "--date", "2026-02-10", "--no-pdf", "--json")
    assert result.code == 0 and result.err == ""
    assert [d["number"] for d in json.loads(result.out)] == ["INV-2026-0001", "INV-2026-0002", "INV-2026-0003"]


def test_issue_on_a_terminal_shows_a_progress_bar(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE})
    leader, follower = os.openpty()
    try:
        proc = subprocess.run([BILLED, "issue", "--date", "2026-02-10", "--no-pdf"], cwd=root, stdout=subprocess.PIPE,
                              stderr=follower, timeout=120, env={**os.environ, "TERM": "xterm"})
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert proc.returncode == 0
    text = shown.decode("utf-8", "replace")
    assert "Issuing" in text and "100%" in text and "issued INV-" not in text


def test_render_makes_the_pdfs_of_documents_issued_without_and_never_rewrites_one(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE})
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    records = {p: p.read_bytes() for p in (root / "invoices").glob("*/*.json")}
    assert not list((root / "invoices").glob("*/*.pdf"))
    result = run(root, "render")
    assert result.code == 0 and "Rendered 3 PDFs" in result.out
    pdfs = {p: p.read_bytes() for p in (root / "invoices").glob("*/*.pdf")}
    assert len(pdfs) == 3 and all(data.startswith(b"%PDF") for data in pdfs.values())
    assert run(root, "render").out.startswith("Rendered 0 PDFs")
    assert {p: p.read_bytes() for p in (root / "invoices").glob("*/*.pdf")} == pdfs
    assert {p: p.read_bytes() for p in records} == records
    assert run(root, "verify").code == 0


def test_render_refuses_a_ledger_that_does_not_verify(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE})
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    (root / "invoices/2026/INV-2026-0002.html").write_text("<p>forged</p>", encoding="utf-8")
    result = run(root, "render")
    assert result.code == 1 and "INV-2026-0002.html was changed" in result.err
    assert not list((root / "invoices").glob("*/*.pdf"))


def test_issue_with_bad_input_reports_every_problem_and_writes_nothing(repo):
    root = repo({"projects/nordlicht/site.yaml": SITE.replace("1000.00", "1000.005").replace(
        "done: 2026-02-02", "done: 2026-02-31")})
    before = snapshot(root)
    result = run_process(root, "issue", "--date", "2026-02-10")
    assert result.code == 1 and "[E021]" in result.err and "[E022]" in result.err
    assert "Traceback" not in result.err and snapshot(root) == before


def test_commands_have_help(repo):
    root = repo()
    for command in ("plan", "issue", "render"):
        result = run(root, command, "--help")
        assert result.code == 0 and "--repo" in result.out and len(result.out.splitlines()) > 4
    assert "--no-pdf" in run(root, "issue", "--help").out and "--date" in run(root, "plan", "--help").out


def test_the_bundled_example_ends_with_invoices_to_open(tmp_path):
    root = tmp_path / "example"
    root.mkdir()
    for name in ("billed.yaml", "projects", "templates"):
        source = TOOLKIT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    result = run(root, "issue", "--date", "2026-11-25")
    assert result.code == 0, result.err
    pdfs = sorted((root / "invoices/2026").glob("*.pdf"))
    assert len(pdfs) >= 5 and all(p.with_suffix(".html").exists() for p in pdfs)
    assert run(root, "verify").code == 0
    assert run(root, "issue", "--date", "2026-11-25", "--json").json == []
