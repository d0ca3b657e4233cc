"""billed history: a project's scope changes over git history."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from billed import api, money
from billed import history as history_mod
from billed.cli._common import emit_json, json_option, repo_option, table
from billed.errors import BilledError


def describe(change: dict[str, Any], currency: str, locale: str) -> str:
    return history_mod.describe(change, lambda value: money.fmt(Decimal(value), currency, locale))


def rows(entries: list[dict[str, Any]], locale: str) -> list[list[str]]:
    out = []
    for e in entries:
        cur = e["currency"] or ""

        def total(value: str | None, cur: str = cur) -> str:
            return money.fmt(Decimal(value), cur, locale) if value is not None and cur else "-"

        what = [describe(c, cur, locale) for c in e["changes"]] or [e["note"] or "total changed"]
        for i, text in enumerate(what):
            first = i == 0
            out.append([e["date"][:10] if first else "", e["short"] if first else "", e["author"] if first else "",
                        text, total(e["total_before"]) if first else "", total(e["total_after"]) if first else ""])
    return out


@click.command()
@click.argument("project")
@repo_option
@json_option
def history(project: str, repo: Path | None, as_json: bool) -> None:
    """Every change to PROJECT's milestones and total over git history, oldest first.

    PROJECT is client/project (or just the project id when it is unique). Each row shows the date, commit and
    author, what changed (milestones added or removed, amounts, statuses) and the project total before and after.
    Reads committed history only; uncommitted edits are not shown.
    """
    try:
        entries = api.history(repo, project)
        settings = api.settings(repo)
    except BilledError as exc:
        raise click.ClickException(str(exc)) from None
    locale = settings.locale if settings else "en"
    if as_json:
        emit_json(entries)
        return
    if not entries:
        click.echo(f"No committed history for {project}.")
        return
    click.echo(table(rows(entries, locale), ["date", "commit", "author", "change", "total before", "total after"],
                     {4, 5}))


COMMANDS = [history]
