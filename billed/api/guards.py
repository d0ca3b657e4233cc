"""What `billed issue` refuses before it plans, and what `billed check` warns about while a repo is still new.

Issue only from committed state: an invoice names the commit it came from, so what it was made of must be in git.

`billed issue` reads billed.yaml, projects/ and templates/. Inside a git repository, an uncommitted, untracked
or git-ignored file among them is refused (E080), naming each file, unless the user says `--allow-dirty`; then
every record issued states those files in its `source` (`"uncommitted": [...]`), so the trail says it was not
made from a commit. Outside git there is no trail to lose: issuing is allowed and `source` is null (the records
name no commit), as before. payments/ and invoices/ are not read to decide what to issue (a payment changes no
plan; invoices/ is Billed's own output, checked by `verify`), so they are not watched here; `--commit` still
refuses uncommitted files under invoices/ (git.WATCHED).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from billed import git as git_mod
from billed.errors import Finding
from billed.model import Project, Settings
from billed.repo import shown

READS = git_mod.READS  # what `issue` makes documents from


def uncommitted(root: Path) -> list[str] | None:
    """The files `issue` reads that differ from HEAD (untracked and ignored ones too); None outside git."""
    if not git_mod.is_repo(root):
        return None
    return git_mod.dirty(root, READS, ignored=True)


def findings(root: Path, files: list[str]) -> list[Finding]:
    """E080 for each uncommitted file: all at once, each with its place and what to do."""
    return [Finding(shown(root / f), 1, 1, "E080", f"{f} has uncommitted changes (or is not in git); an invoice "
                    "must come from a committed state", "commit it first (`git add` and `git commit`), or run "
                    "`billed issue --allow-dirty`: the records then name the uncommitted files") for f in files]


def mark(docs: list[dict[str, Any]], files: list[str], head: str | None = None) -> list[dict[str, Any]]:
    """Documents issued with --allow-dirty say so in their `source`, with the files that were not committed; and
    inside git every document names the commit checked out when it was issued (`head`): `issue --commit` adopts
    a document issued here earlier only if nothing it is made of changed since that commit (git.unadoptable)."""
    extra = {**({"head": head} if head else {}), **({"uncommitted": sorted(files)} if files else {})}
    if not extra:
        return docs
    return [{**d, "source": {**(d.get("source") or {}), **extra}} for d in docs]


def head(root: Path) -> str | None:
    """The commit checked out, or None (outside git, or before the first commit)."""
    if not git_mod.is_repo(root):
        return None
    proc = git_mod.git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False)
    sha = proc.stdout.decode().strip()
    return sha if proc.returncode == 0 and sha else None


def examples(projects: dict[str, Project]) -> list[Finding]:
    """E081 for each project marked `example: true` (what `billed init` writes): never bill a made-up client."""
    return [p.loc.finding(("example",), "E081", f"{p.key} is the example project `billed init` wrote; Billed "
                          "does not bill it", "delete its folder (or this file) and add your own client and "
                          "project, or remove `example: true` if this project is real") for p in projects.values()
            if p.example]


PLACEHOLDER_SELLER = ("Your Studio Ltd", "DE000000000", "billing@example.com")  # what `billed init` writes


def warnings(settings: Settings | None, projects: dict[str, Project]) -> list[Finding]:
    """Not errors (the repo is valid), but nothing should be issued like this: `check` prints them, exits 0."""
    out = []
    if settings is not None and {settings.seller.name, settings.seller.vat_id, settings.seller.email} & set(
            PLACEHOLDER_SELLER):
        out.append(settings.loc.finding(("seller", "name"), "W001", "the seller in billed.yaml is still the "
                                        f"placeholder `billed init` wrote ({settings.seller.name}, "
                                        f"{settings.seller.vat_id})", "put your own company, address, VAT id and "
                                        "email under `seller:` before issuing anything"))
    out += [Finding(f.path, f.line, f.col, "W002", f.message, f.hint) for f in examples(projects)]
    return out
