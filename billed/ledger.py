"""invoices/: the immutable ledger of issued documents.

Each document is a canonical JSON record `invoices/<year>/<NUMBER>.json` (plus its rendered .html and .pdf). The
record is the commit point: a document exists exactly when its record does, and records are written last, via a
temp file, fsync and rename. Numbers are gapless per series (and per year when numbering resets yearly); records
form a SHA-256 hash chain per series, which `verify` walks to find any edit, deletion, insertion or renumbering.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from billed import cache
from billed.errors import BilledError, Finding

FORMAT = 1
SERIES = ("invoice", "credit_note")
_YEAR_DIR = re.compile(r"^[0-9]{4}$")
_FAULT_ENV = "BILLED_FAULT_AFTER_WRITES"  # test hook: exit hard after N file writes (crash simulation)
_writes = 0


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes that are hashed: sorted keys, no whitespace, UTF-8; the `hash` field itself left out."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pretty(record: dict[str, Any]) -> bytes:
    """The exact bytes of a record file: any other byte in the file is tampering."""
    return (json.dumps(record, sort_keys=True, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def seal(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "hash": digest(canonical(record))}


@dataclass(frozen=True)
class Record:
    """An issued document as read back from disk."""

    data: dict[str, Any]
    path: Path

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def number(self) -> str:
        return self.data["number"]

    @property
    def sign(self) -> int:
        """+1 for invoices, -1 for credit notes: printed amounts times sign are what the client owes."""
        return -1 if self.data["series"] == "credit_note" else 1

    @property
    def in_place(self) -> bool:
        """Stored where it was issued: invoices/<year>/<number>.json (else it was renamed, moved or copied)."""
        return self.path.name == f"{self.number}.json" and self.path.parent.name == str(self.data["year"])

    def dec(self, key: str) -> Decimal:
        return Decimal(self.data[key])


@dataclass
class Ledger:
    root: Path
    records: list[Record] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    # Indexes built once per ledger (records are only appended while reading): per-project or per-number
    # lookups in a loop over 10,000 projects would otherwise rescan every record each time.
    @cached_property
    def by_number(self) -> dict[str, Record]:
        return {r.number: r for r in self.records}

    @cached_property
    def by_project(self) -> dict[str, list[Record]]:
        """client/project -> its records, in ledger order."""
        groups: dict[str, list[Record]] = defaultdict(list)
        for rec in self.records:
            groups[f"{rec['client']}/{rec['project']}"].append(rec)
        return dict(groups)

    def for_project(self, key: str) -> list[Record]:
        return self.by_project.get(key, [])

    def last(self, series: str) -> Record | None:
        items = [r for r in self.records if r["series"] == series]
        return max(items, key=lambda r: (r["year"], r["seq"])) if items else None

    def next_seq(self, series: str, year: int, yearly: bool) -> int:
        seqs = [r["seq"] for r in self.records if r["series"] == series and (not yearly or r["year"] == year)]
        return max(seqs, default=0) + 1


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover
        return str(path)


def read_ledger(root: Path) -> Ledger:
    """Every record under invoices/<year>/; unreadable ones become findings, not exceptions."""
    ledger = Ledger(root)
    folder = root / "invoices"
    if not folder.is_dir():
        return ledger
    for year_dir in sorted(folder.iterdir()):
        if not year_dir.is_dir() or not _YEAR_DIR.match(year_dir.name):
            continue
        for path in sorted(year_dir.glob("*.json")):
            try:
                data = json.loads(path.read_bytes().decode("utf-8"))
                if not isinstance(data, dict) or data.get("billed") != FORMAT:
                    raise ValueError("not a Billed record")
                for key in ("number", "series", "year", "seq", "client", "project", "lines", "hash"):
                    data[key]  # noqa: B018 - presence check
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                ledger.findings.append(Finding(_shown(path), 1, 1, "E060", f"issued record is unreadable ({exc})",
                                               "restore it from git: `git checkout -- invoices/`"))
                continue
            ledger.records.append(Record(data, path))
    # a record under its own name sorts first, so a copy or a renamed file is the one reported, not the original
    ledger.records.sort(key=lambda r: (r["series"], r["year"], r["seq"], not r.in_place, r.path.name))
    return ledger


_RESTORE = "issued documents never change; restore the file from git and issue a credit note to correct it"


def verify(ledger: Ledger, yearly: bool) -> list[Finding]:
    """Every sign that an issued document changed: edited bytes, broken chain, gaps, duplicates, renamed files.

    Each series is walked in number order: a record must hash to its own `hash`, be stored byte for byte as Billed
    wrote it, sit under its own name, carry the next number and name the hash of the record before it; the files it
    lists must still hash as issued. The newest record has no successor to vouch for it: deleting it is visible only
    against git (`billed check --base`).
    """
    out = list(ledger.findings)
    seen = cache.store(ledger.root, "verified")
    chains: dict[str, list[Record]] = defaultdict(list)
    for rec in ledger.records:
        chains[rec["series"]].append(rec)
    for series, recs in chains.items():
        prev_hash = None
        expected: dict[Any, int] = defaultdict(lambda: 1)
        for rec in recs:
            problems = _content_problems(rec, seen)
            bucket = rec["year"] if yearly else None
            if rec["seq"] < expected[bucket]:
                problems.append(f"{rec.number}: sequence number {rec['seq']} is used twice in the {series} series")
            elif rec["seq"] > expected[bucket]:
                problems.append(f"{rec.number}: numbers {expected[bucket]}..{rec['seq'] - 1} of the {series} series "
                                "are missing (deleted or renumbered)")
            expected[bucket] = max(expected[bucket], rec["seq"] + 1)
            if rec.get("prev") != prev_hash:
                problems.append(f"{rec.number}: hash chain broken (a record before it was deleted, inserted or "
                                "changed)")
            prev_hash = rec["hash"]
            out += [Finding(_shown(rec.path), 1, 1, "E060", p, _RESTORE) for p in problems]
            out += _file_findings(rec, seen)
    cache.flush(ledger.root)
    return sorted(out)


def _content_problems(rec: Record, seen: cache.Store | None = None) -> list[str]:
    """The record's own integrity: its hash, its exact bytes, its place. Bytes that passed before (a content-hash
    cache hit) pass again without re-serialising the record, which was ~20% of `check` at 10,000 projects."""
    problems = []
    raw = rec.path.read_bytes()
    key = cache.key(b"record", raw) if seen is not None else b""
    if seen is not None and seen.get(key):
        pass
    elif digest(canonical(rec.data)) != rec["hash"]:
        problems.append(f"{rec.number} was edited after it was issued (its hash does not match)")
    elif raw != pretty(rec.data):
        problems.append(f"{rec.number}: the file's bytes were changed after it was issued")
    elif seen is not None:
        seen.put(key, True)
    if not rec.in_place:
        problems.append(f"{rec.number} is stored as {rec.path.name} in {rec.path.parent.name}/ (renamed or moved)")
    return problems


def _file_findings(rec: Record, seen: cache.Store | None = None) -> list[Finding]:
    """The rendered files a record vouches for (skipped for a misplaced record: that is already reported).

    Re-hashing every HTML and PDF was ~25% of a cached `check` at 10,000 projects, so a file whose inode, size,
    mtime and ctime are exactly those it had when it last hashed right is not read again (git's index trusts the
    same). Any write to the file changes its ctime, which no user command can set back."""
    if not rec.in_place:
        return []
    out = []
    for kind, sha in (rec.get("files") or {}).items():
        sibling = rec.path.with_suffix("." + kind)
        try:
            st = os.stat(sibling)
        except OSError:
            st = None
        key = cache.key(b"file", str(sibling), sha, repr((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))) \
            if st is not None and seen is not None else b""
        if st is None or (st.st_mode & 0o170000) != 0o100000:  # missing, or not a regular file
            out.append(Finding(_shown(rec.path), 1, 1, "E060", f"{rec.number}.{kind} was deleted",
                               "restore it from git"))
        elif key and seen.get(key):
            continue
        elif digest(sibling.read_bytes()) == sha:
            if key:
                seen.put(key, True)
        else:
            out.append(Finding(_shown(rec.path), 1, 1, "E060", f"{rec.number}.{kind} was changed after it was "
                               "issued", "restore it from git"))
    return out


def _fault_point() -> None:
    """Crash simulation for tests: with BILLED_FAULT_AFTER_WRITES=N the process dies after its N-th write."""
    global _writes
    limit = os.environ.get(_FAULT_ENV)
    if limit is None:
        return
    _writes += 1
    if _writes >= int(limit):
        os._exit(75)


def atomic_write(path: Path, data: bytes, exclusive: bool = False) -> None:
    """Write-to-temp, fsync, rename, fsync the folder: the file is either absent or complete, never torn.

    `exclusive` (records) links the temp file into place instead of renaming it, which fails if the target
    exists: an issued record can never be overwritten, whatever bug or race got us here.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    if exclusive:
        try:
            _link_new(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    else:
        os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    _fault_point()


def _link_new(tmp: Path, path: Path) -> None:
    """Put `tmp` in place as `path` only if `path` does not exist (atomically where hard links work)."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise BilledError(f"{_shown(path)} already exists: an issued record is never overwritten") from None
    except OSError:  # a filesystem without hard links: check, then rename (we hold the issuing lock)
        if path.exists():
            raise BilledError(f"{_shown(path)} already exists: an issued record is never overwritten") from None
        os.replace(tmp, path)


def safe_target(invoices: Path, year: int, number: str, suffix: str) -> Path:
    """The file for a document, guaranteed inside invoices/ (numbers are checked, but never trust a path)."""
    target = (invoices / str(year) / f"{number}.{suffix}").resolve()
    if invoices.parent.resolve() / invoices.name not in target.parents:  # invoices/ itself may be a symlink
        raise BilledError(f"refusing to write outside invoices/: {target} (is invoices/ or a year folder a "
                          "symlink?)")
    return target


def clean_orphans(invoices: Path) -> None:
    """Rendered files or temp files left by an interrupted run have no record, so they were never issued."""
    if not invoices.is_dir():
        return
    for year_dir in invoices.iterdir():
        if not year_dir.is_dir() or not _YEAR_DIR.match(year_dir.name):
            continue
        for path in year_dir.iterdir():
            orphan_render = path.suffix in (".html", ".pdf", ".xml") and not path.with_suffix(".json").exists()
            if orphan_render or path.name.endswith(".tmp"):
                path.unlink()


@contextlib.contextmanager
def locked(invoices: Path) -> Iterator[None]:
    """One issuing run per checkout at a time (runs in other clones are serialised by git push, see git.py).

    A symlinked invoices/ or year folder (git can commit one) would send writes, and orphan clean-up, outside the
    repo: refused before anything is touched."""
    links = [invoices] + (list(invoices.iterdir()) if invoices.is_dir() else [])
    if any(p.is_symlink() for p in links):  # .lock too: opening it for writing would truncate the link's target
        raise BilledError(f"refusing to issue: {invoices} or a folder in it is a symlink; documents must stay in "
                          "the repo's own invoices/ folder")
    invoices.mkdir(parents=True, exist_ok=True)
    with open(invoices / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
