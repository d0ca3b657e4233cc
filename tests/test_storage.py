"""A full disk (billed/storage.py): a clear error that names the file and its folder, exit 1, and nothing
half-written. Exercised for real on a small tmpfs (needs root to mount; skipped otherwise), and everywhere with a
file size limit (RLIMIT_FSIZE with SIGXFSZ ignored gives EFBIG, the same path through the code)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BILLED, WEBSITE, make_repo, run, snapshot

DATE = "2026-03-01"


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 4 MB tmpfs: room for a repo and its templates, then filled up to the last few kilobytes."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True,
                             check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}); the EFBIG test covers it")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path, leave: int) -> None:
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(disk / "filler", "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


def console(root: Path, *args: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([BILLED, *args], cwd=root, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "BILLED_CACHE": "0"}, preexec_fn=limited if limit else None)


def test_issue_on_a_full_disk_says_so_and_leaves_nothing_half_written(small_disk: Path) -> None:
    root = make_repo(small_disk / "repo", {"projects/nordlicht/web.yaml": WEBSITE})
    fill(small_disk, leave=4096)
    result = console(root, "issue", "--no-pdf", "--date", DATE)
    assert result.returncode == 1, result.stderr
    assert "the disk is full: cannot write invoices/2026/INV-2026-0001." in result.stderr
    assert "df -h invoices/2026" in result.stderr and "Nothing was half-written" in result.stderr
    assert "This is a bug" not in result.stderr and "Traceback" not in result.stderr
    assert not [p.name for p in (root / "invoices/2026").glob("*") if p.suffix in (".tmp", ".json")]
    (small_disk / "filler").unlink()
    again = console(root, "issue", "--no-pdf", "--date", DATE)  # once there is room, the plan completes
    assert again.returncode == 0, again.stderr
    assert run(root, "verify").code == 0


def test_a_payment_on_a_full_disk_is_not_half_appended(small_disk: Path) -> None:
    root = make_repo(small_disk / "repo", {"projects/nordlicht/web.yaml": WEBSITE})
    assert console(root, "issue", "--no-pdf", "--date", DATE).returncode == 0
    assert console(root, "pay", "INV-2026-0001", "100.00", "--date", DATE).returncode == 0
    before = snapshot(root / "payments")
    fill(small_disk, leave=0)
    result = console(root, "pay", "INV-2026-0001", "200.00", "--date", DATE, "--reference", "x" * 9000)
    assert result.returncode == 1 and "the disk is full: cannot write payments/2026.yaml" in result.stderr
    assert snapshot(root / "payments") == before


def test_a_file_size_limit_is_reported_like_a_full_disk(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": WEBSITE})
    result = console(root, "issue", "--no-pdf", "--date", DATE, limit=2_000)  # the HTML is larger than this
    assert result.returncode == 1, result.stderr
    assert ("the file size limit was reached: cannot write invoices/2026/INV-2026-0001.html (on the filesystem "
            "holding invoices/2026/, `df -h invoices/2026` shows it). Nothing was half-written") in result.stderr
    assert "This is a bug" not in result.stderr and "Traceback" not in result.stderr
    assert list((root / "invoices/2026").iterdir()) == []  # no torn temp file, no record
    assert console(root, "issue", "--no-pdf", "--date", DATE).returncode == 0


def test_a_full_temp_folder_while_rendering_is_reported_too(tmp_path: Path) -> None:
    """weasyprint writes the fonts it loads to a temp file: a full /tmp surfaces there, with no file name."""
    root = make_repo(tmp_path / "repo", {"projects/nordlicht/web.yaml": WEBSITE})
    result = console(root, "issue", "--date", DATE, limit=20_000)
    assert result.returncode == 1, result.stderr
    assert "the file size limit was reached: a file could not be written (perhaps a temporary one in" in result.stderr
    assert "This is a bug" not in result.stderr and "Traceback" not in result.stderr
    assert not list(root.glob("invoices/2026/*.json"))
