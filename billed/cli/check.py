"""billed check / billed verify."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from billed import api
from billed.cli._common import count, json_option, repo_option, report


@click.command()
@repo_option
@json_option
def check(repo: Path | None, as_json: bool) -> None:
    """Validate every file of the billing repo and verify the issued documents.

    Prints each problem as path:line:col: [CODE] message, with a hint, all at once, sorted by file and line.
    Exit 0 when clean, 1 when there are problems, 2 on a usage error.
    """
    state = api.load(repo)
    report(state.findings, as_json)
    if not state.findings and not as_json:
        click.echo(f"OK: {count(len(state.repo.projects), 'project')}, {count(len(state.repo.clients), 'client')}, "
                   f"{count(len(state.ledger.records), 'issued document')} verified.")
    sys.exit(1 if state.findings else 0)


@click.command()
@repo_option
@json_option
def verify(repo: Path | None, as_json: bool) -> None:
    """Check that no issued document under invoices/ was edited, deleted, inserted or renumbered.

    Walks the SHA-256 hash chain of each series. Exit 1 with the path of every damaged file.
    """
    from billed import ledger
    from billed.repo import find_root

    root = find_root(repo)
    state = api.load(root, verify=False)
    found = ledger.verify(state.ledger, state.yearly)
    report(found, as_json)
    if not found and not as_json:
        click.echo(f"OK: {len(state.ledger.records)} issued documents, hash chains intact.")
    sys.exit(1 if found else 0)


COMMANDS = [check, verify]
