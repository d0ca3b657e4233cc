"""What the dashboard shows, as plain data: portfolio totals, project boards, invoices, chart series.

No Streamlit here, so every figure on screen is unit-tested. A view is built for one audience: the owner (all
clients) or one client (`client=...`), and a client's view is built only from that client's projects and records,
so nothing of another client can leak into it by a filtering slip later on. Amounts stay Decimal; contract, done,
invoiced and remaining are net (as `billed status`), billed/paid/outstanding are gross (what the client pays).
Totals are kept per currency and never summed across currencies.

Loading is cached on a cheap fingerprint of the repo (the stat of every YAML/JSON file Billed reads), so a
dashboard rerun costs a few hundred stats until a file actually changes.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from billed import api, money
from billed import git as git_mod
from billed import history as history_mod
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
    pdf: Path | None
    html: Path | None
    balance: Decimal = money.ZERO  # still to pay (gross), what a pay button asks for
    days_overdue: int = 0
    pay_url: str | None = None  # only while something is still to pay


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


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _payment_info(state: api.State, on: dt.date) -> tuple[dict[str, dict[str, Any]], list[tuple]]:
    """Per document number its payment state and amount paid, and every dated payment (api.document_states)."""
    rows = api.document_states(state, on)
    info = {r.number: {"state": r.state.replace("_", " "), "paid": r.paid if r.series == "invoice" else None,
                       "balance": r.balance if r.series == "invoice" else money.ZERO, "late": r.days_overdue}
            for r in rows}
    return info, sorted((p.date, r.currency, p.amount, r.number, p.source, p.id, p.reverses or "")
                        for r in rows for p in r.payments)


def _invoice(state: api.State, rec: Any, on: dt.date, pay: dict[str, Any] | None, payable: bool) -> InvoiceView:
    stem = rec.file[:-len(".json")]  # (plain strings: Path objects for 57,000 records were ~1 s of the dashboard)
    pdf, html = stem + ".pdf", stem + ".html"
    paid = pay.get("paid") if pay else None
    return InvoiceView(
        number=rec.number, title=document_title(rec), client=rec["client"],
        project=f"{rec['client']}/{rec['project']}", project_title=rec.get("project_title", rec["project"]),
        issue_date=_date(rec["issue_date"]), due_date=_date(rec.get("due_date")), currency=rec["currency"],
        net=Decimal(rec["net"]) * rec.sign, total=Decimal(rec["total"]) * rec.sign,
        state=pay["state"] if pay else "not yet issued", paid=paid,
        pdf=Path(pdf) if os.path.exists(pdf) else None, html=Path(html) if os.path.exists(html) else None,
        balance=pay["balance"] if pay else money.ZERO, days_overdue=pay["late"] if pay else 0,
        pay_url=api.pay_url(state, rec.number, on) if payable and pay and pay["balance"] > 0 else None)


def _milestones(row: dict[str, Any], states: dict[str, str]) -> tuple[MilestoneView, ...]:
    out = []
    for m in row["milestones"]:
        docs = tuple(m["documents"])
        out.append(MilestoneView(
            id=m["id"], title=m["title"], status=m["status"], lane=LANES[m["status"]], amount=Decimal(m["amount"]),
            due=_date(m["due"]), done=_date(m["done"]), final=m["final"], invoiced=Decimal(m["invoiced"]),
            documents=docs, payment=", ".join(dict.fromkeys(states.get(d, "") for d in docs if states.get(d)))))
    return tuple(out)


def _project(row: dict[str, Any], mine: list[InvoiceView], client_name: str, p: Any) -> ProjectView:
    cur = row["currency"]
    amounts = {k: Decimal(row[k]) for k in ("done", "invoiced", "remaining", "paid", "outstanding", "overdue",
                                            "credit")}
    totals = Totals(cur, contract=Decimal(row["total"]), billed=sum((i.total for i in mine), money.ZERO), **amounts)
    return ProjectView(
        key=row["project"], client=row["client"], client_name=client_name, title=row["title"],
        description=p.description, currency=cur, start=p.start, deposit=Decimal(row["deposit"]),
        deposit_documents=tuple(row["deposit_invoiced"]), totals=totals, progress=Decimal(row["progress"]),
        milestones=_milestones(row, {i.number: i.state for i in mine}))


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
    pay, board.payments = _payment_info(state, on)
    payable = client is not None  # pay buttons are the client's; api.pay_url scans every state (O(n) a call)
    board.invoices = sorted((_invoice(state, r, on, pay.get(r.number), payable) for r in state.ledger.records),
                            key=lambda i: (i.issue_date, i.number))
    board.clients = {cid: c.party.name for cid, c in sorted(repo.clients.items())}
    by_project: dict[str, list[InvoiceView]] = defaultdict(list)
    for inv in board.invoices:
        by_project[inv.project].append(inv)
    for row in api.status_rows(state, on=on):
        key = row["project"]
        board.projects.append(_project(row, by_project[key], board.clients.get(row["client"], row["client"]),
                                       repo.projects[key]))
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
def _state(root: Path, stamp: tuple) -> api.State:
    return api.load(root, verify=False)


@functools.lru_cache(maxsize=64)
def _board(root: Path, stamp: tuple, on: dt.date, client: str | None) -> Board:
    return build(_state(root, stamp), on, client)


def load(root: Path, on: dt.date | None = None, client: str | None = None) -> Board:
    """The board, rebuilt only when a file changed since the last call (keyed on `api.fingerprint`)."""
    root = Path(root).resolve()
    board = _board(root, api.fingerprint(root), on or dt.date.today(), client)
    return replace(board)  # a shallow copy: callers may not mutate the cached one


def cache_clear() -> None:
    _state.cache_clear()
    _board.cache_clear()
    _history.cache_clear()
