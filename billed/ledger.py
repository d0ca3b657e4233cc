"""invoices/: the immutable ledger of issued documents.

Each document is a canonical JSON record `invoices/<year>/<NUMBER>.json` (plus its rendered .html and .pdf). The
record is the commit point: a document exists exactly when its record does, and records are written last, via a
temp file, fsync and rename. Numbers are gapless per series (and per year when numbering resets yearly); records
form a SHA-256 hash chain per series, which `verify` walks to find any edit, deletion, insertion or renumbering.
What one record file must be (its bytes, hash and head) is billed/recordfile.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import marshal
import os
import re
import stat
import struct
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

from billed import cache, storage
from billed.errors import BilledError, Finding, shown
from billed.recordfile import (  # noqa: F401 - also re-exported: callers and tests name them as ledger.X
    _AT,
    _FILES,
    _HASH,
    _ISSUED,
    _PREV,
    _SEQ,
    _SERIES,
    _UNREADABLE,
    _YEAR,
    ABSENT,
    FORMAT,
    HEAD,
    REQUIRED,
    Line,
    _content_problems,
    _fast_forms,
    _no_float,
    _open_read,
    _parse,
    _read_bytes,
    _well_formed,
    canonical,
    digest,
    head_of,
    pretty,
    seal,
    shape_problem,
)

SERIES = ("invoice", "credit_note")
_YEAR_DIR = re.compile(r"^[0-9]{4}$")
_FAULT_ENV = "BILLED_FAULT_AFTER_WRITES"  # test hook: exit hard after N file writes (crash simulation)
_writes = 0


class Record:
    """An issued document: its head (see HEAD) in memory, the whole record read from the file on first use.

    `problems` is what reading it found wrong with its own bytes (filled by `read_ledger`, reported by `verify`).
    """

    __slots__ = ("file", "head", "amounts", "problems", "in_place", "_full")

    def __init__(self, file: str, head: tuple[Any, ...], amounts: tuple[Line, ...],
                 problems: tuple[str, ...] = (), full: dict[str, Any] | None = None) -> None:
        self.file, self.head, self.amounts, self.problems, self._full = file, head, amounts, problems, full
        # stored where it was issued: invoices/<year>/<number>.json (else it was renamed, moved or copied)
        number = str(head[1])
        self.in_place = os.sep not in number and file.endswith(f"{os.sep}{head[3]}{os.sep}{number}.json")

    @classmethod
    def of(cls, data: dict[str, Any], path: Path | str) -> Record:
        fields, lines = head_of(data)
        return cls(str(path), fields, lines, full=data)

    @property
    def path(self) -> Path:
        return Path(self.file)

    @property
    def data(self) -> dict[str, Any]:
        """The whole record, read from its file on first use (render, mail, export, e-invoice) and checked again
        as `verify` checks it: its bytes must be exactly what was issued and match the head this run holds. An
        index hit vouched for the file when the run started, not for what it holds by the time it is read."""
        if self._full is None:
            where = shown(self.file)
            try:
                data, head, amounts, problems = _parse(Path(self.file).read_bytes())
            except _UNREADABLE as exc:
                raise BilledError(f"{where} can no longer be read ({exc}); run `billed check`") from None
            if problems or (head, amounts) != (self.head, self.amounts):
                raise BilledError(f"{where} changed while Billed was running; run `billed check`")
            shape = shape_problem(data)
            if shape is not None:
                raise BilledError(f"{where} is not a record as Billed writes it ({shape}); restore it from git")
            self._full = data
        return self._full

    def __getitem__(self, key: str) -> Any:
        i = _AT.get(key)
        if i is None:
            return self.data[key]
        value = self.head[i]
        if value is ABSENT:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        i = _AT.get(key)
        if i is None:
            return self.data.get(key, default)
        value = self.head[i]
        return default if value is ABSENT else value

    @property
    def number(self) -> str:
        return self.head[1]

    @property
    def key(self) -> str:
        """client/project, as in Project.key."""
        return f"{self.head[5]}/{self.head[6]}"

    @property
    def sign(self) -> int:
        """+1 for invoices, -1 for credit notes: printed amounts times sign are what the client owes."""
        return -1 if self.head[2] == "credit_note" else 1

    def dec(self, key: str) -> Decimal:
        return Decimal(self[key])


@dataclass
class Ledger:
    root: Path
    records: list[Record] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    index: Index | None = None
    memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)  # derived views (engine.settled)
    files_read: int = 0  # record files read this run (the rest came from the index)

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
            groups[rec.key].append(rec)
        return dict(groups)

    def for_project(self, key: str) -> list[Record]:
        return self.by_project.get(key, [])

    # (these scan every record: they read the head tuple directly, ~4x faster than by key at 57,000 records)
    def last(self, series: str) -> Record | None:
        items = [r for r in self.records if r.head[_SERIES] == series]
        return max(items, key=lambda r: (r.head[_YEAR], r.head[_SEQ])) if items else None

    def next_seq(self, series: str, year: int, yearly: bool) -> int:
        seqs = [r.head[_SEQ] for r in self.records
                if r.head[_SERIES] == series and (not yearly or r.head[_YEAR] == year)]
        return max(seqs, default=0) + 1

    def latest(self) -> Record | None:
        """The document with the latest issue date (the highest number on that day)."""
        return max(self.records, key=lambda r: (r.head[_ISSUED], r.head[_YEAR], r.head[_SEQ]), default=None)


Stamp = bytes
Entry = tuple[Stamp, tuple[Any, ...], tuple[Line, ...], bytes]  # stat, head, amounts, SHA-256 of the bytes


# A file changed this recently is not vouched for yet: the kernel stamps times at clock-tick granularity, so a
# same-size rewrite within the same tick would keep the same stat ("racy git"). It is vouched for on a later run.
RACY_NS = 2_000_000_000


def _settled(st: os.stat_result) -> bool:
    return max(st.st_mtime_ns, st.st_ctime_ns) < time.time_ns() - RACY_NS


def _stamp(st: os.stat_result) -> Stamp:
    """What changes whenever a file is written: any write sets ctime, which no user command can set back.
    (Packed: 57,000 tuples of four ints were 11 MB of the index.)"""
    return struct.pack("<qqqq", st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class Index:
    """What earlier runs proved about the files in invoices/, keyed by their stat, the way git's index is.

    A record file whose stat is unchanged since its bytes verified is not read or hashed again: its head comes
    from here. Reading and checking 57,000 record files was ~8 s of a 14 s cached `check` at 10,000 projects
    (bench/README.md). Any write to a file changes its ctime, so an edit, however timed, is a miss and is read and
    checked in full. Lives in the cache folder (billed/cache.py), never in the repo; BILLED_CACHE=0 turns it off.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._old_records: dict[str, Entry] | None = None
        self.records: dict[str, Entry] = {}
        self._old_files: dict[str, tuple[Stamp, str]] | None = None  # read on first use: only `verify` needs it
        self.files: dict[str, tuple[Stamp, str]] = {}
        self.new_records = self.new_files = False

    @property
    def old_records(self) -> dict[str, Entry]:
        if self._old_records is None:
            self._old_records = _load(self.root, "ledger-records")
        return self._old_records

    @property
    def old_files(self) -> dict[str, tuple[Stamp, str]]:
        if self._old_files is None:
            self._old_files = _load(self.root, "ledger-files")
        return self._old_files

    def record(self, rel: str, stamp: Stamp) -> tuple[tuple[Any, ...], tuple[Line, ...]] | None:
        hit = self.old_records.get(rel)
        if hit is None or hit[0] != stamp:
            return None
        self.records[rel] = hit
        return hit[1], hit[2]

    def same_bytes(self, rel: str, stamp: Stamp, raw: bytes,
                   settled: bool) -> tuple[tuple[Any, ...], tuple[Line, ...]] | None:
        """A record whose stat is new but whose bytes are exactly those that verified before (their SHA-256):
        a new checkout, a copy, a touched file. Keeps the index valid across checkouts, so a CI job can restore
        the cache folder (actions/cache) and read each record without parsing or re-encoding it. The new stat is
        kept only once the file is settled (see RACY_NS); until then the entry keeps its old one."""
        hit = self.old_records.get(rel)
        if hit is None or hit[3] != hashlib.sha256(raw).digest():
            return None
        self.records[rel] = (stamp, hit[1], hit[2], hit[3]) if settled else hit
        self.new_records = self.new_records or settled
        return hit[1], hit[2]

    def good_record(self, rel: str, stamp: Stamp, rec: Record, raw: bytes) -> None:
        self.records[rel] = (stamp, rec.head, rec.amounts, hashlib.sha256(raw).digest())
        self.new_records = True

    def file_ok(self, rel: str, stamp: Stamp, sha: str) -> bool:
        hit = self.old_files.get(rel)
        if hit is None or hit != (stamp, sha):
            return False
        self.files[rel] = hit
        return True

    def good_file(self, rel: str, stamp: Stamp, sha: str) -> None:
        self.files[rel] = (stamp, sha)
        self.new_files = True

    def save_records(self) -> None:
        """Keep the entries of the records this run read (pruned to them)."""
        if self.new_records or len(self.records) != len(self.old_records):
            _save(self.root, "ledger-records", self.records)
            self._old_records, self.new_records = dict(self.records), False

    def save_files(self) -> None:
        """Keep the entries of the files this run checked (`verify`; pruned to them)."""
        if self.new_files or len(self.files) != len(self.old_files):
            _save(self.root, "ledger-files", self.files)
            self._old_files, self.new_files = dict(self.files), False


def _save(root: Path, kind: str, entries: dict[str, Any]) -> None:
    """Marshalled, not pickled (entries hold only texts, bytes, tuples and a head's JSON values and ABSENT, which
    is Ellipsis): the records' index took ~0.13 s to write at 10,000 projects where pickle took ~0.24 s, the files'
    ~0.004 s where it took ~0.03 s; marshal keeps the sharing of interned texts and of each `prev` with its
    predecessor's `hash`. The bytes are stored by cache.save_blob, whose code stamp covers Python's version."""
    try:
        stored = marshal.dumps(entries)
    except ValueError:  # (nested beyond marshal's depth: cannot be, a record that deep is unreadable)
        return
    cache.save_blob(root, kind, (zlib.crc32(stored), stored))


def _load(root: Path, kind: str) -> dict[str, Any]:
    """What `_save` stored; anything else (an index of an earlier layout, damage) is no index at all. The bytes
    carry their CRC-32: marshal loads a damaged blob without complaint, and a flipped byte in a head would be a
    false finding or a crash (review of issue 16). (Damage, not an attack: the cache folder is the user's own.)"""
    stored = cache.load_blob(root, kind)
    try:
        crc, blob = stored if isinstance(stored, tuple) and len(stored) == 2 else (None, None)
        value = marshal.loads(blob) if isinstance(blob, bytes) and zlib.crc32(blob) == crc else None
    except (EOFError, ValueError, TypeError):
        value = None
    return value if isinstance(value, dict) else {}


def read_ledger(root: Path) -> Ledger:
    """Every record under invoices/<year>/; unreadable ones become findings, not exceptions.

    A record is read from its file unless the index vouches for it; one that is read is checked at once (its
    hash, its exact bytes), and `verify` reports what that found."""
    ledger = Ledger(root, index=Index(root) if cache.on(root) else None)
    hashes: dict[str, str] = {}  # see head_of
    folder = root / "invoices"
    if not folder.is_dir():
        return ledger
    for year_dir in sorted(folder.iterdir()):
        if not year_dir.is_dir() or not _YEAR_DIR.match(year_dir.name):
            continue
        base = f"{year_dir}{os.sep}"  # (+ name: os.path.join per record was ~0.05 s at 10,000 projects)
        try:
            names = sorted(n for n in os.listdir(year_dir) if n.endswith(".json"))
        except OSError as exc:
            ledger.findings.append(Finding(shown(year_dir), 1, 1, "E060", f"the folder of issued documents "
                                           f"cannot be read ({exc.strerror or exc})", "check its permissions"))
            continue
        year = f"{year_dir.name}/"  # (not a pathlib property per record)
        for name in names:
            rec = _read_record(ledger, base + name, year + name, hashes)
            if rec is not None:
                ledger.records.append(rec)
    if ledger.index is not None:
        ledger.index.save_records()
    # a record under its own name sorts first, so a copy or a renamed file is the one reported, not the original
    ledger.records.sort(key=_ledger_order)
    return ledger


def _ledger_order(rec: Record) -> tuple[Any, ...]:
    """Series, year, number; a record under its own name first. (A record read has all three, see REQUIRED.)"""
    head = rec.head
    return head[_SERIES], head[_YEAR], head[_SEQ], not rec.in_place, rec.file


def _read_record(ledger: Ledger, path: str, rel: str, hashes: dict[str, str]) -> Record | None:
    index = ledger.index
    try:
        if index is not None and rel in index.old_records:  # vouched for by its stat, or by its bytes' hash
            st = os.stat(path)
            stamp = _stamp(st)
            hit = index.record(rel, stamp)
            if hit is not None:
                return Record(path, *hit)
            ledger.files_read += 1
            raw = _read_bytes(path, _regular_size(path, st))
            same = index.same_bytes(rel, stamp, raw, _settled(st))
            if same is not None:
                return Record(path, *same)
        else:  # nothing can vouch for it: read at once, its stat from the open file (see _open_read)
            ledger.files_read += 1
            st, read = _open_read(path)
            raw = _read_bytes(path, _regular_size(path, st)) if read is None else read
            stamp = _stamp(st)
        _, fields, amounts, problems = _parse(raw, hashes)
    except _UNREADABLE as exc:
        ledger.findings.append(Finding(shown(Path(path)), 1, 1, "E060", f"issued record is unreadable ({exc})",
                                       "restore it from git: `git checkout -- invoices/`"))
        return None
    rec = Record(path, fields, amounts, problems)
    if not rec.problems and ledger.index is not None and _settled(st):
        ledger.index.good_record(rel, stamp, rec, raw)
    return rec


def _regular_size(path: str, st: os.stat_result) -> int:
    """The size to read of a record file, which must be a regular file: a folder fails on reading as it always
    did ("Is a directory"); anything else (a FIFO, which would block the read forever, a device such as a link to
    /dev/zero, which would never end) is refused before it is read."""
    if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        raise OSError(f"{shown(Path(path))} is not a regular file")
    return st.st_size


_RESTORE = "issued documents never change; restore the file from git and issue a credit note to correct it"


def verify(ledger: Ledger, yearly: bool) -> list[Finding]:
    """Every sign that an issued document changed: edited bytes, broken chain, gaps, duplicates, renamed files.

    Each series is walked in number order: a record must hash to its own `hash`, be stored byte for byte as Billed
    wrote it, sit under its own name, carry the next number and name the hash of the record before it; the files it
    lists must still hash as issued. The newest record has no successor to vouch for it: deleting it is visible only
    against git (`billed check --base`).
    """
    out = list(ledger.findings)
    index = ledger.index
    if index is None and cache.on(ledger.root):  # the ledger was read by a caller that let its index go (api.load)
        index = Index(ledger.root)
    chains: dict[str, list[Record]] = defaultdict(list)
    for rec in ledger.records:
        chains[rec.head[_SERIES]].append(rec)
    for series, recs in chains.items():
        prev_hash = None
        expected: dict[Any, int] = defaultdict(lambda: 1)
        for rec in recs:  # (the head's fields by position: 57,000 records at 10,000 projects)
            head = rec.head
            seq, prev = head[_SEQ], head[_PREV]
            problems = [f"{rec.number}{p}" for p in rec.problems] if rec.problems else []
            if not rec.in_place:
                problems.append(f"{rec.number} is stored as {rec.path.name} in {rec.path.parent.name}/ (renamed or "
                                "moved)")
            bucket = head[_YEAR] if yearly else None
            if seq < expected[bucket]:
                problems.append(f"{rec.number}: sequence number {seq} is used twice in the {series} series")
            elif seq > expected[bucket]:
                problems.append(f"{rec.number}: numbers {expected[bucket]}..{seq - 1} of the {series} series "
                                "are missing (deleted or renumbered)")
            expected[bucket] = max(expected[bucket], seq + 1)
            if (None if prev is ABSENT else prev) != prev_hash:
                problems.append(f"{rec.number}: hash chain broken (a record before it was deleted, inserted or "
                                "changed)")
            prev_hash = head[_HASH]
            if problems:
                out += [Finding(shown(rec.path), 1, 1, "E060", p, _RESTORE) for p in problems]
            out += _file_findings(rec, index)
    if index is not None:
        index.save_files()
    return sorted(out)


def _file_findings(rec: Record, index: Index | None) -> list[Finding]:
    """The rendered files a record vouches for (skipped for a misplaced record: that is already reported).

    A file whose stat is exactly what it was when it last hashed right is not read again (see Index)."""
    if not rec.in_place:
        return []
    out = []
    files = rec.head[_FILES]
    for kind, sha in (files.items() if files and files is not ABSENT else ()):
        sibling = rec.file[:-len("json")] + kind
        rel = f"{rec.head[_YEAR]}/{rec.number}.{kind}"
        raw = None
        if index is None or rel not in index.old_files:  # nothing can vouch for it: read at once (_open_read)
            try:  # noqa: SIM105 - contextlib.suppress is three Python calls, once per file
                st, raw = _open_read(sibling)
            except OSError:  # missing or unreadable: told apart by the stat below
                pass
        if raw is None:
            try:
                st = os.stat(sibling)
            except OSError:
                st = None
            if st is None or (st.st_mode & 0o170000) != 0o100000:  # missing, or not a regular file
                out.append(Finding(shown(rec.path), 1, 1, "E060", f"{rec.number}.{kind} was deleted",
                                   "restore it from git"))
                continue
            if index is not None and index.file_ok(rel, _stamp(st), sha):
                continue
        try:
            good = hashlib.sha256(_read_bytes(sibling, st.st_size) if raw is None else raw).hexdigest() == sha
        except OSError:  # e.g. made unreadable since its stat
            good = False
        if good:
            if index is not None and _settled(st):
                index.good_file(rel, _stamp(st), sha)
        else:
            out.append(Finding(shown(rec.path), 1, 1, "E060", f"{rec.number}.{kind} was changed after it was "
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:  # e.g. the disk is full: no torn temp file is left behind
        tmp.unlink(missing_ok=True)
        raise storage.full(exc, path) or exc from None
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
        raise BilledError(f"{shown(path)} already exists: an issued record is never overwritten") from None
    except OSError:  # a filesystem without hard links: check, then rename (we hold the issuing lock)
        if path.exists():
            raise BilledError(f"{shown(path)} already exists: an issued record is never overwritten") from None
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
