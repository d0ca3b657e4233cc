"""Delivery by email (billed/mail.py): `billed send` and `billed remind`, exactly once across racing runs.

Both take the issuing lock (invoices/.lock, ledger.locked) and read the send log under it: a second `send` started
meanwhile waits, then finds every document logged and sends nothing. Each message is logged as an attempt with
its stable Message-ID before it is sent (mail.deliver). A dry run takes no lock and writes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from billed import ledger as ledger_mod
from billed import mail as mail_mod
from billed.errors import BilledError, Finding
from billed.ledger import Record


def _pick(state: Any, numbers: list[str] | None, on: dt.date) -> list[Record]:
    by_number = state.ledger.by_number
    unknown = [n for n in numbers or [] if n not in by_number]
    if unknown:
        raise BilledError(f"no issued document {', '.join(unknown)}; see `billed aging` or invoices/")
    recs = [by_number[n] for n in numbers] if numbers else sorted(
        state.ledger.records, key=lambda r: (r["issue_date"], r["series"], r["seq"]))
    return [r for r in recs if dt.date.fromisoformat(r["issue_date"]) <= on]


def _sender(state: Any, smtp: mail_mod.Smtp | None) -> str:
    return (smtp.sender if smtp and smtp.sender else None) or state.repo.settings.seller.email


@contextlib.contextmanager
def _locked(root: Path, dry_run: bool) -> Iterator[None]:
    if dry_run:
        yield
        return
    with ledger_mod.locked(root / "invoices"):
        yield


def send(root: Path | None, numbers: list[str] | None, on: dt.date, dry_run: bool = False,
         resend: bool = False) -> tuple[list[dict[str, Any]], list[Finding]]:
    """Email each issued document not sent yet (or NUMBERs only) to its client, PDF attached; log each one."""
    from billed.api import load

    state = load(root)
    if not state.ok:
        return [], state.findings
    root = state.repo.root
    picked = _pick(state, numbers, on)
    smtp = None if dry_run or not mail_mod.unsent(picked, mail_mod.read_log(root), resend) else \
        mail_mod.smtp_from_env()  # settings are checked before the lock is taken
    with _locked(root, dry_run):
        log = mail_mod.read_log(root)  # under the lock: what a run that held it before us has sent
        todo = mail_mod.unsent(picked, log, resend)
        messages = mail_mod.documents(todo, root / "templates", _sender(state, smtp))
        return mail_mod.deliver(root, messages, smtp if todo else None, on, log), []


def remind(root: Path | None, on: dt.date, dry_run: bool = False) -> tuple[list[dict[str, Any]], list[Finding]]:
    """A reminder for each overdue document, at most once per billed.yaml `reminders.interval` days."""
    from billed.api import document_states, load

    state = load(root)
    if not state.ok:
        return [], state.findings
    root, settings = state.repo.root, state.repo.settings
    rows = document_states(state, on)
    due = mail_mod.due_reminders(rows, mail_mod.read_log(root), on, settings.reminder_interval)
    smtp = None if dry_run or not due else mail_mod.smtp_from_env()
    with _locked(root, dry_run):
        log = mail_mod.read_log(root)
        due = mail_mod.due_reminders(rows, log, on, settings.reminder_interval)
        messages = mail_mod.reminders(due, state.ledger.by_number, root / "templates", _sender(state, smtp),
                                      settings.reminder_text)
        return mail_mod.deliver(root, messages, smtp if due else None, on, log), []
