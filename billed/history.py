"""A project's past, read from git: who changed its scope and when, and which commit made each milestone done.

Both questions are answered from one `git log` per project file plus one `git cat-file --batch` for every
version's text, whatever the number of milestones or commits: issuing stays fast on long histories. Each version
is read with Billed's own loader and model, so an amount in history means exactly what it meant at that commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billed import checks, money
from billed import git as g
from billed.load import load_text
from billed.model import Client, Milestone, Project, Settings, build_project
from billed.schema import validate

_SEP, _END = "\x1f", "\x1e"


@dataclass(frozen=True)
class Version:
    """A project file as one commit left it (`text` None when that commit deleted it)."""

    commit: str
    author: str
    email: str
    date: str
    subject: str
    path: str
    text: str | None


def project_path(root: Path, client: str, project: str) -> str:
    for suffix in (".yaml", ".yml"):
        if (root / "projects" / client / f"{project}{suffix}").exists():
            return f"projects/{client}/{project}{suffix}"
    return f"projects/{client}/{project}.yaml"


def versions(root: Path, path: str) -> list[Version]:
    """Every committed version of `path`, oldest first, following renames."""
    fmt = _END + _SEP.join(("%H", "%an", "%ae", "%aI", "%s"))
    proc = g.git(root, "log", "--follow", "--name-status", "-z", f"--format={fmt}", "--", path, check=False)
    if proc.returncode != 0:
        return []
    rows = []
    for chunk in proc.stdout.decode("utf-8", errors="replace").split(_END)[1:]:
        meta, _, files = chunk.partition("\0")
        fields = meta.strip("\n").split(_SEP)
        names = [x for x in files.strip("\n\0").split("\0") if x]
        if len(fields) != 5 or len(names) < 2:
            continue
        status, name = names[0], names[-1]
        rows.append((fields, name, status.startswith("D")))
    rows.reverse()
    texts = _blobs(root, [f"{f[0]}:{name}" for f, name, deleted in rows if not deleted])
    return [Version(*f, path=name, text=None if deleted else texts.get(f"{f[0]}:{name}"))
            for f, name, deleted in rows]


def _blobs(root: Path, specs: list[str]) -> dict[str, str]:
    """The contents of many `commit:path` objects in one `git cat-file --batch` call."""
    if not specs:
        return {}
    data = g.git(root, "cat-file", "--batch", stdin=("\n".join(specs) + "\n").encode()).stdout
    found, pos = {}, 0
    for spec in specs:
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        pos = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            found[spec] = data[pos:pos + size].decode("utf-8", errors="replace")
            pos += size + 1
    return found


def _raw_statuses(text: str | None) -> dict[str, str] | None:
    """Milestone id -> status straight from the YAML (provenance needs no amounts, so no model is built);
    None when that version is not readable YAML, so a broken commit in between does not reset anything."""
    if text is None:
        return {}
    data = load_text(text, "history").data
    items = data.get("milestones") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    return {str(m["id"]): str(m.get("status", "planned")) for m in items if isinstance(m, dict) and "id" in m}


def done_commits(root: Path, path: str) -> dict[str, dict[str, str]]:
    """Per milestone still done at HEAD: the commit where it (last) became done, its author and date."""
    became: dict[str, dict[str, str]] = {}
    before: dict[str, str] = {}
    for v in versions(root, path):
        now = _raw_statuses(v.text)
        if now is None:
            continue
        for mid, status in now.items():
            if status == "done" and before.get(mid) != "done":
                became[mid] = {"commit": v.commit, "author": v.author, "email": v.email, "date": v.date,
                               "file": v.path}
        before = now
    return {mid: info for mid, info in became.items() if before.get(mid) == "done"}


class Source:
    """The engine's provenance callable: lazy (no git call until a milestone is billed) and one log per file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, dict[str, dict[str, str]]] = {}

    def __call__(self, p: Project, m: Milestone) -> dict[str, str] | None:
        if p.key not in self.cache:
            self.cache[p.key] = done_commits(self.root, project_path(self.root, p.client, p.id))
        return self.cache[p.key].get(m.id)


def source(root: Path) -> Source | None:
    """Provenance for a billing repo kept in git; None outside git (the records then name no commit)."""
    return Source(root) if g.is_repo(root) else None


def _project(v: Version, settings: Settings | None, client: Client | None, cid: str, pid: str) -> Project | str:
    """The resolved project at one version, or why it could not be read then (the first finding)."""
    if v.text is None:
        return "file deleted"
    doc = load_text(v.text, v.path)
    problems = list(doc.findings) or ([] if isinstance(doc.data, dict) else ["not a mapping"])
    problems = problems or validate(doc, "project")
    project = None
    if not problems:
        project, problems = build_project(doc, cid, pid, settings, client)
    if project is not None and not problems:
        problems = [f for rule in checks.PROJECT_RULES for f in rule(project)]
        if not problems:
            project, problems = checks.resolve(project)
    if problems or project is None:
        first = problems[0] if problems else "unreadable"
        return f"invalid at this commit: {getattr(first, 'message', first)}"
    return project


def _changes(old: Project | None, new: Project) -> list[dict[str, Any]]:
    cur = new.currency
    was = {m.id: m for m in old.milestones} if old else {}
    now = {m.id: m for m in new.milestones}
    out: list[dict[str, Any]] = []
    for mid, m in now.items():
        o = was.get(mid)
        if o is None:
            out.append({"milestone": mid, "change": "added", "amount": money.plain(m.amount, cur),
                        "status": m.status})
            continue
        if o.amount != m.amount:
            out.append({"milestone": mid, "change": "amount", "before": money.plain(o.amount, cur),
                        "after": money.plain(m.amount, cur)})
        if o.status != m.status:
            out.append({"milestone": mid, "change": "status", "before": o.status, "after": m.status})
    for mid, o in was.items():
        if mid not in now:
            out.append({"milestone": mid, "change": "removed", "amount": money.plain(o.amount, cur)})
    return out


def project_history(root: Path, client: str, pid: str, settings: Settings | None,
                    client_obj: Client | None) -> list[dict[str, Any]]:
    """Every commit that changed the project's milestones or total, oldest first, with totals before and after."""
    entries: list[dict[str, Any]] = []
    last: Project | None = None
    for v in versions(root, project_path(root, client, pid)):
        p = _project(v, settings, client_obj, client, pid)
        base = {"commit": v.commit, "short": v.commit[:7], "author": v.author, "email": v.email, "date": v.date,
                "subject": v.subject, "file": v.path}
        total_before = money.plain(last.total, last.currency) if last else None
        if isinstance(p, str):
            entries.append({**base, "changes": [], "note": p, "currency": last.currency if last else None,
                            "total_before": total_before, "total_after": None})
            continue
        changes = _changes(last, p)
        if changes or last is None or last.total != p.total:
            entries.append({**base, "changes": changes, "note": None, "currency": p.currency,
                            "total_before": total_before, "total_after": money.plain(p.total, p.currency)})
        last = p
    return entries


def describe(change: dict[str, Any], amount: Callable[[str], str]) -> str:
    """One change in words, amounts formatted by the caller: 'design: amount €7,200.00 -> €9,600.00',
    'hosting: added (€1,200.00, planned)'. The CLI and the dashboard both show it."""
    mid, kind = change["milestone"], change["change"]
    if kind == "added":
        return f"{mid}: added ({amount(change['amount'])}, {change['status']})"
    if kind == "removed":
        return f"{mid}: removed ({amount(change['amount'])})"
    if kind == "amount":
        return f"{mid}: amount {amount(change['before'])} -> {amount(change['after'])}"
    return f"{mid}: {change['before']} -> {change['after']}"
