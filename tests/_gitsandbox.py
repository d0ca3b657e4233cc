"""Real git sandboxes for the git, race, history and workflow tests: a bare "origin" plus clones, all in tmp.

Identity and config come from the environment only (GIT_CONFIG_GLOBAL=/dev/null), never from the machine's
global git config, so the tests behave the same on every laptop and runner.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import make_repo

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Author", "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Author", "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
}

PROJECT = """\
title: Annual report
currency: EUR
start: 2026-01-05
milestones:
  - id: concept
    title: Concept
    amount: 4000.00
    status: done
    done: 2026-02-01
  - id: layout
    title: Layout
    amount: 6000.00
    status: planned
  - id: print
    title: Print files
    amount: 2000.00
    status: planned
"""


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, **GIT_ENV, **extra}


def git(cwd: Path, *args: str, **extra: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=env(**extra), check=False)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed in {cwd}: {proc.stderr}")
    return proc.stdout.strip()


def commit_all(cwd: Path, message: str, **who: str) -> str:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "-m", message, **who)
    return git(cwd, "rev-parse", "HEAD")


def origin(tmp: Path, files: dict[str, str] | None = None) -> Path:
    """A bare origin whose main holds a billing repo (settings, client nordlicht, project annual-report)."""
    seed = make_repo(tmp / "seed", {"projects/nordlicht/annual-report.yaml": PROJECT,
                                    ".gitignore": "invoices/.lock\n", **(files or {})})
    git(seed, "init", "-q", "-b", "main")
    commit_all(seed, "Start the annual report")
    bare = tmp / "origin.git"
    git(tmp, "clone", "-q", "--bare", str(seed), str(bare))
    return bare


def clone(bare: Path, dest: Path) -> Path:
    git(bare.parent, "clone", "-q", str(bare), str(dest))
    return dest


def set_status(repo: Path, milestone: str, status: str, done: str | None = "2026-03-02") -> None:
    """Edit the project file the way a person would: change one milestone's status (and completion date)."""
    path = repo / "projects/nordlicht/annual-report.yaml"
    text = path.read_text(encoding="utf-8")
    block_start = text.index(f"  - id: {milestone}\n")
    block_end = text.find("  - id:", block_start + 1)
    block_end = len(text) if block_end < 0 else block_end
    lines = [ln for ln in text[block_start:block_end].splitlines() if not ln.strip().startswith(("status:", "done:"))]
    lines.append(f"    status: {status}")
    if status == "done" and done:
        lines.append(f"    done: {done}")
    path.write_text(text[:block_start] + "\n".join(lines) + "\n" + text[block_end:], encoding="utf-8")


def files_on(bare: Path, rev: str = "main", under: str = "invoices") -> list[str]:
    out = git(bare, "ls-tree", "-r", "--name-only", rev, "--", under)
    return sorted(out.splitlines()) if out else []



def read_all(bare: Path, paths: list[str], rev: str = "main") -> list[str]:
    """The text of many files at `rev` in one `git cat-file --batch` (one process, not one per file)."""
    if not paths:
        return []
    data = subprocess.run(["git", "cat-file", "--batch"], cwd=bare,
                          input="".join(f"{rev}:{p}\n" for p in paths).encode(), capture_output=True, env=env(),
                          check=True).stdout
    texts, pos = [], 0
    for _ in paths:
        end = data.index(b"\n", pos)
        size = int(data[pos:end].split()[2])
        texts.append(data[end + 1:end + 1 + size].decode("utf-8"))
        pos = end + 2 + size
    return texts


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs call git too: give them the sandbox identity, never the machine's global config.
    Autouse in every test module that imports it."""
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)  # in CI: keep the real job summary clean
