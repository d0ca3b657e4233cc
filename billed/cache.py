"""A content-hash cache of parsed and checked YAML files, and the store of the ledger's index.

Measured at 10,000 projects (bench/README.md): YAML composition and jsonschema validation were ~45% of `billed
check`, and redo identical work on files that did not change since the last run. Entries are keyed by a SHA-1 of
the exact file content (plus the shown path and schema, which appear in findings), never by mtime, so an edit,
however small or however timed, is a miss. billed.yaml is kept parsed and validated ("docs"); client and project
files as built and checked with their findings ("clients", "projects": keyed also by the settings, the client and
the invoiced shares they were built with, see repo._client and repo._project), an unchanged project file found by
its stat ("stamps"). Every stored value is
stamped with the source of the code that produced it (Billed's modules, the schemas, library versions), so a new
Billed never trusts an old entry. The ledger's index of verified files (`ledger.Index`, keyed by stat the way
git's index is) is kept here as whole values (`load_blob`, `save_blob`).

The cache lives outside the repo (`$XDG_CACHE_HOME/billed/`, or BILLED_CACHE_DIR), one folder per repo, so
Billed still writes nothing inside a repo it only reads. It is only ever an accelerator: unreadable, stale or
foreign cache files are ignored, a failed write is ignored, and BILLED_CACHE=0 turns it off. Entries are admitted
on second sight: the first load of a repo by a cache only makes its folder (`begin`), so a CI job on a fresh
clone, which never reads what it would write, writes nothing.
"""

from __future__ import annotations

import contextlib
import copyreg
import hashlib
import importlib.util
import io
import os
import pickle
import sys
import tempfile
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any

from billed.resources import toolkit_dir

FORMAT = b"billed-cache-1"
_STARTED = time.time_ns()  # when this module, and with it Billed's code, was imported (see _code_stamp)


def enabled() -> bool:
    return os.environ.get("BILLED_CACHE", "1") != "0"


# Cache folders of repos seen for the first time by this process's latest load: nothing is read or written there
# during that load (see `begin`).
_first: set[Path] = set()


def begin(root: Path) -> None:
    """Called as a load starts (api.load). A repo whose cache folder does not exist yet is being loaded for the
    first time with this cache: the folder is made, and nothing else is written in this load, exactly as with
    BILLED_CACHE=0; entries are written from the next load on (admission on second sight). A CI job on a fresh
    clone runs `check` or `issue` once on a cache nobody reads again (the office's workflows do not restore it:
    docs/office.md), and writing it was ~15% of its time (bench/README.md). A developer's second run builds and
    writes the cache, the third reads it."""
    if not enabled():
        return
    folder = _folder(root)
    if folder.is_dir():
        _first.discard(folder)
        return
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
    _first.add(folder)


def on(root: Path) -> bool:
    """Whether this load may read and write the repo's cache: enabled, and not its first sight (`begin`)."""
    return enabled() and (not _first or _folder(root) not in _first)


@cache
def _code_stamp() -> bytes | None:
    """What the cached values were computed by: Billed's own modules (projects are cached as built and checked,
    so the model, the rules and every module they use count), the schemas, the libraries whose verdicts are kept,
    and Python. Read from the files on first use; None when one of them changed after this process imported
    Billed (an upgrade under a running dashboard): the files would then name code this process does not run,
    and what it computed would be trusted by the new Billed. With None nothing is read or written."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha1(FORMAT + sys.version.encode())
    h.update(_library_versions().encode())
    for name, path in [*((str(p.relative_to(here)), p) for p in sorted(here.rglob("*.py"))),  # api/ too
                       *((p.name, p) for p in sorted(toolkit_dir("schemas").glob("*.json")))]:
        try:
            with open(path, "rb") as handle:
                st = os.fstat(handle.fileno())
                h.update(name.encode() + handle.read())
        except OSError:
            continue
        if max(st.st_mtime_ns, st.st_ctime_ns) > _STARTED:
            return None
    return h.digest()


def _library_versions() -> str:
    """The installed releases of the libraries whose results are cached (parses, schema verdicts and messages), as
    the names of their dist-info folders. (importlib.metadata would do, but importing it costs ~50 ms, a tenth of
    a small `billed check`; this reads one folder listing per library and imports none of them.)"""
    names = []
    for module, dist in (("yaml", "pyyaml-"), ("jsonschema", "jsonschema-"), ("jsonschema_rs", "jsonschema_rs-"),
                         ("babel", "babel-"), ("stdnum", "python_stdnum-"), ("email_validator", "email_validator-")):
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            names.append(f"{module}:absent")
            continue
        site = Path(spec.origin).resolve().parents[1]
        with contextlib.suppress(OSError):
            names += sorted(n for n in os.listdir(site) if n.lower().startswith(dist) and n.endswith(".dist-info"))
    return "|".join(names)


def _folder(root: Path) -> Path:
    base = os.environ.get("BILLED_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "billed")
    return Path(base) / hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:20]


class Store:
    """key -> pickled value, read once per process and rewritten (pruned to what this run used) on flush."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.old: dict[bytes, bytes] = {}
        self.used: dict[bytes, bytes] = {}
        self.dirty = False
        self._out = io.BytesIO()
        self._pickler = pickle.Pickler(self._out, protocol=pickle.HIGHEST_PROTOCOL)
        self._pickler.dispatch_table = _PLAIN  # type: ignore[attr-defined]
        try:
            with open(path, "rb") as handle:
                stamp, table = pickle.load(handle)
            if stamp is not None and stamp == _code_stamp() and isinstance(table, dict):
                self.old = table
        except Exception:  # noqa: BLE001 - any unreadable cache is simply no cache
            self.old = {}

    def get(self, key: bytes) -> Any:
        blob = self.used.get(key) or self.old.get(key)
        if blob is None:
            return None
        self.used[key] = blob
        return pickle.loads(blob)

    def put(self, key: bytes, value: Any) -> None:
        """Pickled now (a later change to `value` is not stored): the bytes of pickle.dumps, made faster for the
        classes of `plain_state`."""
        out = self._out
        out.seek(0)
        out.truncate()
        try:
            self._pickler.dump(value)
        finally:
            self._pickler.clear_memo()
        self.used[key] = out.getvalue()
        self.dirty = True

    def flush(self) -> None:
        """Write when something was added or a third of the entries went stale; never fail the command."""
        if not self.dirty and len(self.used) * 3 >= len(self.old) * 2:
            return
        stamp = _code_stamp()
        if stamp is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                pickle.dump((stamp, self.used), handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
            self.old, self.dirty = dict(self.used), False
        except OSError:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)


_PLAIN: dict[type, Any] = {}  # class -> its reducer (see plain_state)


def _newobj(value: Any) -> Any:
    return copyreg.__newobj__, (type(value),), value.__dict__


def plain_state(*classes: type) -> None:
    """Pickle instances of these classes (frozen dataclasses of the model, 100,000 milestones at 10,000 projects)
    by a reducer that says what object.__reduce_ex__ says for them (NEWOBJ, then the instance dict) without its
    failed lookups of __getnewargs_ex__ and __getnewargs__: the same bytes (tests/test_cache.py), ~15% less time.
    A class with any pickling of its own (slots, __getstate__, __reduce__, __getnewargs__) keeps pickle's way."""
    for cls in classes:
        if (cls.__reduce_ex__ is object.__reduce_ex__ and cls.__reduce__ is object.__reduce__
                and getattr(cls, "__getstate__", object.__getstate__) is object.__getstate__
                and not any(hasattr(cls, name) for name in ("__slots__", "__getnewargs_ex__", "__getnewargs__"))):
            _PLAIN[cls] = _newobj


_local = threading.local()  # one registry per thread: the dashboard loads repos from concurrent sessions


def _stores() -> dict[tuple[Path, str], Store]:
    if not hasattr(_local, "stores"):
        _local.stores = {}
    return _local.stores


def store(root: Path, kind: str) -> Store | None:
    if not on(root):
        return None
    stores = _stores()
    key = (root, kind)
    if key not in stores:
        stores[key] = Store(_folder(root) / f"{kind}.pickle")
    return stores[key]


def flush(root: Path) -> None:
    """Write and forget the repo's stores: the next load reads the file again (another process may have written
    it, and a long-running dashboard must not keep every entry it ever saw). Files are replaced atomically, so
    two threads or processes flushing at once leave one complete cache."""
    stores = _stores()
    for (r, kind), s in list(stores.items()):
        if r == root:
            s.flush()
            del stores[(r, kind)]


def load_blob(root: Path, kind: str) -> Any:
    """One whole pickled value (the ledger index), or None when there is none this code can trust."""
    if not on(root):
        return None
    try:
        with open(_folder(root) / f"{kind}.pickle", "rb") as handle:
            stamp, value = pickle.load(handle)
    except Exception:  # noqa: BLE001 - any unreadable cache is simply no cache
        return None
    return value if stamp is not None and stamp == _code_stamp() else None


OBSOLETE = ("verified.pickle", "ledger.pickle")  # files of earlier cache layouts, removed when a blob is saved


def save_blob(root: Path, kind: str, value: Any) -> None:
    """Replace the value atomically (two processes saving at once leave one complete file); never fail."""
    stamp = _code_stamp() if on(root) else None
    if stamp is None:
        return
    folder = _folder(root)
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in OBSOLETE:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(folder / name)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump((stamp, value), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / f"{kind}.pickle")
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def key(*parts: str | bytes) -> bytes:
    h = hashlib.sha1()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big") + data)
    return h.digest()
