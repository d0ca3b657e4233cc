"""The facade the CLI and the dashboard call. Nothing above this module reaches into load/engine/ledger directly.

Every function returns findings as values; a command that writes (issue) writes nothing when there is any.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from billed import cache, checks, engine, gcpolicy, i18n, money, witness
from billed import git as git_mod
from billed import ledger as ledger_mod
from billed import payments as payments_mod
from billed.api import guards
from billed.errors import BilledError, Finding
from billed.ledger import Ledger
from billed.model import Project, Settings
from billed.repo import Pins, Repo, find_root, load_repo, load_settings, shown

Progress = Callable[[int, int, str], None]


@dataclass
class State:
    """A loaded repo, its ledger and every finding: what every command starts from."""

    repo: Repo
    ledger: Ledger
    findings: list[Finding] = field(default_factory=list)
    payments: list[payments_mod.Payment] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)  # reported by check, refusing nothing (W codes)
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)  # derived, per day

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def yearly(self) -> bool:
        return self.repo.settings is None or self.repo.settings.numbering.reset == "yearly"


def load(root: Path | None = None, verify: bool = True) -> State:
    """The repo, its ledger and every finding, with the cyclic garbage collector paused (billed/gcpolicy.py)."""
    root = find_root(root)
    cache.begin(root)  # a repo this cache has never seen: nothing written in this load (cache.begin)
    with gcpolicy.paused():
        return gcpolicy.loaded(_load(root, verify))


def _load(root: Path, verify: bool) -> State:
    ledger = ledger_mod.read_ledger(root)
    repo, findings = load_repo(root, _invoiced_shares(ledger))
    found, warnings = list(findings), []
    if verify:
        found += ledger_mod.verify(ledger, repo.settings is None or repo.settings.numbering.reset == "yearly")
        unvouched, warnings = witness.findings(root, ledger.records)  # (warnings: W004, a shallow clone)
        found += unvouched
    else:
        found += ledger.findings
    ledger.index = None  # saved; ~50 MB at 10,000 projects that no later step reads
    found += engine.ledger_findings(repo.projects, ledger, _project_files(root, ledger, repo))
    paid, problems = payments_mod.read(root, ledger)
    warnings += i18n.check_languages(repo.settings, repo.clients, root / "templates")
    return State(repo, ledger, sorted(set(found + problems)), paid, warnings)


def _project_files(root: Path, ledger: Ledger, repo: Repo) -> dict[str, str]:
    """The invoiced projects not loaded whose file is still there (`<client>/<project>.y*ml`, as a glob of every
    project file would find it): E050 is for the others. Only those are looked for; listing every file again was
    ~50 ms at 10,000 projects for the one or two that are usually missing."""
    out, listed = {}, {}
    for key in ledger.by_project:
        client, _, pid = key.partition("/")
        if key in repo.projects or not (checks.NAME.match(client) and checks.NAME.match(pid)):
            continue  # (a record's text never becomes a path: `..` or a 300-character name is simply not a file)
        if client not in listed:
            try:
                listed[client] = os.listdir(root / "projects" / client)
            except OSError:
                listed[client] = []
        if any(stem == pid and fnmatch.fnmatchcase(ext, ".y*ml") for stem, ext in map(os.path.splitext,
                                                                                         listed[client])):
            out[key] = key
    return out


def settings(root: Path | None = None) -> Settings | None:
    """The repo's settings alone (its locale for printing tables), without loading every project."""
    return load_settings(find_root(root))


def _invoiced_shares(ledger: Ledger) -> Pins:
    """Per project, what its invoiced percentage milestones were billed at: resolving keeps those cents
    (checks.resolve), so editing another percentage never plans a 0.01 correction."""
    billed = engine.settled(ledger)

    def pins(project: Project) -> dict[str, Decimal]:
        charged = billed[project.key].charged if project.key in billed else {}
        return {m.id: charged[m.id] for m in project.milestones if m.spec == "percent" and charged.get(m.id)}

    def signature(key: str) -> str:
        """What `pins` and `due_from` read for the project, printed. (Not its records' claimed hashes: a record
        edited after it was issued keeps its `hash` field, and a non-text one is not a string at all.)"""
        return repr(sorted(billed[key].charged.items())) if key in billed else ""

    def due_from(project: Project) -> dt.date | None:
        return engine.due_from(project, billed[project.key].charged if project.key in billed else {})
    return Pins(pins, signature, due_from)


def plan(state: State, on: dt.date, source: engine.Source | None = None) -> list[dict[str, Any]]:
    """Documents `issue` would write on `on`; empty when anything is invalid (check first) or while the example
    project of `billed init` is there (issue refuses it: E081)."""
    if not state.ok or state.repo.settings is None or guards.examples(state.repo.projects):
        return []
    problem = engine.backdated(state.ledger, on)
    if problem:
        raise BilledError(problem)
    return engine.plan(state.repo.projects, state.repo.clients, state.repo.settings, state.ledger, on, source,
                       lambda numbers: _paid(state, on, numbers), state.repo.due_from)


def status(state: State, only: str | None = None, on: dt.date | None = None) -> list[dict[str, Any]]:
    """Per project and milestone: progress, amounts done, invoiced and remaining (net, in project currency)."""
    return list(status_rows(state, only, on))


def status_rows(state: State, only: str | None = None, on: dt.date | None = None) -> Iterator[dict[str, Any]]:
    """`status` one project at a time: the dashboard turns each row into its view and lets it go (all rows of
    10,000 projects at once were ~70 MB)."""
    plain = money.plain
    for p, b, fig, owed in project_figures(state, only, on):
        cur = p.currency
        yield {
            "project": p.key, "title": p.title, "client": p.client, "currency": cur,
            **{k: plain(fig[k], cur) for k in ("total", "deposit")},
            "deposit_invoiced": [d["number"] for d in b.deposits],
            **{k: plain(fig[k], cur) for k in ("done", "invoiced", "remaining", "vat", "vat_rounding")},
            "progress": str(fig["progress"]),
            **{k: plain(fig[k], cur) for k in ("paid", "outstanding", "overdue", "credit")},
            "paid_by_source": payments_mod.by_source(owed, cur),
            "milestones": [{
                "id": m.id, "title": m.title, "status": m.status, "amount": plain(m.amount, cur),
                "due": m.due.isoformat() if m.due else None, "done": m.done.isoformat() if m.done else None,
                "final": m.final, "invoiced": plain(b.charged.get(m.id, money.ZERO), cur),
                "documents": list(b.documents.get(m.id, ())),
            } for m in p.milestones],
        }


_KIND, _NET, _TOTAL, _NUMBER, _CORRECTS = (ledger_mod.HEAD.index(k) for k in ("kind", "net", "total", "number",
                                                                             "corrects"))  # read off the head directly


def project_figures(state: State, only: str | None = None, on: dt.date | None = None) -> Iterator[
        tuple[Project, engine.Billed, dict[str, Decimal], dict[str, Decimal]]]:
    """Per project (sorted by key): the project, what its documents billed (engine.settled), `status`'s figures as
    Decimals, unrounded (`status_rows` prints them; the dashboard reads them as they are, instead of parsing
    57,000 printed amounts back at 10,000 projects), and its payment sums (payments.totals)."""
    on = on or dt.date.today()
    billed = engine.settled(state.ledger)
    owed = payments_mod.totals(document_states(state, on), by="project")
    for key, p in sorted(state.repo.projects.items()):
        if only and only not in (key, p.id):
            continue
        b = billed[key] if key in billed else engine.Billed()  # (reads only: the state is shared)
        invoiced = vat = money.ZERO
        for r in state.ledger.for_project(key):
            if r.head[_KIND] != "interest":  # the contract's documents
                net, sign = Decimal(r.head[_NET]), r.sign
                invoiced += net * sign
                vat += (Decimal(r.head[_TOTAL]) - net) * sign
        total = p.total
        done = sum((m.amount for m in p.milestones if m.status == "done"), money.ZERO)  # (done is never cancelled)
        cur = p.currency
        sums = owed[(key, cur)]
        yield p, b, {
            "total": total, "deposit": p.deposit, "done": done, "invoiced": invoiced, "remaining": total - invoiced,
            "vat": vat, "vat_rounding": vat - engine.whole_vat(b.vat, cur),
            "progress": (done / total).quantize(Decimal("0.0001")) if total else Decimal("0"),
            **{k: sums[k] for k in ("paid", "outstanding", "overdue", "credit")}}, sums


def share(root: Path | None, client: str, label: str = "") -> str:
    """A new dashboard link token for a client of this repo; only its hash is stored (access.yaml)."""
    from billed import access

    state = load(root, verify=False)
    if client not in state.repo.clients:
        known = ", ".join(sorted(state.repo.clients)) or "none"
        raise BilledError(f"no client '{client}' in projects/ (clients: {known})")
    return access.grant(state.repo.root, client, label)


def unshare(root: Path | None, client: str) -> int:
    """Revoke every dashboard link of a client; how many there were."""
    from billed import access

    return access.revoke(find_root(root), client)


def shares(root: Path | None) -> list[Any]:
    """The stored grants (client, hash prefix, date): never the tokens, which are not kept."""
    from billed import access

    return access.read(find_root(root))


# --- getting paid: payments, states, aging (billed/payments.py) ----------------------------------------------


def record_payment(root: Path | None, number: str, amount: str, on: dt.date, method: str | None = None,
                   reference: str | None = None, currency: str | None = None) -> tuple[dict[str, Any] | None,
                                                                                        list[Finding]]:
    """Append one payment; refused (nothing written) while the repo or the new entry has any problem."""
    state = load(root)
    if not state.ok:
        return None, state.findings
    payment, found = payments_mod.append(state.repo.root, state.ledger, number, amount, on, method, reference,
                                         currency)
    if found or payment is None:
        return None, found
    row = next(s for s in payments_mod.states(state.ledger.records, [*state.payments, payment], on)
               if s.number == number)
    return {"payment": payment.as_json(), "document": row.as_json()}, []


def _paid(state: State, on: dt.date, numbers: set[str]) -> frozenset[str]:
    """Which of the documents `numbers` (deposit invoices a planned final invoice deducts) are fully paid on `on`.
    A document's state depends only on it, its payments and the credit notes that correct it: those are its rows
    of `document_states`, without working out the other ~55,000 at 10,000 projects (~0.8 s of a plan), nor even
    the states of every deposit invoice (~30 ms), for the few projects a plan bills."""
    if ("states", on) in state.memo:
        rows = state.memo[("states", on)]
    else:  # (the head tuple read directly: `number` and `corrects` of every record, ~3x faster than by key)
        mine = [r for r in state.ledger.records if (h := r.head)[_NUMBER] in numbers or h[_CORRECTS] in numbers]
        rows = payments_mod.states(mine, state.payments, on)
    return frozenset(row.number for row in rows if row.number in numbers and row.state == "paid")


def document_states(state: State, on: dt.date) -> list[payments_mod.DocState]:
    """Each issued document's state on `on`: open, partially_paid, paid, overdue or credited. Worked out once per
    state and day: the dashboard's status and invoice list both need it (~1 s each at 10,000 projects)."""
    if ("states", on) not in state.memo:
        state.memo[("states", on)] = payments_mod.states(state.ledger.records, state.payments, on)
    return state.memo[("states", on)]


def aging(state: State, on: dt.date) -> list[dict[str, Any]]:
    """Receivables aging per client and currency on `on` (current, 1-30, 31-60, 61-90, 90+ days past due)."""
    return payments_mod.aging(document_states(state, on))


# --- git: commit and push issued documents, review a change, scope history (billed/git.py, billed/history.py) --


def check_base(state: State, base: str, on: dt.date) -> tuple[list[Finding], list[dict[str, Any]]]:
    """What a change since `base` does: E061 for each file under invoices/ it adds, edits, deletes or renames
    (only Billed's issuing run writes there, on main after the merge), E063 for lines of mail/sent.log it edits or
    removes (witness.log_rewrites), and the documents merging it would issue.

    Additions are refused too: a branch can run `billed issue` with an attacker's bank details, restore
    billed.yaml and commit the result; its records chain on correctly and would verify."""
    root = state.repo.root
    found = []
    for status, path, new in git_mod.changed_since(root, base, "invoices"):
        if path.endswith(".lock"):
            continue
        if status in ("A", "C"):
            found.append(Finding(shown(root / (new or path)), 1, 1, "E061", f"{new or path} is added to invoices/ "
                                 f"by this change (since {base}); only Billed's issuing run adds documents",
                                 "remove it from this change (`git rm`); once merged, CI issues what is due "
                                 "with `billed issue --commit`"))
            continue
        verb = {"R": f"renames it to {new}", "D": "deletes it"}.get(status, "edits it")
        found.append(Finding(shown(root / path), 1, 1, "E061", f"{path} was already issued and this change {verb} "
                             f"(since {base})", f"issued documents never change: restore it (`git checkout {base} "
                             f"-- {path}`) and correct it with a credit note instead"))
    found += witness.log_rewrites(root, base)
    from billed import history as history_mod  # (git provenance: not needed by check without --base)

    docs = plan(state, on, history_mod.source(root)) if state.ok else []
    return sorted(found), docs


def history(root: Path | None, project: str) -> list[dict[str, Any]]:
    """Every change to a project's milestones and total over git history, oldest first, as plain dicts."""
    state = load(root, verify=False)
    keys = [k for k, p in state.repo.projects.items() if project in (k, p.id)]
    if len(keys) > 1:
        raise BilledError(f"'{project}' is ambiguous: {', '.join(sorted(keys))}; write it as client/project")
    key = keys[0] if keys else project
    client, sep, pid = key.partition("/")
    if not sep:
        raise BilledError(f"no project '{project}'; write it as client/project (see `billed status`)")
    from billed import history as history_mod

    return history_mod.project_history(state.repo.root, client, pid, state.repo.settings,
                                       state.repo.clients.get(client))


# --- delivery by email (billed/mail.py): billed/api/send.py -----------------------------------------------------


# --- accounting exports (billed/export.py) ---------------------------------------------------------------------


def export(state: State, fmt: str, on: dt.date) -> dict[str, str]:
    """File name -> text: documents.csv, payments.csv and projects.csv (VAT rounding per project), or
    billed.beancount, with everything up to `on`."""
    from billed import export as export_mod

    rows = document_states(state, on)
    issued = {s.number for s in rows}
    records = [r for r in sorted(state.ledger.records, key=lambda r: (r["issue_date"], r["series"] != "invoice",
                                                                        r["seq"])) if r.number in issued]
    paid = [p for p in state.payments if p.date <= on]
    if fmt == "csv":
        return {"documents.csv": export_mod.documents_csv(records, rows),
                "payments.csv": export_mod.payments_csv(paid, state.ledger.by_number),
                "projects.csv": export_mod.projects_csv(records)}
    settings = state.repo.settings
    return {"billed.beancount": export_mod.beancount(records, paid, f"Billed: {settings.seller.name}",
                                                     settings.currency)}


def receivables(state: State, on: dt.date) -> list[dict[str, Any]]:
    """Per client and currency on `on`: paid, outstanding, overdue and credit (gross, as invoiced)."""
    sums = payments_mod.totals(document_states(state, on), by="client")
    return [{"client": client, "currency": cur, **{k: money.plain(v[k], cur) for k in
                                                   ("paid", "outstanding", "overdue", "credit")},
             "paid_by_source": payments_mod.by_source(v, cur)}
            for (client, cur), v in sorted(sums.items())]


# --- use cases with modules of their own (re-exported: callers use `api.<name>`) ------------------------------

# Use cases in their own modules, imported on first use (PEP 562): `billed check` needs none of them, and their
# imports (smtplib, ssl, jinja2, stripe's client) were ~60 ms of every command's start (issue 16).
_LAZY = {"issue": "issuing", "fingerprint": "issuing", "write_documents": "issuing",
         "extras": "issuing", "pdf_variant": "issuing", "issue_dates": "issuing", "render_missing": "issuing",
         "preview": "issuing", "issue_and_push": "issuing",
         "accrued": "late", "bill_interest": "late", "plan_interest": "late", "pay_redirect": "online",
         "sync_stripe": "online", "import_statement": "pay", "pay_url": "pay", "payment_list": "pay",
         "reverse_payment": "pay", "remind": "send", "send": "send"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f"billed.api.{_LAZY[name]}")
    # all of the module's names at once: importing billed.api.send also set this package's `send` to the module,
    # which the function of that name must replace whichever of the two was asked for first
    globals().update({k: getattr(module, k) for k, m in _LAZY.items() if m == _LAZY[name]})
    return globals()[name]
