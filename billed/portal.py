"""What the client portal shows beyond the figures: what comes next, what is late, who to pay and how.

Plain data over a `views.Board` (no Streamlit here), so the flags a client or the owner acts on are unit-tested:
a milestone is late once its due date has passed and it is neither done nor cancelled; a document is overdue when
`api.document_states` says so. The seller's contact and payment details come from billed.yaml's `seller` and
`bank`, the logo from templates/ (the one the documents print).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date

from billed.render import LOGOS
from billed.views import Board, InvoiceView, ProjectView

PAYABLE = ("open", "partially paid", "overdue")  # document states with something still to pay


@dataclass(frozen=True, slots=True)
class Step:
    """A milestone not delivered yet, as a client or the owner looks ahead at it."""

    project: ProjectView
    title: str
    due: dt.date | None
    amount: Decimal  # net, as in the contract
    days_late: int  # > 0: its due date has passed and it is neither done nor cancelled
    status: str  # planned or in_progress


def days_late(due: dt.date | None, status: str, on: dt.date) -> int:
    if due is None or status in ("done", "cancelled") or due >= on:
        return 0
    return (on - due).days


def coming_up(board: Board) -> list[Step]:
    """Every milestone still to deliver, the most urgent first: late ones, then by due date, undated last."""
    steps = [Step(p, m.title, m.due, m.amount, days_late(m.due, m.status, board.on), m.status)
             for p in board.projects for m in p.milestones if m.status in ("planned", "in_progress")]
    return sorted(steps, key=lambda s: (s.due is None, s.due or dt.date.max, s.project.title))


def late_milestones(board: Board) -> list[Step]:
    return [s for s in coming_up(board) if s.days_late]


def overdue_documents(board: Board) -> list[InvoiceView]:
    return sorted((i for i in board.invoices if i.state == "overdue"), key=lambda i: (-i.days_overdue, i.number))


def documents_for_client(board: Board) -> list[InvoiceView]:
    """Newest first, but everything still to pay before what is settled: what a client came to see."""
    newest = sorted(board.invoices, key=lambda i: (i.issue_date, i.number), reverse=True)
    return [i for i in newest if i.state in PAYABLE] + [i for i in newest if i.state not in PAYABLE]


def date(board: Board, day: dt.date | None) -> str:
    """A date as the reader's locale writes it (25 Nov 2026, 25.11.2026)."""
    if day is None:
        return ""
    try:
        return format_date(day, "medium", locale=board.locale)
    except (ValueError, LookupError):
        return day.isoformat()


def contact_lines(settings: Any) -> list[str]:
    """The seller as a client would write to them: name, address, email, phone, website."""
    if settings is None:
        return []
    s = settings.seller
    return [s.name, *s.address, *(v for v in (s.email, s.phone, s.website) if v)]


def payment_details(settings: Any) -> list[tuple[str, str]]:
    """(label, value) of the bank transfer details printed on the documents; labels are translated by the caller."""
    bank = settings.bank if settings is not None else None
    if bank is None:
        return []
    iban = " ".join(bank.iban[i:i + 4] for i in range(0, len(bank.iban), 4))  # as printed: groups of four
    pairs = [("Account holder", bank.holder or settings.seller.name), ("IBAN", iban), ("BIC", bank.bic),
             ("Bank", bank.bank)]
    return [(k, v) for k, v in pairs if v]


def logo(root: Path) -> Path | None:
    """The seller's logo, the same file the documents print (templates/logo.svg or logo.png)."""
    return next((root / "templates" / n for n in LOGOS if (root / "templates" / n).is_file()), None)
