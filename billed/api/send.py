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

from billed import dunning, money
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
    if not mail_mod.unsent(picked, mail_mod.read_log(root), resend):
        return [], []  # nothing to do (the log only grows): no lock taken, nothing written
    smtp = None if dry_run else mail_mod.smtp_from_env()  # settings are checked before the lock is taken
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
    if not dunning.due(rows, mail_mod.read_log(root), on, settings):
        return [], []  # nothing due (the log only grows): no lock taken, nothing written
    smtp = None if dry_run else mail_mod.smtp_from_env()
    with _locked(root, dry_run):
        log = mail_mod.read_log(root)
        due = dunning.due(rows, log, on, settings)
        items = [(step.row, reminder_context(state, step, on)) for step in due]
        messages = mail_mod.reminders(items, state.ledger.by_number, root / "templates", _sender(state, smtp))
        return mail_mod.deliver(root, messages, smtp if due else None, on, log), []


def reminder_context(state: Any, step: dunning.Step, on: dt.date) -> dict[str, Any]:
    """What templates/reminder.txt.j2 gets besides the document: the level and its wording, the pay link for
    the balance still due (not the invoice total), and the late-payment interest accrued and not billed yet."""
    from billed.api import accrued, pay_url

    rec = state.ledger.by_number[step.row.number]
    terms, acc, flat = accrued(state, rec, on)
    cur = rec["currency"]
    owed = acc.total(cur) if acc is not None else None
    return {"text": step.text, "level": step.level, "level_number": step.number, "final": step.last,
            "pay_url": pay_url(state, rec.number, on),
            "interest": money.plain(owed, cur) if owed else None,
            "interest_rate": f"{acc.periods[-1].rate.normalize():f}" if owed else None,
            "compensation": money.plain(terms.compensation, cur) if flat and terms is not None else None}
