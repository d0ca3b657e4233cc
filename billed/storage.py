"""Writing when the disk may be full: every write is all or nothing, and a full disk is a clear error that says
where, never "This is a bug in Billed".

A full disk (ENOSPC), an exhausted quota (EDQUOT) or a file size limit (EFBIG) is the machine's state, not bad
data and not a bug: it is reported in one line (exit 1) naming the file and its folder. Nothing is left
half-written: new files go through a temp file that is removed on failure (ledger.atomic_write), and appends
(payments, the send log) are cut back to their old size.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from billed.errors import BilledError, shown

FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class DiskFull(BilledError):
    """No room to write: the disk, a quota or a file size limit."""


def full(exc: OSError, path: Path | str | None = None) -> DiskFull | None:
    """A DiskFull naming `path` (or the file the error names) when `exc` is a full disk; None otherwise."""
    if exc.errno not in FULL:
        return None
    why = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
           errno.EFBIG: "the file size limit was reached"}[exc.errno]
    name = path or exc.filename
    if name:
        folder = shown(Path(name).parent)
        where = f"cannot write {shown(Path(name))} (on the filesystem holding {folder}/, `df -h {folder}` shows it)"
    else:  # a library's own temp file (weasyprint writes fonts there)
        tmp = tempfile.gettempdir()
        where = f"a file could not be written (perhaps a temporary one in {tmp}; `df -h {tmp} .` shows both)"
    return DiskFull(f"{why}: {where}. Nothing was half-written: free some space and run the command again")


def append_exactly(path: Path, data: bytes) -> None:
    """Append all of `data` and fsync it, or nothing: a partial append is cut back to the file's old size, so
    earlier bytes are never rewritten and a torn entry is never left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            os.ftruncate(fd, size)
            raise full(exc, path) or exc from None
    finally:
        os.close(fd)


