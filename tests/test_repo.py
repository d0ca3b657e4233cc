"""billed/repo.py's shortcuts give what the plain way gives (loading is tested end to end by the corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import WEBSITE, make_repo, run, snapshot

from billed import repo


@pytest.mark.parametrize("here", ["", "a", "a/projects", "a/projects/c", "a/projects/c/sub", "a/projects/c/x.yaml",
                                  "a/projects/c/x.yaml/deeper", "elsewhere"])
def test_files_are_shown_as_a_relpath_each_would_show_them(tmp_path: Path, here: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """repo._shown_in joins a file's name to its folder's shown path instead of a relpath per file: the same text
    from wherever Billed runs, a folder named like a project file included."""
    folder = tmp_path / "a" / "projects" / "c"
    for sub in ("sub", "x.yaml/deeper", "../../../elsewhere"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(tmp_path / here)
    base = repo.shown(folder)
    for name in ("p.yaml", "client.yaml", "x.yaml", "sub"):
        assert repo._shown_in(base, folder, name) == repo.shown(folder / name)


TWIN = WEBSITE.replace("amount: 1000.00", "amount: 2500.00")  # the same project id, other figures
E048 = ["projects/nordlicht/web.yml:1:1: [E048] a second file for project 'web' (also web.yaml)",
        "    hint: keep one file per project: rename or remove web.yml"]


def test_two_files_for_one_project_are_a_finding_and_neither_is_billed(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": WEBSITE, "projects/nordlicht/web.yml": TWIN})
    before = snapshot(root)
    result = run(root, "check")
    assert result.code == 1
    assert result.err.splitlines()[:-1] == E048
    rows = json.loads(run(root, "check", "--json").out)
    assert rows == [{"file": "projects/nordlicht/web.yml", "line": 1, "column": 1, "code": "E048",
                     "message": "a second file for project 'web' (also web.yaml)",
                     "hint": "keep one file per project: rename or remove web.yml"}]
    issued = run(root, "issue", "--no-pdf", "--date", "2026-03-01")
    assert issued.code == 1 and E048[0] in issued.err
    assert snapshot(root) == before, "nothing may be issued from either file"
    loaded, _ = repo.load_repo(root)
    assert loaded.projects == {} and loaded.due_from == {}


def test_the_first_of_two_files_still_has_its_own_findings(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": WEBSITE.replace("status: done", "status: dnoe"),
                                         "projects/nordlicht/web.yml": TWIN})
    found = [f.code for f in repo.load_repo(root)[1]]
    assert found == ["E013", "E048"]  # web.yaml's own, then the second file's; web.yml itself is not read


@pytest.mark.parametrize("racy_ns", [0, None])
def test_a_second_file_beside_an_invoiced_project_is_the_same_finding_from_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, racy_ns: int | None) -> None:
    """The project of web.yaml was invoiced: a web.yml beside it gives E048 (not E050: the file is still there) on
    every load, cold, as the cache first sees it, and from its entries; with a stat the cache may vouch for
    (`racy_ns` 0) or not."""
    from billed import ledger

    if racy_ns is not None:
        monkeypatch.setattr(ledger, "RACY_NS", racy_ns)
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": WEBSITE})
    assert run(root, "issue", "--no-pdf", "--date", "2026-03-01").code == 0
    assert run(root, "check").code == 0 and run(root, "check").code == 0  # web.yaml's entries are in the cache
    (root / "projects/nordlicht/web.yml").write_text(TWIN, encoding="utf-8")
    before = snapshot(root)
    runs = [run(root, "check") for _ in range(3)]
    assert [r.code for r in runs] == [1, 1, 1]
    assert [r.err.splitlines()[:-1] for r in runs] == [E048] * 3
    assert run(root, "issue", "--no-pdf", "--date", "2026-06-01").code == 1
    assert snapshot(root) == before
    monkeypatch.setenv("BILLED_CACHE", "0")
    assert run(root, "check").err == runs[0].err


@pytest.mark.parametrize("name", ["web\n.yaml", "nordlicht\n"])
def test_a_name_ending_in_a_newline_is_not_allowed(tmp_path: Path, name: str) -> None:
    """checks.NAME: a client folder or project file name is lowercase letters, digits, - and _; `$` let a final
    newline through, and a project id ending in one was loaded without a word."""
    from conftest import CLIENT

    if name.endswith(".yaml"):
        root = make_repo(tmp_path / "repo", {f"projects/nordlicht/{name}": WEBSITE})
    else:
        root = make_repo(tmp_path / "repo", {f"projects/{name}/client.yaml": CLIENT,
                                             f"projects/{name}/web.yaml": WEBSITE})
    result = run(root, "check")
    assert result.code == 1 and "[E041]" in result.err and "is not allowed" in result.err, result.err


def test_a_client_yml_is_named_not_billed_as_a_project_called_client(tmp_path: Path) -> None:
    from conftest import CLIENT

    root = make_repo(tmp_path / "repo", {"projects/sued/client.yml": CLIENT, "projects/nordlicht/client.yml": WEBSITE,
                                         "projects/nordlicht/web.yaml": WEBSITE})
    result = run(root, "check")
    assert result.code == 1
    assert "projects/nordlicht/client.yml:1:1: [E040] client.yml is not read: a client's file is client.yaml" in \
        result.err and "projects/sued/client.yml:1:1: [E040]" in result.err
    assert "projects/sued:1:1: [E040] client folder 'sued' has no client.yaml" in result.err
    assert "nordlicht/client" not in result.err.replace("nordlicht/client.yml", "")
