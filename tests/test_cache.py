"""billed/cache.py: a cache hit can never hide an edit (keys are content hashes), and a broken cache is no cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import WEBSITE as PROJECT
from conftest import make_repo, run


@pytest.fixture
def cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("BILLED_CACHE", raising=False)
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    assert run(root, "issue", "--no-pdf", "--date", "2026-03-01").code == 0
    assert run(root, "check").code == 0 and run(root, "check").code == 0  # the second run is all cache hits
    assert list((tmp_path / "cache").rglob("*.pickle"))
    return root


def test_an_edited_project_is_read_again(cached: Path) -> None:
    path = cached / "projects/nordlicht/web.yaml"
    path.write_text(PROJECT.replace("status: done", "status: dnoe"), encoding="utf-8")
    result = run(cached, "check")
    assert result.code == 1 and "dnoe" in result.err
    path.write_text(PROJECT, encoding="utf-8")
    assert run(cached, "check").code == 0


def test_a_tampered_record_is_caught_after_a_clean_cached_run(cached: Path) -> None:
    record = next((cached / "invoices").glob("*/*.json"))
    data = json.loads(record.read_text(encoding="utf-8"))
    record.write_text(record.read_text(encoding="utf-8").replace("  ", "   ", 1), encoding="utf-8")
    assert run(cached, "check").code == 1  # same data, other bytes: a new key, checked in full
    record.write_text(json.dumps({**data, "net": "1.00"}, sort_keys=True, ensure_ascii=False, indent=2) + "\n",
                      encoding="utf-8")
    result = run(cached, "check")
    assert result.code == 1 and "edited after it was issued" in result.err


def test_a_corrupt_cache_is_ignored(cached: Path, tmp_path: Path) -> None:
    for pickle_file in (tmp_path / "cache").rglob("*.pickle"):
        pickle_file.write_bytes(b"not a pickle")
    assert run(cached, "check").code == 0


def test_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLED_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BILLED_CACHE", "0")
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": PROJECT})
    assert run(root, "check").code == 0
    assert not (tmp_path / "cache").exists()


def test_a_changed_html_is_caught_even_with_its_old_mtime(cached: Path) -> None:
    html = next((cached / "invoices").glob("*/*.html"))
    st = html.stat()
    html.write_bytes(html.read_bytes().replace(b"Design", b"Dezign"))
    os.utime(html, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size and mtime: only ctime tells
    result = run(cached, "check")
    assert result.code == 1 and "was changed after it was issued" in result.err


def test_entries_from_other_code_or_library_versions_are_not_trusted(cached: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from billed import cache

    [pickle_file] = [p for p in (tmp_path / "cache").rglob("docs.pickle")]
    assert cache.Store(pickle_file).old  # the cached run left entries that this code trusts
    stamp = cache._code_stamp()
    monkeypatch.setattr(cache, "_code_stamp", lambda: stamp + b"-jsonschema-upgraded")
    assert cache.Store(pickle_file).old == {}
    assert run(cached, "check").code == 0
