"""Issuing: the plan written exactly once under the ledger's lock, its documents rendered and sealed, PDFs of
documents issued without them, a preview, and issue + commit + push. Re-exported by billed.api on first use
(PEP 562): `billed check` imports none of it."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from billed import api, engine
from billed import git as git_mod
from billed import history as history_mod
from billed import ledger as ledger_mod
from billed.api import Progress, State, guards
from billed.errors import Finding
from billed.repo import find_root


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
        state = api.load(root)
        if refused := _refused(state):
            return [], refused
        early = (before, at, state)
    with ledger_mod.locked(invoices):
        if early is not None and _unchanged(early[0], early[1], fingerprint(root)):
            state = early[2]  # nothing changed since: a fresh CI checkout loads its (uncached) repo once
        else:
            state = api.load(root)
            if refused := _refused(state):
                return [], refused
        ledger_mod.clean_orphans(invoices)  # only now: files of a tampered ledger are evidence, not orphans
        docs = api.plan(state, on, source or history_mod.source(state.repo.root))  # provenance from git
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
    if not docs:  # most runs on main issue nothing: no template engine, e-invoice or PDF library is loaded for it
        return []
    from billed import einvoice
    from billed.render import PdfPool, render_html, templates_for

    templates = templates_for(state.repo.root)
    heads = {s: (r["hash"] if (r := state.ledger.last(s)) else None) for s in ledger_mod.SERIES}
    invoices = state.repo.invoices
    written: list[dict[str, Any]] = []
    dates = {**issue_dates(state), **{d["number"]: d["issue_date"] for d in docs}}  # for e-invoice references

    def write(chunk: list[dict[str, Any]], htmls: list[str], wait: Callable[[], list[bytes]] | None) -> None:
        pdfs: list[bytes | None] = list(wait()) if wait else [None] * len(chunk)
        if wait and pdf_variant(state):  # the hash below is of these final bytes: the PDF/A-3 with its XML
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

    with PdfPool(templates, pdf_variant(state)) as pool:  # one set of workers for every batch
        ahead = None
        for start in range(0, len(docs), batch):  # batch n+1 renders while batch n is written
            chunk = docs[start:start + batch]
            htmls = [render_html(d, templates, extra=extras(d)) for d in chunk]
            job = (chunk, htmls, pool.start(htmls) if pdf else None)
            if ahead:
                write(*ahead)
            ahead = job
        if ahead:
            write(*ahead)
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

    state = api.load(root)
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


def preview(root: Path | None, on: dt.date, folder: Path | None = None) -> tuple[State, list[Path]]:
    """HTML of the documents `issue` would write on `on`, into a scratch folder (default .billed/preview/).

    Files are named after the number they would get; the folder is emptied first so a stale preview never lingers.
    Nothing under invoices/ is touched.
    """
    from billed.render import render_html, templates_for

    state = api.load(root)
    target = folder or state.repo.root / ".billed" / "preview"
    target.mkdir(parents=True, exist_ok=True)
    for old in target.glob("*.html"):
        old.unlink()
    written = []
    for doc in api.plan(state, on):
        path = target / f"{doc['number']}.html"
        ledger_mod.atomic_write(path, render_html(doc, templates_for(state.repo.root), extra=extras(doc)).encode())
        written.append(path)
    return state, written


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
