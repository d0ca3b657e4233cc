"""The facade the CLI and the dashboard call. Nothing above this module reaches into load/engine/ledger directly.

Every function returns findings as values; a command that writes (issue) writes nothing when there is any.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from billed import engine, gcpolicy, i18n, money, witness
from billed import git as git_mod
from billed import history as history_mod
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
    with gcpolicy.paused():
        return _load(find_root(root), verify)


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
    files = {f"{d.parent.name}/{d.stem}" for d in (root / "projects").glob("*/*.y*ml")}
    found += engine.ledger_findings(repo.projects, ledger, {k: k for k in files})
    paid, problems = payments_mod.read(root, ledger)
    warnings += i18n.check_languages(repo.settings, repo.clients, root / "templates")
    return State(repo, ledger, sorted(set(found + problems)), paid, warnings)


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
        """What `pins` reads for the project, printed. (Not its records' claimed hashes: a record edited after it
        was issued keeps its `hash` field, and a non-text one is not a string at all.)"""
        return repr(sorted(billed[key].charged.items())) if key in billed else ""
    return Pins(pins, signature)


def plan(state: State, on: dt.date, source: engine.Source | None = None) -> list[dict[str, Any]]:
    """Documents `issue` would write on `on`; empty when anything is invalid (check first) or while the example
    project of `billed init` is there (issue refuses it: E081)."""
    if not state.ok or state.repo.settings is None or guards.examples(state.repo.projects):
        return []
    problem = engine.backdated(state.ledger, on)
    if problem:
        raise BilledError(problem)
    paid = frozenset(row.number for row in _deposit_states(state, on) if row.state == "paid")
    return engine.plan(state.repo.projects, state.repo.clients, state.repo.settings, state.ledger, on, source, paid)


def issue(root: Path | None, on: dt.date, pdf: bool = True, progress: Progress | None = None,
          source: engine.Source | None = None, allow_dirty: bool = False) -> tuple[list[dict[str, Any]],
                                                                                   list[Finding]]:
    """Issue the plan exactly once, planning under a lock from a state no other run can change, so a concurrent
    run cannot double-issue.

    The repo is loaded under the lock. When the lock file does not exist yet (a first issue, or a fresh CI
    checkout) it is validated before, so that invalid input never leaves even an invoices/.lock behind; that
    state is used under the lock if no file it was read from changed meanwhile (`fingerprint`): loading is most
    of issue's time on a large repo (bench/README.md), and a CI run must not pay for it twice.

    Inside git, uncommitted inputs are refused (E080) unless `allow_dirty`, and then the records name them; an
    example project is never billed (E081). See api/guards.py.
    """
    root = find_root(root)
    dirty = guards.uncommitted(root) or []
    if dirty and not allow_dirty:
        return [], guards.findings(root, dirty)
    invoices = root / "invoices"
    early: tuple[Fingerprint, int, State] | None = None
    if not (invoices / ".lock").is_file():
        before, at = fingerprint(root), time.time_ns()
        state = load(root)
        if refused := _refused(state):
            return [], refused
        early = (before, at, state)
    with ledger_mod.locked(invoices):
        if early is not None and _unchanged(early[0], early[1], fingerprint(root)):
            state = early[2]  # nothing changed since: a fresh CI checkout loads its (uncached) repo once
        else:
            state = load(root)
            if refused := _refused(state):
                return [], refused
        ledger_mod.clean_orphans(invoices)  # only now: files of a tampered ledger are evidence, not orphans
        docs = plan(state, on, source or history_mod.source(state.repo.root))  # provenance from git
        written = write_documents(state, guards.mark(docs, dirty, guards.head(root)), pdf, progress)
    return written, []


def _refused(state: State) -> list[Finding]:
    return state.findings or guards.examples(state.repo.projects)


Fingerprint = tuple[tuple[str, int, int, int, int], ...]


def fingerprint(root: Path) -> Fingerprint:
    """The stat (inode, size, mtime, ctime) of every file `load` reads, and of the folders that hold them (a
    new, empty client folder is a finding too): cheap to take (no reads), and it changes with any save, new
    record or deleted file. Client folders are followed through symlinks (`load` reports a link out of the repo,
    E047); a file that cannot be stat'ed (a dangling link) is still listed, as `load` reports it."""
    out: list[tuple[str, int, int, int, int]] = []

    def add(path: str) -> None:
        try:
            st = os.stat(path)
            out.append((path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        except OSError:
            out.append((path, -1, -1, -1, -1))

    def entries(folder: str) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as listing:
                return sorted((e for e in listing if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError:
            return []

    for entry in entries(str(root)):
        if entry.name.endswith((".yaml", ".yml")):
            add(entry.path)
    for folder, deep in (("projects", 2), ("invoices", 1), ("payments", 0)):
        if folder != "invoices":  # invoices/ itself gains .lock when an issue starts
            add(str(root / folder))
        todo = [(str(root / folder), deep)]
        while todo:
            path, depth = todo.pop()
            for entry in entries(path):
                if entry.is_dir():
                    if depth > 0:
                        add(entry.path)
                        todo.append((entry.path, depth - 1))
                elif entry.name.endswith((".yaml", ".yml", ".json")):
                    add(entry.path)
    return tuple(sorted(out))


def _unchanged(before: Fingerprint, at: int, after: Fingerprint) -> bool:
    """Same files, same stats, and none written within the racy window before the first look (ledger.RACY_NS):
    a same-size rewrite in the same clock tick would keep its stat."""
    newest = max((max(f[3], f[4]) for f in before), default=0)
    return before == after and newest < at - ledger_mod.RACY_NS


def write_documents(state: State, docs: list[dict[str, Any]], pdf: bool, progress: Progress | None,
                    batch: int = 32) -> list[dict[str, Any]]:
    """Render and write documents in plan order; each record is written last, chained to the one before."""
    from billed import einvoice
    from billed.render import render_html, render_pdfs, templates_for

    templates = templates_for(state.repo.root)
    heads = {s: (r["hash"] if (r := state.ledger.last(s)) else None) for s in ledger_mod.SERIES}
    invoices = state.repo.invoices
    written: list[dict[str, Any]] = []
    dates = {**issue_dates(state), **{d["number"]: d["issue_date"] for d in docs}}  # for e-invoice references
    for start in range(0, len(docs), batch):
        chunk = docs[start:start + batch]
        htmls = [render_html(d, templates, extra=extras(d)) for d in chunk]
        pdfs = render_pdfs(htmls, templates, variant=pdf_variant(state)) if pdf else [None] * len(chunk)
        if pdf and pdf_variant(state):  # the hash below is of these final bytes: the PDF/A-3 with its XML
            pdfs = [einvoice.embed(data, d, dates) for data, d in zip(pdfs, chunk, strict=True)]
        for doc, html, data in zip(chunk, htmls, pdfs, strict=True):
            files = {}
            html_bytes = html.encode("utf-8")
            ledger_mod.atomic_write(ledger_mod.safe_target(invoices, doc["year"], doc["number"], "html"), html_bytes)
            files["html"] = ledger_mod.digest(html_bytes)
            if data is not None:
                ledger_mod.atomic_write(ledger_mod.safe_target(invoices, doc["year"], doc["number"], "pdf"), data)
                files["pdf"] = ledger_mod.digest(data)
            record = ledger_mod.seal({**doc, "files": files, "prev": heads[doc["series"]]})
            ledger_mod.atomic_write(ledger_mod.safe_target(invoices, doc["year"], doc["number"], "json"),
                                    ledger_mod.pretty(record), exclusive=True)
            heads[doc["series"]] = record["hash"]
            written.append(record)
            if progress:
                progress(len(written), len(docs), doc["number"])
    return written


def extras(doc: dict[str, Any]) -> dict[str, Any]:
    """What the invoice template gets besides the record: the EPC payment QR code (EUR invoices with an IBAN)."""
    from billed import qr

    return {"qr": qr.data_url(doc)}


def pdf_variant(state: State) -> str | None:
    """PDF/A-3 when billed.yaml has `einvoice: true`: the Factur-X XML is embedded in it (billed/einvoice.py)."""
    return "pdf/a-3b" if state.repo.settings is not None and state.repo.settings.einvoice else None


def issue_dates(state: State) -> dict[str, str]:
    return {r.number: r["issue_date"] for r in state.ledger.records}


def render_missing(root: Path | None) -> tuple[list[Path], list[Finding]]:
    """PDFs for documents issued with --no-pdf, rendered from their hashed HTML. Never touches a file that exists
    (issued PDFs never change), and renders nothing from a ledger that does not verify."""
    from billed import einvoice
    from billed.render import render_pdfs, templates_for

    state = load(root)
    if not state.ok:
        return [], state.findings
    todo = [r for r in state.ledger.records if "pdf" not in r.get("files", {})
            and not r.path.with_suffix(".pdf").exists()]
    templates = templates_for(state.repo.root)
    data = render_pdfs([r.path.with_suffix(".html").read_text(encoding="utf-8") for r in todo], templates,
                       variant=pdf_variant(state))
    if pdf_variant(state):
        dates = issue_dates(state)
        data = [einvoice.embed(pdf, r.data, dates) for pdf, r in zip(data, todo, strict=True)]
    out = []
    for rec, pdf in zip(todo, data, strict=True):
        target = rec.path.with_suffix(".pdf")
        ledger_mod.atomic_write(target, pdf)
        out.append(target)
    return out, []


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


_KIND, _NET, _TOTAL = (ledger_mod.HEAD.index(k) for k in ("kind", "net", "total"))  # read off the head directly


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


def preview(root: Path | None, on: dt.date, folder: Path | None = None) -> tuple[State, list[Path]]:
    """HTML of the documents `issue` would write on `on`, into a scratch folder (default .billed/preview/).

    Files are named after the number they would get; the folder is emptied first so a stale preview never lingers.
    Nothing under invoices/ is touched.
    """
    from billed.render import render_html, templates_for

    state = load(root)
    target = folder or state.repo.root / ".billed" / "preview"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.html"):
        old.unlink()
    written = []
    for doc in plan(state, on):
        path = target / f"{doc['number']}.html"
        ledger_mod.atomic_write(path, render_html(doc, templates_for(state.repo.root), extra=extras(doc)).encode())
        written.append(path)
    return state, written


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


def _deposit_states(state: State, on: dt.date) -> list[payments_mod.DocState]:
    """The states of the documents that bill a deposit (a line of role "deposit", as engine.Billed reads them),
    which is all a plan asks (is a deducted deposit paid?). A document's state depends only on it, its payments
    and the credit notes that correct it, so these are exactly their rows of `document_states`, without working
    out the other ~55,000 at 10,000 projects (~0.8 s of every plan)."""
    if ("states", on) in state.memo:
        return state.memo[("states", on)]
    # the documents with a deposit line, as engine.Billed.add collected them: no walk over every record's lines
    deposits = {d["number"] for billed in engine.settled(state.ledger).values() for d in billed.deposits}
    if not deposits:
        return payments_mod.states([], state.payments, on)
    mine = [r for r in state.ledger.records if r.number in deposits or r.get("corrects") in deposits]
    return payments_mod.states(mine, state.payments, on)


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


def issue_and_push(root: Path | None, on: dt.date, pdf: bool = True, progress: Progress | None = None,
                   push_to: str | None = None, branch: str | None = None, retries: int = 5) -> git_mod.Published:
    """Issue, commit exactly the new documents, and push; a rejected push re-plans from the new remote state.

    A run killed mid-issue leaves its own temp files and renderings without a record; they are removed first
    (under the issuing lock, so never a running issue's files), or the check for uncommitted changes would refuse
    the very run that completes the plan."""
    root = find_root(root)
    if git_mod.is_repo(root) and (root / "invoices").is_dir():
        with ledger_mod.locked(root / "invoices"):
            for rel in git_mod.leftovers(root):
                (root / rel).unlink(missing_ok=True)
    return git_mod.publish(root, lambda: issue(root, on, pdf, progress), push_to=push_to, branch=branch,
                           retries=retries)


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
_LAZY = {"accrued": "late", "bill_interest": "late", "plan_interest": "late", "pay_redirect": "online",
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
