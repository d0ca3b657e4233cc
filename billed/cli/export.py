"""billed aging / billed export: receivables for people, documents and payments for the books."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from billed import api, money
from billed.cli._common import date_option, day, emit_json, json_option, repo_option, report, table
from billed.cli.status import via
from billed.payments import BUCKETS


@click.command()
@repo_option
@date_option
@json_option
def aging(repo: Path | None, on: Any, as_json: bool) -> None:
    """Receivables aging: what each client owes, by days past the due date (current, 1-30, 31-60, 61-90, 90+).

    One row per client and currency (currencies are never added up). Credit notes reduce the invoices they
    correct; payments recorded with `billed pay` up to --date count. Overpayments show as a credit.
    """
    state = api.load(repo)
    if not state.ok:
        report(state.findings, as_json)
        sys.exit(1)
    rows = api.aging(state, day(on))
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("Nothing outstanding.")
        return
    loc = state.repo.settings.locale if state.repo.settings else "en"

    def m(value: str, cur: str) -> str:
        return money.fmt(Decimal(value), cur, loc) if Decimal(value) else "-"

    body = [[r["client"], r["currency"], *(m(r[b], r["currency"]) for b in (*BUCKETS, "total", "credit")),
             via(r["paid_by_source"], lambda v, c=r["currency"]: m(v, c))] for r in rows]
    click.echo(table(body, ["client", "cur", *BUCKETS, "total", "credit", "paid via"], set(range(2, 9))))


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "beancount"]), required=True,
              help="csv: documents.csv, payments.csv and projects.csv; beancount: one journal (receivables, "
                   "income, VAT, payments) that `bean-check` accepts.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write to (default: export/ in the repo). Existing files there are replaced.")
@click.option("--stdout", "to_stdout", is_flag=True, help="Print instead of writing files (csv: --what picks one).")
@click.option("--what", type=click.Choice(["documents", "payments", "projects"]), default="documents",
              show_default=True,
              help="With --format csv --stdout: which table to print.")
@repo_option
@date_option
def export(fmt: str, out: Path | None, to_stdout: bool, what: str, repo: Path | None, on: Any) -> None:
    """Export issued documents and payments for accounting, up to --date (default: today).

    csv writes documents.csv (one row per document and VAT rate/category, with the category, the buyer's VAT
    id, state and balance), payments.csv and projects.csv (per project: net, VAT invoiced, VAT on the net rounded
    once, and the difference, vat_rounding, which the final invoice squares). beancount writes billed.beancount:
    each invoice debits Assets:Receivable:<client> and credits Income and Liabilities:VAT:<rate> (one account per
    rate); credit notes the reverse; each payment moves money from the receivable to Assets:Bank; a closing
    comment lists the projects whose vat_rounding is not 0.00.
    """
    state = api.load(repo)
    if not state.ok:
        report(state.findings, False)
        sys.exit(1)
    files = api.export(state, fmt, day(on))
    if to_stdout:
        name = f"{what}.csv" if fmt == "csv" else next(iter(files))
        click.echo(files[name], nl=False)
        return
    folder = out or state.repo.root / "export"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
        click.echo(f"wrote {folder / name}")


COMMANDS = [aging, export]
