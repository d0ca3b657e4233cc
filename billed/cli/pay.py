"""billed pay: record a payment received."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from billed import api, money
from billed.cli._common import date_option, day, emit_json, json_option, repo_option, report, settled, table


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
    if settled(result, findings, as_json):
        return
    doc = result["document"]
    cur = doc["currency"]

    def m(value: str) -> str:
        return money.fmt(Decimal(value), cur)

    click.echo(f"Recorded {m(result['payment']['amount'])} for {number} on {on_day} "
               f"({result['payment']['file']}:{result['payment']['line']}, id {result['payment']['id']}).")
    _balance(number, doc, m)


def _balance(number: str, doc: dict[str, Any], m: Any) -> None:
    balance = Decimal(doc["balance"])
    if balance > 0:
        click.echo(f"{number} is {doc['state'].replace('_', ' ')}: {m(doc['balance'])} still due.")
    elif balance < 0:
        click.echo(f"{number} is paid, with a credit balance of {m(str(-balance))} in the client's favour.")
    else:
        click.echo(f"{number} is paid in full.")


@click.command()
@click.argument("payment_id")
@click.argument("amount", required=False)
@date_option
@click.option("--method", default=None, help="How the money went back, e.g. 'bank transfer'.")
@click.option("--reference", default=None, help="The bank's or provider's reference of the refund.")
@repo_option
@json_option
def refund(payment_id: str, amount: str | None, on: Any, method: str | None, reference: str | None,
           repo: Path | None, as_json: bool) -> None:
    """Reverse payment PAYMENT_ID in full, or AMOUNT of it: a refund, a returned transfer or a mistaken entry.

    Appends a negative entry with `reverses: PAYMENT_ID` against the same invoice (the original is never edited),
    so the invoice is open (or overdue) again for that amount. `billed payments` lists the ids: P-<year>-<n> for
    entries typed in, the provider's id for Stripe and bank entries. Refused, with nothing written, for an unknown
    id, a reversal of a reversal, or more than is left of the payment.
    """
    on_day = day(on)
    result, findings = api.reverse_payment(repo, payment_id, amount, on_day, reference, method)
    if settled(result, findings, as_json):
        return
    doc = result["document"]

    def m(value: str) -> str:
        return money.fmt(Decimal(value), doc["currency"])

    click.echo(f"Reversed {m(result['payment']['amount'].lstrip('-'))} of {payment_id} ({doc['number']}) on "
               f"{on_day} ({result['payment']['file']}:{result['payment']['line']}).")
    _balance(doc["number"], doc, m)


@click.command()
@click.argument("number", required=False)
@repo_option
@date_option
@json_option
def payments(number: str | None, repo: Path | None, on: Any, as_json: bool) -> None:
    """List the payments recorded up to --date (of invoice NUMBER only, if given): id, source, what they reverse.

    Sources: manual (`billed pay`), stripe (`billed sync stripe`), bank (`billed import`). The id is what
    `billed refund` takes.
    """
    state = api.load(repo)
    if not state.ok:
        report(state.findings, as_json)
        sys.exit(1)
    rows = api.payment_list(state, day(on), number)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No payments recorded yet.")
        return
    loc = state.repo.settings.locale if state.repo.settings else "en"
    click.echo(table([[r["date"], r["invoice"], money.fmt(Decimal(r["amount"]), r["currency"], loc), r["source"],
                       r["id"], r["reverses"] or "", r["reference"] or ""] for r in rows],
                     ["date", "invoice", "amount", "source", "id", "reverses", "reference"], {2}))


COMMANDS = [pay, refund, payments]
