"""A billing office: what `billed init` writes and what `billed upgrade` refreshes.

A billing repo made by `init` is a git repository with a first commit: billed.yaml, an example project marked
`example: true` (never billed), templates/ and schemas/, .gitignore, .pre-commit-config.yaml, a short README,
the GitHub workflows of billed/_office/ (pull-request check; issue, push, send and remind on main, nightly and on
demand), and what a host of the dashboard needs (streamlit_app.py, requirements.txt, .streamlit/config.toml).
The workflows install exactly the Billed that ran `init`, from `.github/billed-requirements.txt`: Billed itself
(a git commit when it was installed from git, else its version) and every package it needs to issue, each pinned
to the version installed here (the dashboard's Streamlit is an optional extra, not among them); requirements.txt
names the same Billed with its dashboard extra.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from billed import git as git_mod
from billed.errors import BilledError
from billed.resources import toolkit_dir

OFFICE = Path(__file__).resolve().parent / "_office"
REQUIREMENTS = ".github/billed-requirements.txt"
HOSTING = "requirements.txt"  # what Streamlit Community Cloud installs for streamlit_app.py (docs/dashboard.md)

BILLED_YAML = """\
# yaml-language-server: $schema=schemas/billed.schema.json
seller:
  name: Your Studio Ltd
  address: [1 Example Street, 10115 Berlin]
  country: DE
  vat_id: DE000000000
  email: billing@example.com
currency: EUR
tax_rate: 19
locale: en_GB
payment_terms: 14
numbering:
  invoice: INV-{year}-{seq:04}
  credit_note: CN-{year}-{seq:04}
  reset: yearly
"""

EXAMPLE_CLIENT = """\
# yaml-language-server: $schema=../../schemas/client.schema.json
name: Example Client GmbH
address: [Musterstraße 1, 80331 München]
country: DE
vat_id: DE111111111
email: accounts@example.org
"""

EXAMPLE_PROJECT = """\
# yaml-language-server: $schema=../../schemas/project.schema.json
title: Website
example: true          # made up: `billed issue` refuses to bill it; delete this folder, add your own clients
total: 10000.00
start: 2026-01-05
deposit: 20%
milestones:
  - id: design
    title: Design
    amount: 40%
    status: planned        # planned | in_progress | done | cancelled
  - id: launch
    title: Build and launch
    amount: rest
    final: true            # the deposit is deducted on this one
"""


def _metadata() -> Any:
    """importlib.metadata, imported on first use: with packaging it cost ~0.15 s of every command's start."""
    from importlib import metadata

    return metadata


def version() -> str:
    return _metadata().version("billed")


def pin() -> str:
    """This Billed as a requirement a runner can install: the exact git commit when it was installed from git
    (PEP 610 direct_url.json), else its version from the package index."""
    dist = _metadata().distribution("billed")
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    vcs = direct.get("vcs_info")
    if vcs and vcs.get("commit_id"):
        return f"billed @ {vcs['vcs']}+{direct['url']}@{vcs['commit_id']}"
    return f"billed=={dist.version}"


def requirements(billed: str | None = None) -> str:
    """The text of .github/billed-requirements.txt: Billed, then every package it needs, pinned to the versions
    installed here (markers evaluated here; no extras: the dashboard is not installed in CI)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    metadata = _metadata()
    pinned: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [("billed", frozenset())]
    while todo:
        name, extras = todo.pop()
        for text in metadata.distribution(name).requires or []:
            req = Requirement(text)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (extras or {""})):
                continue
            key = canonicalize_name(req.name)
            if key in pinned or key == "billed":
                continue
            try:
                dist = metadata.distribution(req.name)
            except metadata.PackageNotFoundError as exc:
                raise BilledError(f"{req.name}, which Billed needs, is not installed here; reinstall Billed") from exc
            pinned[key] = f"{dist.metadata['Name']}=={dist.version}"
            todo.append((req.name, frozenset(req.extras)))
    lines = ["# What the billing workflows install: exactly this Billed and the packages it needs to issue, each",
             f"# pinned (written by Billed {version()}). Move the pin: install the Billed you want, run `billed "
             "upgrade`,", "# commit this file.", billed or pin(), *sorted(pinned.values(), key=str.lower)]
    return "\n".join(lines) + "\n"


def hosting_requirements(billed: str | None = None) -> str:
    """The text of requirements.txt: the same Billed as the workflows, with its dashboard extra (Streamlit).
    Its own packages are not pinned here: the host resolves them (the workflows' file pins them for CI)."""
    line = re.sub(r"^billed(?=\s*(?:[@=<>!~;]|$))", "billed[dashboard]", (billed or pin()).strip(), count=1)
    return ("# What a host of the dashboard (Streamlit Community Cloud, entrypoint streamlit_app.py) installs: the\n"
            f"# Billed of {REQUIREMENTS}, with its dashboard. `billed upgrade` moves both.\n{line}\n")


def _text(name: str) -> str:
    return (OFFICE / name).read_text(encoding="utf-8").replace("@@VERSION@@", version())


def files(billed: str | None = None) -> dict[str, str]:
    """Every file `init` writes besides templates/ and schemas/, by path."""
    return {
        "billed.yaml": BILLED_YAML,
        "projects/example-client/client.yaml": EXAMPLE_CLIENT,
        "projects/example-client/website.yaml": EXAMPLE_PROJECT,
        ".gitignore": _text("gitignore"),
        ".pre-commit-config.yaml": _text("pre-commit-config.yaml"),
        "README.md": _text("README.md"),
        ".github/workflows/billing-check.yml": _text("workflows/billing-check.yml"),
        ".github/workflows/billing-office.yml": _text("workflows/billing-office.yml"),
        ".github/billed-push": _text("billed-push"),
        REQUIREMENTS: requirements(billed),
        "streamlit_app.py": _text("streamlit_app.py"),
        HOSTING: hosting_requirements(billed),
        ".streamlit/config.toml": _text("streamlit-config.toml"),
        "invoices/.gitkeep": "",
    }


FOLDERS = ("templates", "schemas")


def init(directory: Path, billed: str | None = None) -> tuple[list[str], bool]:
    """Write a new billing office into `directory` and make its first commit. Returns the paths written and whether
    a repository was created (not inside an existing one). Refuses, writing nothing, if any target exists."""
    texts = files(billed)
    existing = [str(directory / t) for t in [*texts, *FOLDERS] if (directory / t).exists()]
    if existing:
        raise BilledError(f"refusing to overwrite: {', '.join(existing)}")
    for name, text in texts.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (directory / ".github/billed-push").chmod(0o755)
    for folder in FOLDERS:
        # not the toolkit's catalogs: a repo's templates/locale/ is read before the toolkit's (billed/i18n.py), so a
        # copy would hide every later correction of a translation; the office adds only the messages it rewords
        shutil.copytree(toolkit_dir(folder), directory / folder, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    paths = [*texts, *FOLDERS]
    if git_mod.is_repo(directory):
        return paths, False
    git_mod.git(directory, "init", "--quiet", "--initial-branch=main")
    git_mod.git(directory, "add", "--", *paths)
    proc = git_mod.git(directory, "commit", "--quiet", "--no-verify", "-m", f"Start the billing office (billed init, "
                       f"Billed {version()})", check=False)
    if proc.returncode != 0:
        raise BilledError(f"the files are written, but git could not make the first commit "
                          f"({proc.stderr.decode(errors='replace').strip()}); set your identity (git config "
                          f"--global user.name / user.email), then `git commit` in {directory}")
    return paths, True


def _name(line: str) -> str:
    from packaging.utils import canonicalize_name

    return canonicalize_name(line.split("@")[0].split("=")[0].strip())


def upgrade(root: Path, billed: str | None = None) -> tuple[str, str]:
    """Rewrite .github/billed-requirements.txt (and requirements.txt, the dashboard host's, where there is one)
    for the running Billed; (the old Billed line, the new one)."""
    path = root / REQUIREMENTS
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    before = next((ln for ln in old.splitlines() if _name(ln) == "billed"), "(none)")
    text = requirements(billed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if (root / HOSTING).is_file():
        (root / HOSTING).write_text(hosting_requirements(billed), encoding="utf-8")
    return before, billed or pin()
