"""Git as the witness of invoices/: every issued record must have entered history in an issuing commit.

The hash chain (ledger.verify) proves that the records form one unbroken sequence, but a chain can be extended
by anyone who can run Billed: issue a document on a branch with an attacker's IBAN, restore billed.yaml, commit,
and the chain still verifies. And the newest record has no successor to vouch for it, so deleting it leaves a
shorter but valid chain. Git knows better: Billed's own issuing run (`issue --commit`, see git.py) commits
exactly the new documents with one `Billed-Issued: <number>` trailer each. So:

- a record whose committed content (its blob at HEAD) was not brought in by a commit carrying the trailer for its
  number was added or rewritten by hand: a finding (E062), on main too, not only in review;
- a record an issuing commit brought in that is no longer in the working tree was deleted: a finding (E062);
- a record not committed yet (a local `billed issue` without --commit) is simply not witnessed yet.

One `git log` over the record files and one `git ls-tree`, whatever the number of records (57,000 at the
10,000-project bench), and only for the commits since the last run (the result is cached per HEAD). Outside git
there is no witness and only the chain is checked. In a shallow clone the history beyond the cut is unknown:
records that entered history there are not judged (CI should fetch the full history, `fetch-depth: 0`;
docs/security.md).

This is an integrity check against mistakes and forged pull requests, not a signature: whoever may push to main
can write a trailer by hand. Protect main (reviews, required checks, signed commits) for that.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from billed import cache
from billed import git as git_mod
from billed.errors import Finding, shown
from billed.ledger import Record

CODE = "E062"
FORMAT = 1  # bump when History or how it is read changes: cached ones of another format are read again
_HINT_ADDED = ("only Billed's issuing run (`billed issue --commit`, in CI on main) may add to invoices/: remove "
               "the file in a commit, restore what was issued from git, and let CI issue again (documents issued "
               "before the folder was in git: adopt them as docs/git.md shows)")
_HINT_CHANGED = "restore it as committed: `git checkout -- {path}`"
_HINT_DELETED = "issued documents are never deleted: restore it with `git checkout {commit} -- {path}`"


@dataclass
class History:
    """What git says about the record files: who brought each blob in, and which numbers were issued where."""

    shallow: set[str] = field(default_factory=set)  # commits at the cut of a shallow clone
    # (path, blob) -> the commits that brought it in without issuing it: read only for a blob not in `issued`, so
    # the issuing adds (every record, normally) are not kept twice
    introduced: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    issued: dict[tuple[str, str], str] = field(default_factory=dict)  # (path, blob) -> issuing commit
    issued_paths: dict[str, str] = field(default_factory=dict)  # path -> issuing commit
    subjects: dict[str, str] = field(default_factory=dict)
    at_head: dict[str, str] = field(default_factory=dict)  # path -> blob
    head: str = ""  # the commit this was read at
    format: int = 1  # of this structure in the cache (FORMAT)


def read_history(root: Path) -> History | None:
    """None when `root` is not in git or has no commit yet: nothing to witness.

    Kept in the cache folder (billed/cache.py) under the HEAD it was read at: a later run at the same HEAD asks git
    nothing more, and one whose HEAD descends from it reads only the new commits (`old..HEAD`). The full `git log`
    was ~0.7 s of CPU at 11,000 records."""
    try:  # one git for what three asked: is this git, where is its shallow file, and which commit is HEAD
        proc = git_mod.git(root, "rev-parse", "--absolute-git-dir", "--git-path", "shallow", "--verify", "--quiet",
                           "HEAD", check=False)
    except git_mod.GitError:  # no git binary: no history
        return None
    lines = proc.stdout.decode().splitlines()
    if proc.returncode != 0 or len(lines) != 3:  # outside git (128), or no commit yet (1)
        return None
    head, shallow = lines[2], _shallow(root, lines[1])
    old = cache.load_blob(root, "witness")
    if isinstance(old, History) and old.format == FORMAT and old.shallow == shallow:
        if old.head == head:
            return old
        if git_mod.git(root, "merge-base", "--is-ancestor", old.head, head, check=False).returncode == 0:
            history = _merge(old, _log(root, f"{old.head}..{head}", shallow), head)
            history.at_head = _tree(root)
            cache.save_blob(root, "witness", history)
            return history
    history = _log(root, head, shallow)
    history.head, history.at_head = head, _tree(root)
    cache.save_blob(root, "witness", history)
    return history


def _log(root: Path, revisions: str, shallow: set[str]) -> History:
    """Who brought each record blob into history over `revisions`: one `git log` over the record files."""
    history = History(shallow=shallow)
    mark = f"BILLED-{os.urandom(12).hex()}"  # commit messages are user text: an unguessable record separator
    fmt = f"{mark}%H%x00%(trailers:key={git_mod.TRAILER},valueonly,separator=%x2C)%x00%s%x00"
    raw = git_mod.git(root, "log", "--no-renames", "--raw", "--no-abbrev", "-z", "--diff-filter=AM", f"--format={fmt}",
                      "--relative", revisions, "--", ":(glob)invoices/*/*.json").stdout
    introduced, issued, issued_paths = history.introduced, history.issued, history.issued_paths
    for chunk in raw.decode("utf-8", errors="replace").split(mark)[1:]:
        sha, trailers, subject, rest = chunk.split("\0", 3)
        numbers = set(map(str.strip, trailers.split(",")))
        numbers.discard("")
        history.subjects[sha] = subject
        items = rest.lstrip("\0\n").split("\0")
        for meta, path in zip(items[0::2], items[1::2], strict=False):
            if meta[:1] != ":" or path[-5:] != ".json":
                continue
            fields = meta.split()  # :<old mode> <new mode> <old blob> <new blob> <status>
            key = (path, fields[3])
            if fields[4] == "A" and path[path.rfind("/") + 1:-5] in numbers:
                issued.setdefault(key, sha)
                issued_paths.setdefault(path, sha)
            elif key in introduced:
                introduced[key].append(sha)
            else:
                introduced[key] = [sha]
    return history


def _merge(old: History, new: History, head: str) -> History:
    """`old` extended by the newer commits of `new` (newest first, as git log lists them)."""
    introduced = dict(old.introduced)
    for key, shas in new.introduced.items():
        introduced[key] = shas + introduced.get(key, [])
    return History(shallow=old.shallow, introduced=introduced, issued={**old.issued, **new.issued},
                   issued_paths={**old.issued_paths, **new.issued_paths}, subjects={**old.subjects, **new.subjects},
                   head=head)


def _tree(root: Path) -> dict[str, str]:
    """Record path -> blob at HEAD."""
    listing = git_mod.git(root, "ls-tree", "-r", "-z", "HEAD", "--", "invoices").stdout.decode("utf-8", "replace")
    out = {}
    for entry in listing.split("\0"):
        if entry[-5:] == ".json":  # <mode> <type> <blob>\t<path>
            meta, _, path = entry.partition("\t")
            out[path] = meta.split()[2]
    return out


def _shallow(root: Path, where: str) -> set[str]:
    path = Path(where)
    path = path if path.is_absolute() else root / path
    try:
        return set(path.read_text().split())
    except OSError:
        return set()


def findings(root: Path, records: list[Record]) -> tuple[list[Finding], list[Finding]]:
    """(problems, warnings): E062 for each record git does not vouch for and for each issued record that is gone;
    W004 when a shallow clone hides where some records came from (not a problem: no exit code changes)."""
    history = read_history(root)
    if history is None:
        return [], []
    out = changed(root)
    unseen = 0  # records that entered history before a shallow clone's cut
    # a record's path in the repo is what follows `inside` (no relpath: ~a third of this function at 6,000 records)
    inside = os.path.join(os.path.abspath(root), "")
    cut = len(inside)
    rels = [(file[cut:] if file.startswith(inside) else os.path.relpath(file, root)).replace(os.sep, "/")
            for file in [rec.file for rec in records]]
    at_head, issued = history.at_head, history.issued
    for rel, rec in zip(rels, records, strict=True):
        blob = at_head.get(rel)
        if blob is None or (rel, blob) in issued:
            continue  # not committed yet, or committed by the issuing run
        by = history.introduced.get((rel, blob), [])
        if (by and all(sha in history.shallow for sha in by)) or (not by and history.shallow):
            unseen += 1  # it entered history before a shallow clone's cut: git cannot tell here
            continue
        where = (f"in commit {by[-1][:12]} ({history.subjects.get(by[-1], '')!r}), which is not an issuing commit"
                 if by else "outside any issuing commit")
        out.append(Finding(shown(root / rel), 1, 1, CODE, f"{rec.number} entered git history {where}: it was "
                           f"added or rewritten by hand, not issued by Billed", _HINT_ADDED))
    for rel in sorted(history.issued_paths.keys() - set(rels)):
        sha = history.issued_paths[rel]
        if not os.path.lexists(root / rel):
            number = os.path.basename(rel)[:-len(".json")]
            out.append(Finding(shown(root / rel), 1, 1, CODE, f"{number} was issued in commit {sha[:12]} and its "
                               "record is gone (deleted or renamed)",
                               _HINT_DELETED.format(commit=sha[:12], path=rel)))
    if not unseen:
        return out, []
    noun = "record" if unseen == 1 else "records"
    return out, [Finding(shown(root / "invoices"), 1, 1, "W004", f"{unseen} issued {noun} entered git history "
                         "before this shallow clone's cut: git cannot vouch for them here (E062)",
                         "fetch the whole history (actions/checkout with `fetch-depth: 0`, as the billing office's "
                         "workflows do)")]


def changed(root: Path) -> list[Finding]:
    """E062 for each committed file under invoices/<year>/ that differs from HEAD in the working tree.

    The witness judges HEAD's copy of a record; what `send` mails and `verify` chains is the file on disk. A
    committed record edited and re-sealed (chain and hashes rewritten) would otherwise pass. Issued files never
    change, so any difference is a finding. Asked of git on every check (one `git diff`): the history cache is
    per HEAD, the working tree is not. Deleted files are reported elsewhere (a gone record above, a gone
    rendering by ledger.verify, E060)."""
    raw = git_mod.git(root, "diff", "--relative", "--name-only", "-z", "--no-renames", "--diff-filter=MT", "HEAD", "--",
                      ":(glob)invoices/*/*").stdout.decode("utf-8", "replace")
    return [Finding(shown(root / rel), 1, 1, CODE, f"{rel} differs from its committed copy at HEAD: an issued "
                    "document never changes after it is committed", _HINT_CHANGED.format(path=rel))
            for rel in sorted(filter(None, raw.split("\0")))]


APPEND_ONLY = ("mail/sent.log",)  # billed/mail.py LOG; kept literal here so witness does not import the mailer
_HINT_LOG = ("restore it (`git checkout {base} -- {path}`): only lines added at its end may be in a change; a "
             "document to mail again is sent with `billed send --resend`")


def log_rewrites(root: Path, base: str) -> list[Finding]:
    """E063 for each append-only log a change does more to than append to (check --base).

    mail/sent.log is the memory that keeps `billed send` from mailing a document twice: a pull request that
    edits, cuts or deletes lines of it makes CI mail those documents again once merged. Appends are a send run's
    own doing and are fine. Compared with the merge base, as E061 is, and byte for byte: the old content must be
    a prefix of the new."""
    fork = git_mod.fork_point(root, base)
    out = []
    for rel in APPEND_ONLY:
        old = git_mod.blob_at(root, fork, rel)
        if not old:
            continue
        path = root / rel
        new = None if path.is_symlink() or not path.is_file() else path.read_bytes()
        if new is not None and new.startswith(old):
            out += _appended_problems(path, rel, old, new, base)
            continue
        if new is None:
            line, what = 1, f"deletes {rel}"
        else:
            same = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), len(new))
            line = old[:same].count(b"\n") + 1
            what = f"changes or removes line {line} of {rel}"
        out.append(Finding(shown(path), line, 1, "E063", f"this change {what} (since {base}); the send log only "
                           "grows, and documents whose lines are gone would be mailed again",
                           _HINT_LOG.format(base=base, path=rel)))
    return out


def _appended_problems(path: Path, rel: str, old: bytes, new: bytes, base: str) -> list[Finding]:
    """E063 for each line a change appends to the send log that `billed send` did not write: not a JSON object
    with its number, kind, status and Message-ID (it would crash `send` on main, or stand for a mail never sent)."""
    from billed import mail

    out = []
    first = old.count(b"\n") + 1
    for i, raw in enumerate(new[len(old):].split(b"\n"), start=first):
        if not raw.strip():
            continue
        try:
            entry = json.loads(raw)
        except (ValueError, RecursionError):
            entry = None
        problem = mail.entry_problem(entry) if isinstance(entry, dict) else "not a JSON object"
        if problem is None and "status" not in entry:
            problem = "a send log entry without status"
        if problem:
            out.append(Finding(shown(path), i, 1, "E063", f"this change appends a line `billed send` did not "
                               f"write to {rel} ({problem}; since {base})", _HINT_LOG.format(base=base, path=rel)))
    return out


