"""What the dashboard shows, as plain data: portfolio totals, project boards, invoices, chart series.

No Streamlit here, so every figure on screen is unit-tested. A view is built for one audience: the owner (all
clients) or one client (`client=...`), and a client's view is built only from that client's projects and records,
so nothing of another client can leak into it by a filtering slip later on. Amounts stay Decimal; contract, done,
invoiced and remaining are net (as `billed status`), billed/paid/outstanding are gross (what the client pays).
Totals are kept per currency and never summed across currencies.

Loading is cached on a cheap fingerprint of the repo (the stat of every YAML/JSON file Billed reads), so a
dashboard rerun costs a few hundred stats until a file actually changes; each audience's board is also kept in
Billed's cache folder under that fingerprint and its day (billed/boardcache.py), so a new process reads it back.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from billed import api, boardcache, money
from billed import git as git_mod
from billed import history as history_mod
from billed import ledger as ledger_mod
from billed import payments as payments_mod
from billed.render import title as document_title

LANES = {"done": "done", "in_progress": "in progress", "planned": "upcoming", "cancelled": "cancelled"}
NO_DATE = "no date"
AMOUNTS = ("contract", "done", "invoiced", "billed", "paid", "remaining", "outstanding", "overdue", "credit")
STATES = ("open", "partially paid", "overdue", "paid", "credited")  # document states, as the dashboard filters


@dataclass(frozen=True, slots=True)
class Totals:
    """One currency's figures for a scope (portfolio, client or project), as `billed status` computes them."""

    currency: str
    contract: Decimal = money.ZERO
    done: Decimal = money.ZERO
    invoiced: Decimal = money.ZERO  # net, credit notes subtracted
    billed: Decimal = money.ZERO  # gross of the same documents
    paid: Decimal = money.ZERO  # gross, from the payments ledger
    remaining: Decimal = money.ZERO  # contract - invoiced
    outstanding: Decimal = money.ZERO  # gross still owed on open documents
    overdue: Decimal = money.ZERO  # the part of outstanding past its due date
    credit: Decimal = money.ZERO  # owed to the client: overpayments and unapplied credit notes

    def __add__(self, other: Totals) -> Totals:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Totals(self.currency, *(getattr(self, k) + getattr(other, k) for k in AMOUNTS))


@dataclass(frozen=True, slots=True)
class InvoiceView:
    number: str
    title: str  # "Invoice", "Credit note", ...
    client: str
    project: str  # client/project key
    project_title: str
    issue_date: dt.date
    due_date: dt.date | None
    currency: str
    net: Decimal  # signed: negative for credit notes
    total: Decimal  # signed gross
    state: str  # open, partially paid, overdue, paid, credited (api.document_states)
    paid: Decimal | None
    pdf_file: str | None  # its files, when they exist (plain strings: Path objects for 57,000 records were ~1 s)
    html_file: str | None
    balance: Decimal = money.ZERO  # still to pay (gross), what a pay button asks for
    days_overdue: int = 0
    pay_url: str | None = None  # only while something is still to pay


    @property
    def pdf(self) -> Path | None:
        return Path(self.pdf_file) if self.pdf_file else None

    @property
    def html(self) -> Path | None:
        return Path(self.html_file) if self.html_file else None


@dataclass(frozen=True, slots=True)
class MilestoneView:
    id: str
    title: str
    status: str
    lane: str
    amount: Decimal
    due: dt.date | None
    done: dt.date | None
    final: bool
    invoiced: Decimal
    documents: tuple[str, ...]
    payment: str  # the payment state of the documents it was billed on, "" when not billed



@dataclass(frozen=True, slots=True)
class ProjectView:
    key: str
    client: str
    client_name: str
    title: str
    description: str
    currency: str
    start: dt.date
    deposit: Decimal
    deposit_documents: tuple[str, ...]
    totals: Totals
    progress: Decimal  # value delivered: done / contract, 0..1
    milestones: tuple[MilestoneView, ...]


@dataclass
class Board:
    """Everything one audience may see, as of one day."""

    on: dt.date
    locale: str
    seller: str
    client: str | None  # None: the owner's view of every client
    language: str | None = None  # the client's language (client views), for the words on the page
    settings: Any = None  # the seller's model.Settings: contact and payment details for the client portal
    projects: list[ProjectView] = field(default_factory=list)
    invoices: list[InvoiceView] = field(default_factory=list)
    # date, currency, gross, number, source (manual, stripe, bank), payment id, the id it reverses (or "")
    payments: list[tuple[dt.date, str, Decimal, str, str, str, str]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # owner only: problems in the repo, as file:line lines
    clients: dict[str, str] = field(default_factory=dict)  # id -> legal name

    def fmt(self, amount: Decimal | None, currency: str) -> str:
        return "—" if amount is None else _fmt(amount, currency, self.locale)


@functools.lru_cache(maxsize=65536)
def _fmt(amount: Decimal, currency: str, locale: str) -> str:
    """babel's formatting costs ~0.1 ms a call: a 1,000-project page formats tens of thousands of amounts."""
    return money.fmt(amount, currency, locale)


# --- building -------------------------------------------------------------------------------------------------


_AT = {name: i for i, name in enumerate(ledger_mod.HEAD)}  # a record's head fields, read straight from the tuple
_NUMBER, _CLIENT, _PROJECT, _PROJECT_TITLE, _CURRENCY, _ISSUED, _DUE, _NET, _TOTAL = (
    _AT[k] for k in ("number", "client", "project", "project_title", "currency", "issue_date", "due_date", "net",
                     "total"))


def _payments(rows: list[payments_mod.DocState]) -> list[tuple]:
    """Every dated payment of these documents (api.document_states), oldest first."""
    return sorted((p.date, r.currency, p.amount, r.number, p.source, p.id, p.reverses or "")
                  for r in rows for p in r.payments)


def _present(records: list[Any]) -> set[str]:
    """The paths of the .pdf and .html files beside these records that exist (as os.path.exists says: a link that
    leads nowhere does not): one listing per folder, not two stats per document (115,000 stats were ~0.4 s of a
    10,000-project board)."""
    out: set[str] = set()
    for folder in {os.path.dirname(r.file) for r in records}:
        try:
            with os.scandir(folder) as listing:
                out.update(e.path for e in listing if e.name.endswith((".pdf", ".html"))
                           and (not e.is_symlink() or os.path.exists(e.path)))
        except OSError:
            continue
    return out


@functools.lru_cache(maxsize=64)
def _title(kind: str, type_code: str) -> str:
    return document_title({"kind": kind, "type_code": type_code})


class _Shared:
    """One object per distinct value while a board is built: its 57,000 documents and 100,000 milestones (10,000
    projects) repeat few days, project keys and rounded amounts, and each copy held ~100 bytes more."""

    def __init__(self) -> None:
        self.quantize = money.Rounded().quantize
        self.days: dict[str, dt.date] = {}
        self.texts: dict[str, str] = {}

    def day(self, text: str) -> dt.date:
        got = self.days.get(text)
        if got is None:
            got = self.days[text] = dt.date.fromisoformat(text)
        return got

    def text(self, text: str) -> str:
        return self.texts.setdefault(text, text)


def _invoice(rec: Any, row: payments_mod.DocState | None, present: set[str], url: str | None,
             shared: _Shared) -> InvoiceView:
    """One document as listed; `row` is its state on the board's day (None: issued later)."""
    head, sign = rec.head, rec.sign
    stem = rec.file[:-len(".json")]
    pdf, html = stem + ".pdf", stem + ".html"
    project, title, due = head[_PROJECT], head[_PROJECT_TITLE], head[_DUE]
    invoice = row is not None and row.series == "invoice"
    # the row's total is this one (Decimal(total) * sign) unless it is a credit note applied to an invoice
    total = row.total if row is not None and row.applies_to is None else Decimal(head[_TOTAL]) * sign
    return InvoiceView(
        number=head[_NUMBER], title=_title(rec["kind"], rec["type_code"]), client=head[_CLIENT],
        project=shared.text(f"{head[_CLIENT]}/{project}"),
        project_title=project if title is ledger_mod.ABSENT else title, issue_date=shared.day(head[_ISSUED]),
        due_date=shared.day(due) if due and due is not ledger_mod.ABSENT else None,
        currency=head[_CURRENCY], net=Decimal(head[_NET]) * sign, total=total,
        state=row.state.replace("_", " ") if row else "not yet issued", paid=row.paid if invoice else None,
        pdf_file=pdf if pdf in present else None, html_file=html if html in present else None,
        balance=row.balance if invoice else money.ZERO, days_overdue=row.days_overdue if row else 0, pay_url=url)


def _milestones(p: Any, b: Any, states: dict[str, str], shared: _Shared) -> tuple[MilestoneView, ...]:
    cur, charged, billed_on, q = p.currency, b.charged, b.documents, shared.quantize
    out = []
    for m in p.milestones:
        docs = tuple(billed_on.get(m.id, ()))
        out.append(MilestoneView(
            id=m.id, title=m.title, status=m.status, lane=LANES[m.status], amount=q(m.amount, cur),
            due=m.due, done=m.done, final=m.final, invoiced=q(charged.get(m.id, money.ZERO), cur),
            documents=docs,
            payment=", ".join(dict.fromkeys(states[d] for d in docs if states.get(d))) if docs else ""))
    return tuple(out)


def _project(p: Any, b: Any, fig: dict[str, Decimal], mine: list[InvoiceView], client_name: str,
             shared: _Shared) -> ProjectView:
    """A project as `billed status` figures it (api.project_figures), rounded as status prints it."""
    cur = p.currency
    q = {k: shared.quantize(fig[k], cur) for k in ("total", "deposit", "done", "invoiced", "remaining", "paid",
                                                    "outstanding", "overdue", "credit")}
    totals = Totals(cur, contract=q.pop("total"), billed=sum((i.total for i in mine), money.ZERO),
                    **{k: v for k, v in q.items() if k != "deposit"})
    return ProjectView(
        key=p.key, client=p.client, client_name=client_name, title=p.title, description=p.description,
        currency=cur, start=p.start, deposit=q["deposit"], deposit_documents=tuple(d["number"] for d in b.deposits),
        totals=totals, progress=fig["progress"],
        milestones=_milestones(p, b, {i.number: i.state for i in mine}, shared))


def only_client(state: api.State, client: str) -> api.State:
    """A State holding one client's data alone: its client record, projects, issued documents and payments.

    A client's board is built from this, never from the whole repo, so no later filtering slip can show another
    client's data. Repo-wide findings are dropped too (their paths and messages name other clients' files).
    """
    repo = state.repo
    keep = {k: p for k, p in repo.projects.items() if p.client == client}
    records = [r for r in state.ledger.records if r["client"] == client]
    numbers = {r.number for r in records}
    changes: dict[str, Any] = {
        "repo": replace(repo, clients={k: c for k, c in repo.clients.items() if k == client}, projects=keep),
        "ledger": replace(state.ledger, records=records, findings=[]), "findings": [],
        "payments": [p for p in state.payments if p.invoice in numbers]}
    return replace(state, **changes)


def build(state: api.State, on: dt.date, client: str | None = None) -> Board:
    """The board for the owner (client=None) or for one client: only that client's projects and documents."""
    settings = state.repo.settings
    board = Board(on=on, locale=settings.locale if settings else "en",
                  seller=settings.seller.name if settings else "", client=client, settings=settings)
    if client is not None:
        if client not in state.repo.clients:
            return board
        chosen = state.repo.clients[client]
        board.language = chosen.language or (settings.language if settings else None)
        # a client reads amounts and dates the way their documents do
        board.locale = chosen.locale or chosen.language or board.locale
        state = only_client(state, client)
    else:
        board.findings = [f.render() for f in state.findings]
    repo = state.repo
    with boardcache.no_gc():  # a board allocates ~1 million objects at 10,000 projects and frees none of them
        rows = api.document_states(state, on)
        board.payments = _payments(rows)
        by_number = {r.number: r for r in rows}
        present = _present(state.ledger.records)
        payable, shared = client is not None, _Shared()  # pay buttons are the client's
        board.invoices = sorted((_invoice(r, row := by_number.get(r.number), present,
                                          api.pay_url(state, r.number, on) if payable and row is not None
                                          and row.series == "invoice" and row.balance > 0 else None, shared)
                                 for r in state.ledger.records), key=lambda i: (i.issue_date, i.number))
        board.clients = {cid: c.party.name for cid, c in sorted(repo.clients.items())}
        by_project: dict[str, list[InvoiceView]] = defaultdict(list)
        for inv in board.invoices:
            by_project[inv.project].append(inv)
        for p, b, fig, _owed in api.project_figures(state, on=on):
            board.projects.append(_project(p, b, fig, by_project[p.key], board.clients.get(p.client, p.client),
                                           shared))
    return board


# --- aggregates ------------------------------------------------------------------------------------------------


def _sum(items: Iterable[Totals]) -> dict[str, Totals]:
    out: dict[str, Totals] = {}
    for t in items:
        out[t.currency] = out[t.currency] + t if t.currency in out else t
    return dict(sorted(out.items()))


def portfolio(board: Board) -> dict[str, Totals]:
    """Per currency: the whole portfolio of the board's audience."""
    return _sum(p.totals for p in board.projects)


def per_client(board: Board) -> dict[str, dict[str, Totals]]:
    """client id -> currency -> totals."""
    groups: dict[str, list[Totals]] = defaultdict(list)
    for p in board.projects:
        groups[p.client].append(p.totals)
    return {cid: _sum(items) for cid, items in sorted(groups.items())}


def totals_rows(board: Board) -> list[dict[str, str]]:
    """A table of every project, formatted: what the owner scans first, first (a phone shows four columns)."""
    keep = ("outstanding", "overdue", "contract", "done", "invoiced", "paid")
    return [{"project": p.title, "client": p.client_name, "progress": f"{int(p.progress * 100)}%",
             **{k: v for k, v in formatted(board, p.totals).items() if k in keep}, "key": p.key}
            for p in board.projects]


def formatted(board: Board, t: Totals) -> dict[str, str]:
    return {k: board.fmt(getattr(t, k), t.currency) for k in ("contract", "done", "invoiced", "remaining", "billed",
                                                              "paid", "outstanding", "overdue", "credit")}


def inline_html(path: Path) -> str:
    """An issued HTML document with its stylesheet inlined, to show it in the page (the browser cannot fetch
    templates/ from the dashboard). Fonts fall back to the browser's; the PDF is the document of record."""
    html = path.read_text(encoding="utf-8").replace(  # links out (the pay link) must not carry the ?token= URL
        "<head>", '<head><meta name="referrer" content="no-referrer">', 1)
    css = path.parents[2] / "templates" / "invoice.css"
    if css.is_file():
        html = html.replace('<link rel="stylesheet" href="invoice.css">', f"<style>{css.read_text('utf-8')}</style>")
    return html


def filter_invoices(board: Board, client: str | Iterable[str] | None = None, project: str | Iterable[str] | None = None,
                    states: Iterable[str] | None = None) -> list[InvoiceView]:
    """Invoices matching every given filter; each filter is one value or several (the owner's multi-selects),
    and an empty or missing one matches all."""
    def wanted(value: str | Iterable[str] | None) -> set[str] | None:
        chosen = {value} if isinstance(value, str) else set(value or ())
        return chosen or None

    clients, projects, kinds = wanted(client), wanted(project), wanted(states)
    return [i for i in board.invoices if (clients is None or i.client in clients)
            and (projects is None or i.project in projects) and (kinds is None or i.state in kinds)]


def invoice_rows(board: Board, invoices: list[InvoiceView]) -> list[dict[str, str]]:
    return [{"number": i.number, "document": i.title, "client": board.clients.get(i.client, i.client),
             "project": i.project_title, "issued": i.issue_date.isoformat(),
             "due": i.due_date.isoformat() if i.due_date else "", "total": board.fmt(i.total, i.currency),
             "paid": board.fmt(i.paid, i.currency), "state": i.state} for i in invoices]


def payment_rows(board: Board, invoices: list[InvoiceView]) -> list[dict[str, str]]:
    """The payments of these invoices, newest first, each with where it came from (manual, stripe, bank)."""
    numbers = {i.number for i in invoices}
    return [{"date": day.isoformat(), "invoice": number, "amount": board.fmt(amount, cur), "source": source,
             "id": pid, "reverses": reverses}
            for day, cur, amount, number, source, pid, reverses in reversed(board.payments) if number in numbers]


def _month(day: dt.date) -> str:
    return f"{day.year:04}-{day.month:02}"


def over_time(board: Board) -> dict[str, list[dict[str, Any]]]:
    """Per currency, per month: gross invoiced and paid, and their running totals (the 'invoiced vs paid' chart)."""
    flows: dict[str, dict[str, list[Decimal]]] = defaultdict(lambda: defaultdict(lambda: [money.ZERO, money.ZERO]))
    for i in board.invoices:
        flows[i.currency][_month(i.issue_date)][0] += i.total
    for day, cur, amount, *_ in board.payments:
        flows[cur][_month(day)][1] += amount
    out = {}
    for cur, months in sorted(flows.items()):
        run_inv = run_paid = money.ZERO
        rows = []
        for month in sorted(months):
            inv, paid = months[month]
            run_inv, run_paid = run_inv + inv, run_paid + paid
            rows.append({"month": month, "invoiced": inv, "paid": paid, "invoiced to date": run_inv,
                         "paid to date": run_paid})
        out[cur] = rows
    return out


def ahead(board: Board) -> dict[str, list[dict[str, Any]]]:
    """Per currency, per due month: net still to bill for milestones not done yet (the cash-flow outlook)."""
    buckets: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: money.ZERO))
    for p in board.projects:
        for m in p.milestones:
            if m.status in ("planned", "in_progress") and m.amount > m.invoiced:
                buckets[p.currency][_month(m.due) if m.due else NO_DATE] += m.amount - m.invoiced
    return {cur: [{"month": k, "amount": v} for k, v in sorted(months.items(), key=lambda kv: (kv[0] == NO_DATE,
                                                                                              kv[0]))]
            for cur, months in sorted(buckets.items())}


def board_lanes(project: ProjectView) -> dict[str, list[MilestoneView]]:
    """The project's milestones grouped by lane, each lane in file order (the board layout)."""
    lanes: dict[str, list[MilestoneView]] = {lane: [] for lane in LANES.values()}
    for m in project.milestones:
        lanes[m.lane].append(m)
    return lanes


def project_history(root: Path, key: str) -> list[dict[str, Any]] | None:
    """Scope changes from git (api.history), oldest first; None when the repo has no git history to read."""
    root = Path(root).resolve()
    return _history(root, key, _git_stamp(root))


def _git_stamp(root: Path) -> tuple[int, int] | None:
    """Changes with every commit, checkout or reset (git appends to logs/HEAD), for the price of one stat."""
    folder = git_mod.git_dir(root)
    try:
        st = (folder / "logs" / "HEAD").stat() if folder else None
    except OSError:
        st = None
    if st is None:
        return None
    return st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=256)
def _history(root: Path, key: str, stamp: tuple[int, int] | None) -> list[dict[str, Any]] | None:
    if stamp is None:
        return None
    try:
        return api.history(root, key)
    except Exception:  # noqa: BLE001 - a broken or shallow git history must not take the dashboard down
        return None


def history_rows(board: Board, entries: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One row per commit that changed the scope: when, who, what, and the total before and after."""
    rows = []
    for e in reversed(entries):  # newest first, as people read a history
        cur = e.get("currency") or ""

        def total(value: str | None, cur: str = cur) -> str:
            return board.fmt(Decimal(value), cur) if value is not None and cur else "—"

        rows.append({"date": str(e.get("date", ""))[:10], "author": e.get("author", ""),
                     "commit": e.get("short", ""), "message": e.get("subject", ""),
                     "changes": "; ".join(history_mod.describe(c, lambda v, cur=cur: board.fmt(Decimal(v), cur))
                                          for c in e.get("changes") or []) or (e.get("note") or ""),
                     "total before": total(e.get("total_before")), "total after": total(e.get("total_after"))})
    return rows


# --- cached loading ----------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _state(root: Path, stamp: boardcache.Stamp) -> api.State:
    return api.load(root, verify=False)


@functools.lru_cache(maxsize=64)
def _board(root: Path, stamp: boardcache.Stamp, on: dt.date, client: str | None) -> Board:
    """Built once per fingerprint, day and audience, and kept in Billed's cache folder (billed/boardcache.py): a
    new dashboard process reads it back (~1 s at 10,000 projects) instead of loading the repo and building it
    again (~6 s)."""
    board = boardcache.read(root, stamp, on, client)
    if board is None:
        board = build(_state(root, stamp), on, client)
        boardcache.write(root, stamp, on, client, board)
    return board


def state(root: Path) -> api.State:
    """The loaded repo the boards are built from, cached the same way: for what a board does not hold (the pay
    redirect), without loading the repo once more."""
    root = Path(root).resolve()
    return _state(root, boardcache.Stamp.of(api.fingerprint(root)))


def load(root: Path, on: dt.date | None = None, client: str | None = None) -> Board:
    """The board, rebuilt only when a file changed since the last call (keyed on `api.fingerprint`)."""
    root = Path(root).resolve()
    board = _board(root, boardcache.Stamp.of(api.fingerprint(root)), on or dt.date.today(), client)
    return replace(board)  # a shallow copy: callers may not mutate the cached one


def cache_clear() -> None:
    _state.cache_clear()
    _board.cache_clear()
    _history.cache_clear()


# At exit, let go of the cached states and boards while the interpreter is whole: freed then, they go by
# reference count (~0.2 s at 10,000 projects); left for the interpreter's teardown, which collects and clears
# module by module, they cost ~1.5 s more at the end of every process that built a board.
atexit.register(cache_clear)
