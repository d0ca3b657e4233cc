"""The few git operations Billed needs: read history, commit new documents, push them without ever racing.

Git is driven through the real `git` binary (subprocess), not a library: no extra dependency, exactly the
semantics users know from the command line, and it works with whatever credentials helper, token header or SSH
key CI has configured for `git` itself.

Publishing (`publish`) is where concurrency is settled. Two CI runs may issue at the same moment from two clones;
the push is the serialisation point. A rejected push means someone else moved the branch, so the local commit is
dropped, the new state fetched and the plan recomputed from it (never re-using the numbers planned before), a
bounded number of times. Because the plan reconciles against the ledger, a retry issues only what is still due.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billed.errors import BilledError

TRAILER = "Billed-Issued"
READS = ("billed.yaml", "projects", "templates")  # what `issue` makes documents from (api/guards.py)
WATCHED = ("billed.yaml", "projects", "invoices", "templates")  # what an issued document is made from
_RETRYABLE = ("fetch first", "non-fast-forward", "stale info", "cannot lock ref", "failed to update ref",
              "failed to lock", "incorrect old value", "reference already exists")


class GitError(BilledError):
    """git refused (not a repo, no identity, no access): reported to the user in one line."""


def git(root: Path, *args: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run git in `root` with a C locale (messages are parsed), no pager or prompt (CI has no terminal), and no
    automatic housekeeping (it would slow every issuing run; the user's own git commands still do it)."""
    env = {**os.environ, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat"}
    try:
        proc = subprocess.run(["git", "-c", "gc.auto=0", "-c", "maintenance.auto=false", *args], cwd=root,
                              input=stdin, capture_output=True, env=env, check=False)
    except FileNotFoundError as exc:
        raise GitError("git is not installed or not on PATH") from exc
    if check and proc.returncode != 0:
        raise GitError(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip() or proc.returncode}")
    return proc


def out(root: Path, *args: str) -> str:
    return git(root, *args).stdout.decode("utf-8", errors="replace").strip()


def is_repo(root: Path) -> bool:
    try:
        return git(root, "rev-parse", "--is-inside-work-tree", check=False).returncode == 0
    except GitError:
        return False


def git_dir(root: Path) -> Path | None:
    """The repository's git folder, wherever it is: a billing repo may be a sub-folder of a bigger repo, or a
    worktree whose .git is a file. None outside git."""
    try:
        proc = git(root, "rev-parse", "--absolute-git-dir", check=False)
    except GitError:  # no git binary: no history
        return None
    return Path(proc.stdout.decode().strip()) if proc.returncode == 0 else None


def head(root: Path) -> str:
    return out(root, "rev-parse", "HEAD")


def current_branch(root: Path) -> str:
    proc = git(root, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if proc.returncode != 0:
        raise GitError("HEAD is detached; pass --branch NAME to say which branch to push")
    return proc.stdout.decode().strip()


def dirty(root: Path, paths: Sequence[str] = WATCHED, ignored: bool = False) -> list[str]:
    """Uncommitted or untracked files among `paths` (the lock file excepted), relative to `root`: an invoice must
    come from a commit. With `ignored`, files git ignores count too: what is billed from must be in git."""
    present = [p for p in paths if (root / p).exists() or (root / p).is_symlink()]
    if not present:
        return []
    args = ["status", "--porcelain", "-z", "--untracked-files=all", *(["--ignored=matching"] if ignored else [])]
    items = git(root, *args, "--", *present).stdout.decode("utf-8", errors="replace").split("\0")
    top = Path(out(root, "rev-parse", "--show-toplevel"))
    found, i = [], 0
    while i < len(items) and items[i]:
        status, path = items[i][:2], items[i][3:]
        i += 2 if "R" in status or "C" in status else 1  # a rename is followed by its old name
        where = top / path
        files = [where] if not path.endswith("/") else sorted(  # an ignored folder is listed as a whole
            Path(d) / f for d, _, names in os.walk(where) for f in names)
        found += [rel for f in files if not (rel := os.path.relpath(f, root.resolve())).endswith("invoices/.lock")]
    return found


_TEMP = re.compile(r"^\..+\.[0-9]+\.tmp$")  # ledger.atomic_write's temp files: .<name>.<pid>.tmp
_RENDERS = (".html", ".pdf", ".xml")


def leftovers(root: Path) -> list[str]:
    """Untracked files under invoices/ that only an interrupted issuing run leaves behind: its temp files, and
    renderings whose record was never written (a document exists exactly when its record does; the record is
    written last). Tracked files are never among them: what git holds is evidence, not litter."""
    text = git(root, "ls-files", "-z", "--others", "--exclude-standard", "--", "invoices").stdout.decode()
    out = []
    for rel in filter(None, text.split("\0")):
        path = root / rel
        if _TEMP.match(path.name) or (path.suffix in _RENDERS and not path.with_suffix(".json").exists()):
            out.append(rel)
    return out


def stale_index_lock(root: Path) -> None:
    """A killed git leaves `.git/index.lock` behind, and every later git command that writes the index fails.
    Say what it is and how to remove it safely, before anything is issued."""
    folder = git_dir(root)
    lock = folder / "index.lock" if folder is not None else None
    if lock is None or not lock.exists():
        return
    minutes = max(0, int((time.time() - lock.stat().st_mtime) // 60))
    raise GitError(f"{lock} exists (for {minutes} min): git holds this lock while it writes its index, and a git "
                   "command that was killed or crashed leaves it behind. If no git command is running in this "
                   "repository (`ps aux | grep git`), it is stale: remove it with `rm "
                   f"{lock}` and run again. Nothing was issued.")


def fork_point(root: Path, base: str) -> str:
    """The merge base of `base` and HEAD: what a change is compared with (see changed_since)."""
    proc = git(root, "merge-base", base, "HEAD", check=False)
    if proc.returncode != 0:
        raise GitError(f"cannot compare with '{base}': {proc.stderr.decode(errors='replace').strip()} "
                       "(fetch it first, e.g. actions/checkout with fetch-depth: 0)")
    return proc.stdout.decode().strip()


def blob_at(root: Path, rev: str, path: str) -> bytes | None:
    """The content of `path` (relative to `root`) at commit `rev`; None when it is not there."""
    proc = git(root, "show", f"{rev}:./{path}", check=False)
    return proc.stdout if proc.returncode == 0 else None


def changed_since(root: Path, base: str, under: str) -> list[tuple[str, str, str | None]]:
    """(status, path, new path) for every change under `under` from the merge base of `base` and HEAD to the
    working tree. The merge base, not `base` itself: on a branch that is behind, documents issued on main since
    the fork are not the branch's doing and must not look deleted. In a pull request's merge checkout the merge
    base is the target's tip, so this is exactly what merging changes."""
    fork = fork_point(root, base)
    text = out(root, "diff", "--relative", "--name-status", "--find-renames", "-z", fork, "--", under)
    items = text.split("\0")
    found, i = [], 0
    while i < len(items) and items[i]:
        status = items[i]
        if status[0] in "RC":
            found.append((status[0], items[i + 1], items[i + 2]))
            i += 3
        else:
            found.append((status[0], items[i + 1], None))
            i += 2
    return found


def commit(root: Path, paths: Sequence[str], message: str) -> str:
    """Commit exactly `paths` (nothing else the user may have staged) and return the new commit's id."""
    git(root, "add", "--", *paths)
    git(root, "commit", "--quiet", "--no-verify", "-m", message, "--only", "--", *paths)
    return head(root)


def fetch(root: Path, remote: str, branch: str) -> str | None:
    """The remote branch's tip after fetching it, or None when the branch does not exist there yet."""
    proc = git(root, "fetch", "--quiet", remote, f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}", check=False)
    if proc.returncode != 0:
        if b"couldn't find remote ref" in proc.stderr:
            return None
        raise GitError(f"git fetch {remote} failed: {proc.stderr.decode(errors='replace').strip()}")
    return out(root, "rev-parse", f"refs/remotes/{remote}/{branch}")


def catch_up(root: Path, tip: str | None) -> None:
    """Fast-forward to the remote tip when behind it (CI may check out a commit that is no longer the tip)."""
    if tip is None or git(root, "merge-base", "--is-ancestor", tip, "HEAD", check=False).returncode == 0:
        return  # up to date, or only ahead
    if git(root, "merge-base", "--is-ancestor", "HEAD", tip, check=False).returncode != 0:
        raise GitError("this branch and the remote have diverged; pull (rebase) first, then issue again")
    git(root, "reset", "--quiet", "--keep", tip)


def push(root: Path, remote: str, branch: str) -> bool:
    """Push HEAD to the branch. False when rejected because the branch moved on; GitError for anything else."""
    proc = git(root, "push", "--porcelain", remote, f"HEAD:refs/heads/{branch}", check=False)
    if proc.returncode == 0:
        return True
    text = (proc.stdout + proc.stderr).decode(errors="replace")
    rejected = [line for line in text.splitlines() if line.startswith("!")]
    if rejected and all(any(r in line for r in _RETRYABLE) for line in rejected):
        return False
    if not rejected and any(r in text for r in _RETRYABLE):
        return False
    raise GitError(f"git push to {remote} {branch} failed: {text.strip()}")


def drop(root: Path, sha: str) -> None:
    """Undo our own unpushed commit: the documents in it were never published, so their numbers are free."""
    git(root, "reset", "--quiet", "--keep", f"{sha}~1")


def message(records: Sequence[dict[str, Any]]) -> str:
    """Subject, one line per document, and a trailer per number: CI recognises Billed's own commits by it."""
    numbers = [r["number"] for r in records]
    subject = f"Issue {', '.join(numbers)}" if len(numbers) <= 3 else f"Issue {len(numbers)} documents"
    body = [f"- {r['number']} ({r['kind']}) {r['client']}/{r['project']} {_refs(r)}: {r['total']} {r['currency']}"
            for r in records]
    return "\n".join([subject, "", *body, "", *(f"{TRAILER}: {n}" for n in numbers)]) + "\n"


def _refs(record: dict[str, Any]) -> str:
    return ", ".join(line["ref"] for line in record.get("lines", []) if line.get("role") in ("charge", "deposit"))


def document_paths(records: Sequence[dict[str, Any]]) -> list[str]:
    """The files of each record, relative to `root`: the record itself and every rendering it hashes."""
    paths = []
    for r in records:
        base = Path("invoices") / str(r["year"]) / r["number"]
        paths.append(f"{base}.json")
        paths += [f"{base}.{kind}" for kind in sorted(r.get("files") or {})]
    return paths


@dataclass
class Published:
    written: list[dict[str, Any]] = field(default_factory=list)
    adopted: list[dict[str, Any]] = field(default_factory=list)  # issued earlier, committed now
    findings: list[Any] = field(default_factory=list)
    commit: str | None = None
    pushed: bool = False
    attempts: int = 0
    branch: str | None = None


Issuer = Callable[[], tuple[list[dict[str, Any]], list[Any]]]


def publish(root: Path, issue: Issuer, *, push_to: str | None = None, branch: str | None = None,
            retries: int = 5, backoff: float = 0.2) -> Published:
    """Issue, commit the new documents, and (with `push_to`) push; on a rejected push re-plan and retry.

    Documents already issued here but not committed (a `billed issue` without --commit, or an `issue --commit`
    killed before its commit) are committed too, with their trailers: they verified as part of the ledger the
    run issued from, and git is where they must be witnessed (billed/witness.py)."""
    if not is_repo(root):
        raise GitError(f"{root} is not inside a git repository; --commit needs one (run `git init`)")
    stale_index_lock(root)
    waiting = pending(root)
    if unclean := [p for p in dirty(root) if p not in waiting]:
        raise GitError(f"uncommitted changes in {', '.join(unclean[:5])}; commit them first (an invoice must come "
                       "from a committed state)")
    branch = branch or (current_branch(root) if push_to else None)
    result = Published(branch=branch)
    for attempt in range(retries + 1):
        result.attempts = attempt + 1
        if push_to:
            catch_up(root, fetch(root, push_to, branch))
        adopted = _records(root, pending(root))  # (before issuing: what this run writes is untracked too)
        if refused := [r for r in adopted if unadoptable(root, r)]:
            raise GitError(_refusal(root, refused))
        result.written, result.findings = issue()
        if result.findings or not (result.written or adopted):
            result.commit = None
            return result
        result.commit = _commit_written(root, result.written, adopted)
        result.adopted = adopted
        if not push_to or push(root, push_to, branch):
            result.pushed = bool(push_to)
            return result
        kept = {rel: (root / rel).read_bytes() for rel in document_paths(adopted) if (root / rel).is_file()}
        drop(root, result.commit)
        for rel, data in kept.items():  # issued here before (and perhaps mailed): untracked again, never lost
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        time.sleep(random.uniform(0, backoff * 2 ** attempt))
    raise GitError(f"gave up after {retries + 1} attempts: {push_to}/{branch} kept moving; nothing was pushed, "
                   "run again later (a rerun issues only what is still due)")


def pending(root: Path) -> list[str]:
    """Documents issued in this checkout and never committed: untracked records under invoices/<year>/ (and the
    renderings beside them), relative to `root`."""
    text = git(root, "ls-files", "-z", "--others", "--exclude-standard", "--", "invoices").stdout.decode()
    untracked = set(filter(None, text.split("\0")))
    records = {p for p in untracked if p.endswith(".json") and re.fullmatch(r"invoices/[0-9]{4}/[^/]+\.json", p)}
    stems = {p[:-len(".json")] for p in records}
    return sorted(records | {p for p in untracked if os.path.splitext(p)[0] in stems})


def _records(root: Path, paths: list[str]) -> list[dict[str, Any]]:
    out = []
    for rel in paths:
        if rel.endswith(".json"):
            with contextlib.suppress(OSError, ValueError):
                out.append(json.loads((root / rel).read_text(encoding="utf-8")))
    return sorted(out, key=lambda r: (str(r.get("series")), r.get("year", 0), r.get("seq", 0)))


def unadoptable(root: Path, record: dict[str, Any]) -> str | None:
    """Why an untracked record may not be committed with a trailer, or None when it may.

    A trailer makes the witness vouch for a record, so only a record issued from the committed state now at HEAD
    is adopted: the commit it was issued at (`source.head`, api/guards.py) must be in HEAD's history and no commit
    since may touch what documents are made of. Otherwise it may come from a state that was committed and then
    undone (an attacker's IBAN, restored after). `--full-history`, so a change and its undoing on a merged side
    branch count too. Not `source.commit`: that is where the milestone became done, often well before the issue.
    A record issued with --allow-dirty, or by a Billed that did not record `head`, is never adopted."""
    src = record.get("source") if isinstance(record.get("source"), dict) else {}
    sha = src.get("head")
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{40}", sha):
        return "it names no commit it was issued at"
    if src.get("uncommitted"):
        return f"it was issued from uncommitted files ({', '.join(map(str, src['uncommitted']))})"
    if git(root, "merge-base", "--is-ancestor", sha, "HEAD", check=False).returncode != 0:
        return f"the commit it was issued at, {sha[:12]}, is not in the history of HEAD"
    since = out(root, "log", "--full-history", "--format=%H", f"{sha}..HEAD", "--", *READS).split()
    if since:
        return (f"{len(since)} commit(s) since it was issued at {sha[:12]} changed what documents are made of "
                f"({', '.join(READS)}), the latest {since[0][:12]}")
    return None


def _refusal(root: Path, refused: list[dict[str, Any]]) -> str:
    lines = [f"  {p}: {unadoptable(root, r)}" for r in refused for p in document_paths([r])[:1]]
    return ("refusing to commit documents issued here earlier that the committed state at HEAD does not account "
            "for; a trailer would make `billed verify` vouch for them:\n" + "\n".join(lines) + "\nNothing was "
            "committed. Inspect each (its seller, bank and lines); if it is not yours, delete its files; if it is, "
            "commit it by hand with its `Billed-Issued: <number>` trailer as docs/git.md shows for adopting "
            "documents, then run again.")


def _commit_written(root: Path, written: list[dict[str, Any]], adopted: list[dict[str, Any]] = ()) -> str:
    paths = document_paths(written)
    try:
        return commit(root, document_paths(adopted) + paths, message([*adopted, *written]))
    except GitError:
        for p in paths:  # never published: leave no unexplained files behind (documents issued before stay)
            (root / p).unlink(missing_ok=True)
        git(root, "reset", "--quiet", "--", *paths, check=False)
        raise
