"""billed sync stripe: pull Stripe payments and refunds into payments/."""

from __future__ import annotations

from pathlib import Path

import click

from billed import api
from billed.cli._common import json_option, repo_option, settled, table


@click.group()
def sync() -> None:
    """Pull payments from a payment provider into payments/ (each exactly once)."""


@sync.command()
@click.option("--dry-run", is_flag=True, help="Show what would be booked; write nothing (the cursor stays).")
@repo_option
@json_option
def stripe(dry_run: bool, repo: Path | None, as_json: bool) -> None:
    """Book the Stripe payments and refunds since the last sync.

    Reads the events since the cursor in payments/.stripe-cursor (all pages; 5xx and 429 are retried), and
    appends each succeeded payment intent that names an issued invoice (metadata billed_number, set by the
    Checkout Sessions Billed creates) and each refund of one, keyed by Stripe's id: running it again, or over
    the same events, adds nothing. Unknown numbers, a currency other than the invoice's, and refunds of payments
    that are not recorded are listed, not booked. The secret key comes from STRIPE_API_KEY or BILLED_STRIPE_KEY
    in the environment only. Commit payments/ afterwards (the nightly workflow does).
    """
    result, findings = api.sync_stripe(repo, dry_run)
    if settled(result, findings, as_json):
        return
    booked = result["booked"]
    if booked:
        click.echo(table([[b["date"], b["invoice"], b["amount"], b["id"], b.get("reverses") or ""] for b in booked],
                         ["date", "invoice", "amount", "id", "reverses"], {2}))
    verb = "would be booked (dry run: nothing written)" if dry_run else "booked in payments/"
    click.echo(f"{len(booked)} Stripe entr{'y' if len(booked) == 1 else 'ies'} (payments and refunds) {verb}; "
               f"{result['already']} already recorded.")
    for item in result["listed"]:
        click.echo(f"  not booked: {item['type']} {item['id']} ({item['date']}): {item['why']}")


COMMANDS = [sync]
