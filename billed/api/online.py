"""Paying online with Stripe: where a document's pay URL sends the client, and `billed sync stripe`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from billed import i18n, stripe_sync
from billed import payments as payments_mod
from billed.api import State, document_states, load
from billed.api.pay import doc_state, pay_url
from billed.errors import BilledError, Finding
from billed.titles import title


def pay_redirect(state: State, number: str, on: dt.date | None = None, env: dict[str, str] | None = None) -> str | None:
    """Where the pay URL of invoice `number` leads now: a Stripe Checkout for the balance still due (the same
    session while the balance is the same), or None when nothing is due (or no such invoice).

    This is what the hosted dashboard's `?pay=NUMBER` page redirects to. Without a Stripe key in the environment
    it is the `pay_link` pattern filled with the balance (api.pay_url), or None."""
    on = on or dt.date.today()
    row = doc_state(state, number, on)
    if row is None or row.series != "invoice" or row.balance <= 0:
        return None
    settings = state.repo.settings
    try:
        client = stripe_sync.client(env)
    except BilledError:
        return pay_url(state, number, on) if settings and settings.pay_link else None
    rec = state.ledger.by_number[number]
    back = pay_url(state, number, on) if settings and settings.pay_url else None
    success = settings.stripe.get("success_url") or back
    cancel = settings.stripe.get("cancel_url") or back
    if not success or not cancel:
        raise BilledError("Stripe Checkout needs somewhere to send the client back: set pay_url (or "
                          "stripe.success_url and stripe.cancel_url) in billed.yaml")
    language = i18n.language_of(rec.data)  # the document's words on Stripe's page too, not English
    words = i18n.translations(language, state.repo.root / "templates")
    return stripe_sync.checkout(client, row, title(rec.data, words), rec["buyer"].get("email"),
                                success.replace("{number}", number), cancel.replace("{number}", number), language)


def sync_stripe(root: Path | None, dry_run: bool = False, env: dict[str, str] | None = None,
                retry_delay: float = 1.0) -> tuple[dict[str, Any] | None, list[Finding]]:
    """Append the Stripe payments and refunds since the cursor, each once; then move the cursor.

    All or nothing: the entries are checked as they would be, and on any finding nothing is written (the cursor
    stays, so the next run sees the same events again)."""
    state = load(root)
    if not state.ok:
        return None, state.findings
    client = stripe_sync.client(env)
    root_path = state.repo.root
    since = stripe_sync.read_cursor(root_path)
    rows = {s.number: s for s in document_states(state, dt.date.max)}
    pulled = stripe_sync.pull(stripe_sync.events(client, since, retry_delay), rows, state.payments)
    added: list[payments_mod.Payment] = []
    if not dry_run:
        if pulled.entries:
            added, _, found = payments_mod.append_entries(root_path, state.ledger, pulled.entries)
            if found:
                return None, found
        if pulled.cursor is not None:
            stripe_sync.write_cursor(root_path, pulled.cursor)
    return {"booked": [p.as_json() for p in added] if not dry_run else pulled.entries, "already": pulled.already,
            "listed": pulled.listed, "since": since, "cursor": pulled.cursor, "dry_run": dry_run}, []
