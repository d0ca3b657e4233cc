"""billed interest: bill statutory late-payment interest and compensation as documents of their own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from billed import api
from billed.cli._common import date_option, day, json_option, repo_option, settled, table


@click.command()
@date_option
@click.option("--dry-run", is_flag=True, help="Show the documents that would be issued; write nothing.")
@click.option("--no-pdf", "no_pdf", is_flag=True, help="Write the records and HTML only (`billed render` later).")
@repo_option
@json_option
def interest(on: Any, dry_run: bool, no_pdf: bool, repo: Path | None, as_json: bool) -> None:
    """Issue an invoice for the late-payment interest (and the flat compensation) of each late invoice.

    Interest runs per day on the balance still open, from the day after the due date up to --date (or the day
    it was paid), at the reference rate of each half-year plus the margin in billed.yaml `late_payment`
    (Directive 2011/7/EU: 8 points, 40.00 EUR compensation; a German seller: 9 points, 5 for consumers,
    § 288 BGB). Each document names the invoice and the days it covers, so running it again later bills only
    the days since. The late invoice itself never changes. Nothing is issued without `late_payment`.
    """
    if dry_run:
        docs, findings = api.bill_interest(repo, day(on), dry_run=True)
    else:
        docs, findings = api.bill_interest(repo, day(on), pdf=not no_pdf)
    if settled([dict(d) for d in docs], findings, as_json):
        return
    if not docs:
        click.echo("No late-payment interest to bill.")
        return
    click.echo(table([[d["number"], d["interest"][0]["on"], d["interest"][0]["from"] or "",
                       d["interest"][0]["until"], d["interest"][0]["amount"],
                       "yes" if d["interest"][0]["compensation"] else "", d["total"], d["currency"]] for d in docs],
                     ["number", "on", "from", "until", "interest", "flat", "total", "cur"], {4, 6}))
    verb = "would be issued (dry run: nothing written)" if dry_run else "issued in invoices/"
    click.echo(f"\n{len(docs)} document{'s' if len(docs) != 1 else ''} {verb}.")


COMMANDS = [interest]
