"""billed pay: record a payment received."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from billed import api, money
from billed.cli._common import date_option, day, emit_json, json_option, repo_option, report


@click.command(context_settings={"ignore_unknown_options": True})  # so `pay X -5` is refused as an amount
@click.argument("number")
@click.argument("amount")
@date_option
@click.option("--method", default=None, help="How it was paid, e.g. 'bank transfer', 'card', 'online'.")
@click.option("--reference", default=None, help="The bank's or payment provider's reference.")
@click.option("--currency", default=None, help="The currency received; refused unless it is the invoice's.")
@repo_option
@json_option
def pay(number: str, amount: str, on: Any, method: str | None, reference: str | None, currency: str | None,
        repo: Path | None, as_json: bool) -> None:
    """Record a payment of AMOUNT against invoice NUMBER, e.g. `billed pay INV-2026-0001 1190.00`.

    Appends one entry to payments/<year of --date>.yaml (the file's earlier lines are never rewritten). Partial
    payments, several payments per invoice and overpayments (kept as a credit balance) are all fine. Refused,
    with nothing written and exit 1, for an unknown document, a credit note, a wrong currency, an amount of zero
    or less or with too many decimals, or a date before the invoice was issued.
    """
    on_day = day(on)
    result, findings = api.record_payment(repo, number, amount, on_day, method, reference, currency)
    if findings or result is None:
        report(findings, as_json)
        sys.exit(1)
    if as_json:
        emit_json(result)
        return
    doc = result["document"]
    cur = doc["currency"]

    def m(value: str) -> str:
        return money.fmt(Decimal(value), cur)

    click.echo(f"Recorded {m(result['payment']['amount'])} for {number} on {on_day} "
               f"({result['payment']['file']}:{result['payment']['line']}).")
    balance = Decimal(doc["balance"])
    if balance > 0:
        click.echo(f"{number} is {doc['state'].replace('_', ' ')}: {m(doc['balance'])} still due.")
    elif balance < 0:
        click.echo(f"{number} is paid, with a credit balance of {m(str(-balance))} in the client's favour.")
    else:
        click.echo(f"{number} is paid in full.")


COMMANDS = [pay]
