"""billed/repo.py's shortcuts give what the plain way gives (loading is tested end to end by the corpus)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
