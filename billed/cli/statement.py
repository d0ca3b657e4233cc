"""billed import: book the payments in a bank statement (camt.053, camt.054, MT940)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from billed import api
from billed.cli._common import json_option, repo_option, settled, table


@click.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would be booked; write nothing.")
@repo_option
@json_option
def import_(file: Path, dry_run: bool, repo: Path | None, as_json: bool) -> None:
    """Book the credits of bank statement FILE that pay issued invoices: camt.053 or camt.054 (ISO 20022 XML,
    version 02, 04 or 08, validated against the official schema of that version) or MT940.

    A credit is matched by the invoice number in its remittance text (any case or separators, also broken over
    lines), else by amount and payer (the one open invoice of that client with exactly that balance). Each match
    is one payment with source `bank`, keyed by the bank's entry reference: importing the same or an overlapping
    statement again adds nothing. Credits that match nothing or more than one invoice are listed, never booked;
    debits are ignored, except the return of a credit booked before, which becomes its reversal. A malformed file
    is reported with its place (line:column) and nothing is written.
    """
    result, findings = api.import_statement(repo, file, str(file), dry_run)
    if settled(result, findings, as_json):
        return
    _show(result)


def _show(result: dict[str, Any]) -> None:
    booked = result["booked"]
    if booked:
        click.echo(table([[b["date"], b["invoice"], b["amount"], b.get("payer") or "", b["id"]] for b in booked],
                         ["date", "invoice", "amount", "payer", "id"], {2}))
    verb = "would be booked (dry run: nothing written)" if result["dry_run"] else "booked in payments/"
    click.echo(f"{len(booked)} payment{'s' if len(booked) != 1 else ''} {verb}; {result['already']} already "
               f"recorded; {result['ignored_debits']} debit{'s' if result['ignored_debits'] != 1 else ''} ignored.")
    if result["unmatched"]:
        click.echo(f"\nNot booked ({len(result['unmatched'])}): book them by hand with `billed pay` if they are "
                   "payments")
        for u in result["unmatched"]:
            click.echo(f"  line {u['line']}: {u['date']} {u['amount']} {u['currency']} from {u['payer'] or '?'}: "
                       f"\"{u['text'][:60]}\"\n    {u['why']}")


COMMANDS = [import_]
