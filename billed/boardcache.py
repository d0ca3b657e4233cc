"""A dashboard board kept across processes, in Billed's cache folder (billed/cache.py), beside the parsed files.

Building the owner's board of a 10,000-project repo loads the whole repo and derives ~170,000 views from it
(~6 s CPU); reading the stored board back is ~1 s. A board is stored under its audience (the owner, or one client)
and keyed on everything it was computed from: the repo's fingerprint (`api.fingerprint`, the stat of every file
`load` reads, as the dashboard's in-memory cache already trusts it), the day, the working directory (findings
name their files relative to it) and the source of all of Billed.
It is stored only once every one of those files is older than the racy window (ledger.RACY_NS): a file written
within it could change again without its stat changing. BILLED_CACHE=0 turns it off with the rest of the cache.

The views pickle with amounts as text and days as ordinals (the reducers at the end): pickling
~500,000 Decimals and dates one by one was most of storing a board. Decimal(str(x)) is x exactly, exponent
included.
"""

from __future__ import annotations

import contextlib
import copyreg
import datetime as dt
import functools
import io
import os
import pickle
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from billed import cache, gcpolicy
from billed import ledger as ledger_mod

LISTS = ("projects", "invoices", "payments", "findings")  # a board's long lists, pickled in chunks
CHUNK = 2000


def no_gc() -> contextlib.AbstractContextManager[None]:
    """Python's cyclic collector off while a board is built or read back: it only allocates, and each collection
    walked the whole loaded state again (~1.2 s of a 3.2 s board at 10,000 projects). See billed/gcpolicy.py:
    what was allocated is frozen only in a short-lived process, never in the dashboard's."""
    return gcpolicy.paused()


class Stamp(NamedTuple):
    """A repo's fingerprint as a board is keyed on it: its digest, and the latest mtime or ctime in it. (The
    fingerprint itself, 71,000 tuples at 10,000 projects, was ~22 MB kept as the key of every cached board.)"""

    digest: bytes
    newest: int

    @classmethod
    def of(cls, fingerprint: tuple) -> Stamp:
        return cls(cache.key(pickle.dumps(fingerprint, protocol=pickle.HIGHEST_PROTOCOL)),
                   max((max(f[3], f[4]) for f in fingerprint), default=0))


def read(root: Path, stamp: Stamp, on: dt.date, client: str | None) -> Any:
    """The stored board for exactly this fingerprint, day and audience, or None."""
    with no_gc():
        stored = cache.load_blob(root, _kind(client))
        if isinstance(stored, tuple) and len(stored) == 2 and stored[0] == _key(stamp, on, client):
            try:
                return _unpack(stored[1])
            except Exception:  # noqa: BLE001 - as billed/cache.py: a damaged cache is simply no cache
                return None
    return None


def write(root: Path, stamp: Stamp, on: dt.date, client: str | None, board: Any) -> None:
    """Store the board (replacing the audience's board of another day or fingerprint) once its files settled.
    Never fails the page: a board that cannot be stored is built again next time."""
    if cache.on(root) and stamp.newest < time.time_ns() - ledger_mod.RACY_NS:
        try:
            packed = _pack(board)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return
        cache.save_blob(root, _kind(client), (_key(stamp, on, client), packed))


def _kind(client: str | None) -> str:
    return "board" if client is None else f"board-{cache.key(client).hex()[:16]}"


def _key(stamp: Stamp, on: dt.date, client: str | None) -> bytes:
    """The working directory too: the owner's findings name their files relative to it (repo.shown)."""
    return cache.key(_code(), stamp.digest, on.isoformat(), "" if client is None else f"client:{client}",
                     os.getcwd())


@functools.cache
def _code() -> bytes:
    """Every source of the package (a board is computed by most of it) and the Python running it."""
    here = Path(__file__).resolve().parent
    parts = [sys.version.encode()]
    for path in sorted(here.rglob("*.py")):
        parts += [str(path.relative_to(here)).encode(), path.read_bytes()]
    return cache.key(*parts)


def _pack(board: Any) -> tuple[bytes, dict[str, list[bytes]]]:
    """A board as pickles of at most CHUNK items each: one pickle of a 10,000-project board held a memo of every
    object in it to the end (~300 MB more at the peak)."""
    with no_gc():
        head = pickle.dumps(replace(board, **{k: [] for k in LISTS}), protocol=pickle.HIGHEST_PROTOCOL)
        return head, {k: [_dumps(items[i:i + CHUNK]) for i in range(0, len(items), CHUNK)]
                      for k in LISTS if (items := getattr(board, k))}


def _dumps(items: list[Any]) -> bytes:
    from billed import views  # (views imports this module)

    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, views.Totals: _totals, views.InvoiceView: _invoice,
                              views.MilestoneView: _milestone, views.ProjectView: _project}
    pickler.dump(items)
    return out.getvalue()


def _unpack(packed: tuple[bytes, dict[str, list[bytes]]]) -> Any:
    head, chunks = packed
    board = pickle.loads(head)
    for name, parts in chunks.items():
        setattr(board, name, [item for part in parts for item in pickle.loads(part)])
    return board


# --- the views, as stored: amounts as text, days as ordinals ----------------------------------------------------


def _totals(t: Any) -> tuple[Any, tuple]:
    return totals, (type(t), t.currency, str(t.contract), str(t.done), str(t.invoiced), str(t.billed), str(t.paid),
                    str(t.remaining), str(t.outstanding), str(t.overdue), str(t.credit))


def totals(cls: type, currency: str, *amounts: str) -> Any:
    return cls(currency, *map(Decimal, amounts))


def _invoice(i: Any) -> tuple[Any, tuple]:
    return invoice_view, (type(i), i.number, i.title, i.client, i.project, i.project_title, i.issue_date.toordinal(),
                          i.due_date and i.due_date.toordinal(), i.currency, str(i.net), str(i.total), i.state,
                          None if i.paid is None else str(i.paid), i.pdf_file, i.html_file, str(i.balance),
                          i.days_overdue, i.pay_url)


def invoice_view(cls: type, number: str, title: str, client: str, project: str, project_title: str, issued: int,
                 due: int | None, currency: str, net: str, total: str, state: str, paid: str | None,
                 pdf: str | None, html: str | None, balance: str, late: int, url: str | None) -> Any:
    return cls(number, title, client, project, project_title, dt.date.fromordinal(issued), _day(due), currency,
               Decimal(net), Decimal(total), state, None if paid is None else Decimal(paid), pdf, html,
               Decimal(balance), late, url)


def _milestone(m: Any) -> tuple[Any, tuple]:
    return milestone_view, (type(m), m.id, m.title, m.status, m.lane, str(m.amount), m.due and m.due.toordinal(),
                            m.done and m.done.toordinal(), m.final, str(m.invoiced), m.documents, m.payment)


def milestone_view(cls: type, mid: str, title: str, status: str, lane: str, amount: str, due: int | None,
                   done: int | None, final: bool, invoiced: str, documents: tuple[str, ...], payment: str) -> Any:
    return cls(mid, title, status, lane, Decimal(amount), _day(due), _day(done), final, Decimal(invoiced),
               documents, payment)


def _project(p: Any) -> tuple[Any, tuple]:
    return project_view, (type(p), p.key, p.client, p.client_name, p.title, p.description, p.currency,
                           p.start.toordinal(), str(p.deposit), p.deposit_documents, p.totals, str(p.progress),
                           p.milestones)


def project_view(cls: type, key: str, client: str, client_name: str, title: str, description: str, currency: str,
                 start: int, deposit: str, deposit_documents: tuple[str, ...], sums: Any, progress: str,
                 milestones: tuple[Any, ...]) -> Any:
    return cls(key, client, client_name, title, description, currency, dt.date.fromordinal(start),
               Decimal(deposit), deposit_documents, sums, Decimal(progress), milestones)


def _day(ordinal: int | None) -> dt.date | None:
    return dt.date.fromordinal(ordinal) if ordinal else None
