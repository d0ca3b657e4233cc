"""Dunning levels: which reminder (if any) each overdue document gets on a day.

Without `reminders.levels` in billed.yaml, a reminder goes every `reminders.interval` days with the wording of
`reminders.text`, for as long as the document is overdue. With levels (e.g. reminder, second_reminder,
final_notice), the first goes `after` days past the due date, each next one `after` days after the one before,
each with its own text (billed.yaml, else the template's for that level), and after the last none. The send log
(mail/sent.log) is the memory: how many reminders a document got, and when the last one went.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from billed.mail import done, due_reminders, last_reminders
from billed.model import Settings
from billed.payments import DocState


@dataclass(frozen=True)
class Step:
    row: DocState
    level: str  # the level's key: `reminder` for classic reminders
    number: int  # 1 for the first level
    last: bool  # the last level: a final notice
    text: str | None  # the wording from billed.yaml; None: the template's for `level`


def due(rows: list[DocState], log: list[dict[str, Any]], on: dt.date, settings: Settings) -> list[Step]:
    levels = settings.reminder_levels
    if not levels:
        return [Step(row, "reminder", 1, False, settings.reminder_text)
                for row in due_reminders(rows, log, on, settings.reminder_interval)]
    sent: dict[str, int] = {}
    for e in log:
        if e.get("kind") == "reminder" and done(e):
            sent[e["number"]] = sent.get(e["number"], 0) + 1
    last = last_reminders(log)
    out = []
    for row in rows:
        k = sent.get(row.number, 0)
        if row.state != "overdue" or k >= len(levels):
            continue
        level = levels[k]
        waited = row.days_overdue if k == 0 else (on - last[row.number]).days
        if waited >= level["after"]:
            out.append(Step(row, level["name"], k + 1, k + 1 == len(levels), level.get("text")))
    return out
