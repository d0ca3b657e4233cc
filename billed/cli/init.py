"""billed init: scaffold a new billing repo."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from billed.resources import toolkit_dir

FILES = {
    "billed.yaml": """\
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
""",
    "projects/example-client/client.yaml": """\
# yaml-language-server: $schema=../../schemas/client.schema.json
name: Example Client GmbH
address: [Musterstraße 1, 80331 München]
country: DE
vat_id: DE111111111
email: accounts@example.org
""",
    "projects/example-client/website.yaml": """\
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
""",
    ".gitignore": ".venv/\n__pycache__/\ninvoices/.lock\n.billed/\n",
    "invoices/.gitkeep": "",
}


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
def init(directory: Path) -> None:
    """Create a new billing repo in DIRECTORY (default: here): billed.yaml, an example client and project,
    templates/ and schemas/. Refuses to overwrite any existing file."""
    targets = [directory / name for name in FILES] + [directory / "templates", directory / "schemas"]
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise click.ClickException(f"refusing to overwrite: {', '.join(existing)}")
    for name, text in FILES.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for folder in ("templates", "schemas"):
        shutil.copytree(toolkit_dir(folder), directory / folder, ignore=shutil.ignore_patterns("__pycache__"))
    click.echo(f"Created a billing repo in {directory}. Next: edit billed.yaml, then `billed check`.")
    _first_commit(directory, [*FILES, "templates", "schemas"])


def _first_commit(directory: Path, paths: list[str]) -> None:
    """`git init` and a first commit of exactly what init wrote; inside an existing repository, nothing."""
    from billed import git as git_mod

    if git_mod.is_repo(directory):
        click.echo("(Inside an existing git repository: commit these files yourself.)")
        return
    git_mod.git(directory, "init", "--quiet", "--initial-branch=main")
    git_mod.git(directory, "add", "--", *paths)
    proc = git_mod.git(directory, "commit", "--quiet", "--no-verify", "-m", "Start the billing office (billed init)",
                       check=False)
    if proc.returncode != 0:
        raise click.ClickException("git could not make the first commit ("
                                   f"{proc.stderr.decode(errors='replace').strip()}); set your identity "
                                   "(git config --global user.name / user.email), then `git commit` in "
                                   f"{directory}")


COMMANDS = [init]
