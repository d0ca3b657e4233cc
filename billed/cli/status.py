"""billed status."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from billed import api, money
from billed.cli._common import date_option, day, emit_json, json_option, repo_option, report, table

MARKS = {"done": "[x]", "in_progress": "[~]", "planned": "[ ]", "cancelled": "[-]"}


@click.command()
@click.argument("project", required=False)
@repo_option
@date_option
@json_option
def status(project: str | None, repo: Path | None, on: Any, as_json: bool) -> None:
    """Progress per project and milestone: done, in progress, upcoming; amounts done, invoiced, remaining.

    PROJECT is `client/project` or just the project's name. Amounts are net, in each project's currency.
    """
    state = api.load(repo)
    if not state.ok:
        report(state.findings, as_json)
        sys.exit(1)
    rows = api.status(state, project, day(on))
    if project and not rows:
        raise click.ClickException(f"no project named '{project}'; see `billed status` for the list")
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No projects yet: add one as projects/<client>/<project>.yaml (see `billed init`).")
        return
    loc = state.repo.settings.locale

    def m(value: str, cur: str) -> str:
        return money.fmt(Decimal(value), cur, loc)

    summary = [[r["project"], r["currency"], m(r["total"], r["currency"]), m(r["done"], r["currency"]),
                m(r["invoiced"], r["currency"]), m(r["remaining"], r["currency"]), bar(Decimal(r["progress"]))]
               for r in rows]
    click.echo(table(summary, ["project", "cur", "total", "done", "invoiced", "remaining", "progress"], {2, 3, 4, 5}))
    owed = api.receivables(state, day(on)) if not project else []
    if owed:
        click.echo("\nReceivables per client (with VAT; `billed aging` for the detail):")
        click.echo(table([[o["client"], o["currency"], *(m(o[k], o["currency"]) for k in
                                                         ("paid", "outstanding", "overdue", "credit")),
                           via(o["paid_by_source"], lambda v, c=o["currency"]: m(v, c))]
                          for o in owed], ["client", "cur", "paid", "outstanding", "overdue", "credit", "paid via"],
                         {2, 3, 4, 5}))
    for r in rows:
        click.echo(f"\n{r['project']}: {r['title']}")
        if Decimal(r["deposit"]):
            inv = ", ".join(r["deposit_invoiced"]) or "not yet invoiced"
            click.echo(f"  deposit {m(r['deposit'], r['currency'])} ({inv})")
        for ms in r["milestones"]:
            docs = ", ".join(ms["documents"])
            label = {"planned": "upcoming", "in_progress": "in progress"}.get(ms["status"], ms["status"])
            final = " (final)" if ms["final"] else ""
            click.echo(f"  {MARKS[ms['status']]} {ms['id']:<16} {m(ms['amount'], r['currency']):>14}  "
                       f"{label:<11} {docs}{final}".rstrip())


def via(by_source: dict[str, str], fmt: Any) -> str:
    """Where the money came from: 'bank €500.00, stripe €100.00' (manual = typed in with `billed pay`)."""
    return ", ".join(f"{src} {fmt(amount)}" for src, amount in by_source.items())


def bar(fraction: Decimal, width: int = 20) -> str:
    filled = int((fraction * width).to_integral_value(rounding="ROUND_FLOOR"))
    return "#" * filled + "." * (width - filled) + f" {int(fraction * 100)}%"


COMMANDS = [status]
