"""billed send / billed remind: documents and payment reminders by email."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from billed import api
from billed.cli._common import date_option, day, emit_json, json_option, repo_option, report, table

SMTP_HELP = ("SMTP settings come from the environment only: BILLED_SMTP_HOST, BILLED_SMTP_PORT, BILLED_SMTP_USER, "
             "BILLED_SMTP_PASSWORD, BILLED_SMTP_SECURITY (starttls, ssl or none; default starttls) and "
             "BILLED_SMTP_FROM (default: the seller's email in billed.yaml).")


def _show(entries: list[dict[str, Any]], dry_run: bool, as_json: bool, what: str) -> None:
    if as_json:
        emit_json(entries)
        return
    if not entries:
        click.echo(f"Nothing to {what}.")
        return
    click.echo(table([[e["number"], e["to"], e["subject"]] for e in entries], ["number", "to", "subject"]))
    verb = "would be sent (dry run: nothing was sent)" if dry_run else "sent and logged in mail/sent.log"
    click.echo(f"\n{len(entries)} message{'s' if len(entries) != 1 else ''} {verb}.")


@click.command(epilog=SMTP_HELP)
@click.argument("numbers", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and write nothing.")
@click.option("--resend", is_flag=True, help="Send again documents the send log says were sent.")
@repo_option
@date_option
@json_option
def send(numbers: tuple[str, ...], dry_run: bool, resend: bool, repo: Path | None, on: Any, as_json: bool) -> None:
    """Email issued documents to their clients, each with its PDF attached.

    Without NUMBERS, every document issued up to --date that was never sent; with NUMBERS, only those. The
    message comes from templates/email.txt.j2 (pay link and bank details included) and goes to the client's
    email from the document. Each message the server accepts is appended to mail/sent.log, so running it again
    sends nothing new unless --resend.
    """
    entries, findings = api.send(repo, list(numbers) or None, day(on), dry_run, resend)
    if findings:
        report(findings, as_json)
        sys.exit(1)
    _show(entries, dry_run, as_json, "send")


@click.command(epilog=SMTP_HELP)
@click.option("--dry-run", is_flag=True, help="Show which reminders would go; send and write nothing.")
@repo_option
@date_option
@json_option
def remind(dry_run: bool, repo: Path | None, on: Any, as_json: bool) -> None:
    """Email a polite reminder for each document overdue on --date (past its due date and not fully paid).

    At most one reminder per document every `reminders.interval` days (billed.yaml, default 7), with the wording
    of `reminders.text`, from templates/reminder.txt.j2; the PDF is attached again. Logged in mail/sent.log.
    With `reminders.levels` (e.g. reminder, second_reminder, final_notice) each level goes once, `after` days
    past the due date or the level before, with its own text. Every reminder carries the pay link for the
    balance still due, and the late-payment interest accrued so far when billed.yaml has `late_payment`.
    """
    entries, findings = api.remind(repo, day(on), dry_run)
    if findings:
        report(findings, as_json)
        sys.exit(1)
    _show(entries, dry_run, as_json, "remind")


COMMANDS = [send, remind]
