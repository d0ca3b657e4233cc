"""Find, read and validate a whole billing repository: files -> load -> schema -> model -> checks.

`load_repo` never raises for bad data: it returns the repo as far as it could be built, and every finding.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from billed import cache, checks, untrusted, vat
from billed import ledger as ledger_mod
from billed.errors import BilledError, Finding, shown
from billed.load import Doc, load_text, read_text
from billed.model import Client, Loc, Milestone, Party, Project, Settings, build_client, build_project, build_settings
from billed.schema import validate

cache.plain_state(Project, Milestone, Loc, Client, Party, Finding)  # (the values stored in the projects' cache)

CONFIG = "billed.yaml"  # (untrusted.outside_links reports any symlink out of the repo among the files below)


@dataclass
class Repo:
    root: Path
    settings: Settings | None = None
    clients: dict[str, Client] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    # per project key, the first day its milestones have something to bill (engine.due_from) as the project cache
    # kept it with the project; a project missing here (read without a cache) has it worked out when planned
    due_from: dict[str, dt.date | None] = field(default_factory=dict)

    @property
    def invoices(self) -> Path:
        return self.root / "invoices"


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` that holds billed.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG).exists():
            return folder
    raise BilledError(f"no {CONFIG} found in {here} or any folder above it; run `billed init` to create a "
                      "billing repo, or pass --repo DIR")


def _read(path: Path, schema: str, out: list[Finding], root: Path | None = None,
          where: str | None = None, text: str | None = None) -> tuple[Doc | None, bool]:
    """(doc, schema-valid). The doc is None only when it cannot be read as a mapping at all; an invalid one still
    goes through the field checks so every problem of the file is reported in one run. Once the model is built,
    call `doc.release()`: only its text is kept (load.Doc)."""
    doc, problems = _load_validated(path, schema, root, where, text)
    out.extend(doc.findings)
    if problems is None and any(f.code != "E003" for f in doc.findings):
        return None, False  # (a duplicate key leaves complete data, the last value, worth checking further)
    if problems is None:
        out.append(Finding(doc.path, 1, 1, "E012", "expected a mapping of keys at the top of the file",
                           "see `billed init` for a complete example"))
        return None, False
    out.extend(problems)
    return doc, not problems


def _load_validated(path: Path, schema: str, root: Path | None, where: str | None = None,
                    text: str | None = None) -> tuple[Doc, list[Finding] | None]:
    """Parse and schema-check one file (its `text` when already read), from billed/cache.py when this exact
    content was seen before (parsing and jsonschema were ~45% of `check` at 10,000 projects; `root` None: no
    cache). Problems are None when the schema was not run."""
    where = where or shown(path)
    if text is None:
        text, unreadable = read_text(path, where)
        if text is None:
            return Doc(where, findings=unreadable), None
    store = cache.store(root, "docs") if root is not None else None
    key = cache.key(schema, where, text) if store is not None else b""
    hit = store.get(key) if store is not None else None
    if hit is not None:
        hit[0].text = text  # its position tables are rebuilt from the text if a finding needs them
        return hit
    doc = load_text(text, where)
    ok = not any(f.code != "E003" for f in doc.findings) and isinstance(doc.data, dict)
    result = (doc, validate(doc, schema) if ok else None)
    if store is not None:
        store.put(key, result)
    return result


def load_settings(root: Path) -> Settings | None:
    """billed.yaml alone (None when it cannot be read or built; its rules are not run): for commands that only
    need it to format output, not a whole load."""
    doc, valid = _read(root / CONFIG, "billed", [])
    if doc is None:
        return None
    settings, found = build_settings(doc, valid)
    return None if found or doc.findings else settings


@dataclass(frozen=True)
class Pins:
    """Per project, what its invoiced percentage milestones were billed at (see checks.resolve): `of` a project,
    and a `signature` of everything `of` and `due_from` read for a client/project key (it keys the project cache).
    `due_from`: the first day the project's milestones have something to bill against what they were charged
    (engine.due_from), kept in the cache with the project, so that a warm `plan` does not go through every
    milestone of the repo again (~50 ms at 10,000 projects: the most of planning when nothing is due)."""

    of: Callable[[Project], Mapping[str, Decimal]]
    signature: Callable[[str], str]
    due_from: Callable[[Project], dt.date | None]


def load_repo(root: Path, pins: Pins | None = None) -> tuple[Repo, list[Finding]]:
    """`pins` gives, per project, what its percentage milestones were invoiced at (see checks.resolve)."""
    repo = Repo(root=root)
    links, out = untrusted.outside_links(root)
    doc, valid = _read(root / CONFIG, "billed", out, root) if root / CONFIG not in links else (None, False)
    if doc is not None:
        settings, found = build_settings(doc, valid)
        found += untrusted.party_text(doc, ("seller",), "seller")
        out.extend(found)
        if settings is not None:
            for rule in checks.SETTINGS_RULES:
                out.extend(rule(settings))
            repo.settings = None if found or doc.findings else settings
        doc.release()
    projects_dir = root / "projects"
    built_by = repr(repo.settings)  # (part of every client's and project's cache key: printed once, not per file)
    if projects_dir.is_dir() and projects_dir not in links:
        above = shown(projects_dir)
        for entry in sorted(projects_dir.iterdir()):
            if entry.name.startswith(".") or entry in links:
                continue
            if entry.is_dir():
                _load_client(repo, entry, out, pins, links, (built_by, _shown_in(above, projects_dir, entry.name)))
            elif entry.suffix in (".yaml", ".yml"):
                out.append(Finding(shown(entry), 1, 1, "E040", "project file is not inside a client folder",
                                   "move it to projects/<client>/ next to a client.yaml"))
    cache.flush(root)
    return repo, sorted(set(out))


def _nested(folder: Path, subs: list[Path]) -> list[Finding]:
    """YAML files in sub-folders of a client folder would silently never be billed: say so."""
    out = []
    for sub in sorted(p for p in subs if p.suffix not in (".yaml", ".yml") and not p.name.startswith(".")):
        for path in sorted(sub.rglob("*.y*ml")):
            out.append(Finding(shown(path), 1, 1, "E040", "project file is in a sub-folder of a client folder",
                               f"move it to {shown(folder)}/: projects are read only from there"))
    return out


def _load_client(repo: Repo, folder: Path, out: list[Finding], pins: Pins | None, links: set[Path],
                 given: tuple[str, str]) -> None:
    """A client folder: its client.yaml and project files. `given`: repr(repo.settings), and shown(folder)."""
    cid = folder.name
    built_by, base = given
    with os.scandir(folder) as listing:  # each entry's type comes with the listing: no stat per file
        entries = [(e.name, e.is_dir()) for e in listing]
    # names, not paths, until a file is read: pathlib's parsing was ~4% of loading 10,000 projects (names of one
    # folder sort as its paths do; `endswith` is `Path.suffix in (...)` for a name not starting with a dot)
    names = sorted(n for n, _ in entries if n.endswith((".yaml", ".yml")) and not n.startswith(".")
                   and not (links and folder / n in links))
    out.extend(_nested(folder, [folder / n for n, is_dir in entries if is_dir]))
    client_file = folder / "client.yaml"
    if not checks.NAME.match(cid):
        out.append(Finding(shown(folder), 1, 1, "E041", f"client folder name '{cid}' is not allowed",
                           "lowercase letters, digits, - and _ (it is used in file names)"))
        return
    client = None
    rel_folder = os.path.join("projects", cid)  # (the folder is root/projects/<cid>: load_repo lists it so)
    if not client_file.exists() and client_file not in links:
        out.append(Finding(shown(folder), 1, 1, "E040", f"client folder '{cid}' has no client.yaml",
                           "add projects/<client>/client.yaml with the client's name, address and email"))
    elif client_file not in links:
        client, found = _client(repo, client_file, cid, _shown_in(base, folder, "client.yaml"),
                                (os.path.join(rel_folder, "client.yaml"), built_by))
        out.extend(found)
        if client:
            repo.clients[cid] = client
    # what its projects are built with, hashed once here rather than in every project's cache key
    built_with = cache.key("built with", built_by, repr(client))
    stores = (cache.store(repo.root, "projects"), cache.store(repo.root, "stamps")) if pins is not None else None
    seen: dict[str, str] = {}  # stem -> the file name it was first read from
    for name in names:
        if name == "client.yaml":
            continue
        if name == "client.yml":  # (not a project called "client", billed without a word)
            out.append(Finding(shown(folder / name), 1, 1, "E040", "client.yml is not read: a client's file is "
                               "client.yaml", "rename it to client.yaml"))
            continue
        stem = name[:name.rfind(".")]
        if not checks.NAME.match(stem):
            out.append(Finding(shown(folder / name), 1, 1, "E041", f"project file name '{stem}' is not allowed",
                               "lowercase letters, digits, - and _ (it is used in file names)"))
            continue
        if stem in seen:
            out.append(_second_file(repo, folder, name, (cid, stem, seen[stem])))
            continue
        seen[stem] = name
        out.extend(_project(repo, folder / name, _shown_in(base, folder, name), client, pins,
                            built_with, (os.path.join(rel_folder, name), cid, stem), stores))


def _second_file(repo: Repo, folder: Path, name: str, project: tuple[str, str, str]) -> Finding:
    """E048 for `name`, a second file for a project (`web.yml` beside `web.yaml`: NAME keeps stems lowercase, so
    only the two suffixes can collide). Billing from either would be a silent choice: the second is not read, and
    the first, read already (its own findings stay reported), is no longer kept, like any project with an error,
    so no view shows its figures either. Its file is still there, so no E050 is reported for it."""
    cid, stem, first = project
    repo.projects.pop(f"{cid}/{stem}", None)
    repo.due_from.pop(f"{cid}/{stem}", None)
    return Finding(shown(folder / name), 1, 1, "E048", f"a second file for project '{stem}' (also {first})",
                   f"keep one file per project: rename or remove {name}")


def _shown_in(base: str, folder: Path, name: str) -> str:
    """shown(folder / name), given `base` = shown(folder), without a relpath per file (~3% of `check` at 10,000
    projects): the same text unless the working directory is below the folder (`base` all '..'), where `name` could
    be the very folder it is run from."""
    if base == ".":
        return name
    if set(base.split(os.sep)) == {".."}:
        return shown(folder / name)
    return os.path.join(base, name)


def _client(repo: Repo, path: Path, cid: str, where: str, context: tuple[str, str]) -> tuple[Client | None,
                                                                                               list[Finding]]:
    """A client file: the client (None unless clean) and its findings, from the cache when this exact text was
    built with the same settings before (checking its VAT ID and email address was ~0.2 s of a warm `check` at
    2,000 clients). `where` it is shown; `context`: its place in the repo and repr(repo.settings)."""
    text, unreadable = read_text(path, where)
    if text is None:
        return None, unreadable
    store = cache.store(repo.root, "clients")
    # the file's place in the repo as well as where it is shown from: run from inside a client folder, two
    # clients' identical client.yaml are both shown as "client.yaml" (and must not share an entry)
    rel, built_by = context
    key = cache.key("client", rel, where, text, built_by) if store else b""
    hit = store.get(key) if store is not None else None
    if hit is not None and (hit[0] is None or hit[0].id == cid):
        if hit[0] is not None:
            hit[0].loc.doc.text = text  # its position tables are rebuilt from the text if a finding needs them
        return hit
    found: list[Finding] = []
    client = None
    doc, valid = _read(path, "client", found, None, where, text)
    if doc is not None:
        client, problems = build_client(doc, cid, valid)
        if client is not None and not problems:
            problems = [f for rule in vat.CLIENT_RULES for f in rule(client, repo.settings)]
        problems += untrusted.party_text(doc, (), "client")
        doc.release()
        found.extend(problems)
        client = None if problems or doc.findings else client
    if store is not None:
        store.put(key, (client, found))
    return client, found


def _project(repo: Repo, path: Path, where: str, client: Client | None, pins: Pins | None,
             built_with: bytes, place: tuple[str, str, str],
             stores: tuple[cache.Store | None, cache.Store | None] | None) -> list[Finding]:
    """One project file: parsed, validated, built, checked and resolved (kept in `repo.projects` when clean);
    its findings. From the cache when this exact text was built before with the same settings and client (the
    digest of their reprs, `built_with`) and pins: a warm `check` at 10,000 projects spent ~1.5 s building and
    checking projects that had not changed. An unchanged file is found by its stat, without reading it
    (`_vouched`). `place` is its path in the repo, its client folder and its name without suffix; `where` is
    where it is shown from: run from inside a client folder, two clients' identical project files are both shown
    by their name alone (and must not share an entry). `stores`: the projects' and the stamps' (None with no
    pins), looked up once per folder."""
    rel, cid, stem = place
    store, stamps = stores or (None, None)
    if store is None or stamps is None or pins is None:
        text, unreadable = read_text(path, where)
        if text is None:
            return unreadable
        kept, found, _ = _build_project(repo, path, where, text, client, pins, cid, stem)
    else:
        context = (rel, where, built_with, pins.signature(f"{cid}/{stem}"))
        digest, stamp = _vouched(stamps, path, rel)
        hit = store.get(cache.key("project", digest, *context)) if digest is not None else None
        text = None
        if hit is None:  # changed, new, or not settled yet: read it, and build it unless this text was built
            text, unreadable = read_text(path, where)
            if text is None:
                return unreadable
            key = cache.key("project", _content(stamps, stamp, text), *context)
            hit = store.get(key)
            if hit is None:
                kept, found, doc = _build_project(repo, path, where, text, client, pins, cid, stem)
                hit = kept, found, doc, pins.due_from(kept) if kept is not None else None
                store.put(key, hit)
        kept, found, doc, due = hit
        if doc is not None:  # its position tables are rebuilt from the text (read now if not yet) if needed
            doc.text, doc.source = text, str(path)
        if kept is not None:
            repo.due_from[kept.key] = due
    if kept is not None:
        repo.projects[kept.key] = kept
    return found


def _build_project(repo: Repo, path: Path, where: str, text: str, client: Client | None, pins: Pins | None,
                   cid: str, pid: str) -> tuple[Project | None, list[Finding], Doc | None]:
    """(the project to keep or None, the file's findings, its released doc)."""
    found: list[Finding] = []
    kept = None
    doc, valid = _read(path, "project", found, None, where, text)
    if doc is not None:
        project, problems = build_project(doc, cid, pid, repo.settings, client, valid)
        found.extend(problems)
        if project is not None:
            kept = _check_project(repo, project, None if problems or doc.findings else client, found,
                                  resolve=not problems, pins=pins)
        doc.release()
    return kept, found, doc


def _vouched(stamps: cache.Store, path: Path, rel: str) -> tuple[bytes | None, bytes | None]:
    """(the digest of a project file's text without reading it, its stamp's key): the digest when its stat is
    exactly what it was when that text was read, the key when the file is settled (its times older than
    ledger.RACY_NS, so that a same-size rewrite in the same clock tick cannot hide) and its text may be remembered
    under it (`_content`). The stat-keyed index of git and of billed/ledger.py, for the 10,000 files a warm check
    read only to hash them. The stat is taken before the file is read: a change made in between gives the file a
    new ctime, so the stamp remembered can only miss, never vouch for the new text."""
    try:
        st = os.stat(path)
    except OSError:
        return None, None
    stamp = cache.key("stamp", rel, _stamp_of(st))
    settled = max(st.st_mtime_ns, st.st_ctime_ns) < time.time_ns() - ledger_mod.RACY_NS
    return stamps.get(stamp), stamp if settled else None


def _content(stamps: cache.Store, stamp: bytes | None, text: str) -> bytes:
    """The digest of a project file's text, remembered under its stamp once the file is settled (see _vouched)."""
    digest = cache.key("text", text)
    if stamp is not None:
        stamps.put(stamp, digest)
    return digest


def _stamp_of(st: os.stat_result) -> str:
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def _check_project(repo: Repo, project: Project, client: Client | None, out: list[Finding],
                   resolve: bool = True, pins: Pins | None = None) -> Project | None:
    """Semantic rules, then amounts. Amounts are resolved (and checked) unless a field was bad (`resolve` false)
    or the rules found the milestones ambiguous (duplicate ids, two rests, no total): one run reports as much as
    it can. The project is returned, to be kept, only when all is clean and its client is known."""
    problems = [f for rule in checks.PROJECT_RULES for f in rule(project)]
    problems += checks.check_einvoice_currency(project, repo.settings)
    out.extend(problems)
    if not resolve or any(f.code in checks.UNRESOLVABLE for f in problems):
        return None
    project, found = checks.resolve(project, pins.of(project) if pins is not None else None)
    out.extend(found)
    return project if not problems and not found and client is not None else None
