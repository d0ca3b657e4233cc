"""Stripe: a Checkout Session per open document for what is still due, and `billed sync stripe` pulling back what
was paid and refunded.

The secret key comes from the environment only (STRIPE_API_KEY, or BILLED_STRIPE_KEY), never from the repo.
BILLED_STRIPE_API_BASE points the official `stripe` library elsewhere (a local fake in the tests, stripe-mock).

Checkout: one session per (document, amount due, currency), created with that as the idempotency key, so asking
twice within Stripe's 24 hours returns the same session and a changed balance a new one. The number is in the
session's and the payment intent's metadata (`billed_number`), which is how a payment finds its document.

Sync reads the event stream (`payment_intent.succeeded`, `refund.created`, `refund.updated`) since a cursor kept
in payments/.stripe-cursor (the `created` second of the newest event seen; the next run starts at that second,
so nothing in it is missed, and what it sees twice is recorded once). Payments are keyed by the payment intent's
id, refunds by the refund's id (a reversal of the payment intent's entry). 5xx and connection errors are retried
by the library (`max_network_retries`), 429 (rate limit) by us, with backoff. Events for an unknown number, in
another currency than the document, dated before it was issued, or refunding more than is left are listed, not
booked.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from billed import money
from billed.errors import BilledError
from billed.payments import DocState, Payment

CURSOR = Path("payments") / ".stripe-cursor"
EVENTS = ["payment_intent.succeeded", "refund.created", "refund.updated"]
KEY_VARS = ("STRIPE_API_KEY", "BILLED_STRIPE_KEY")
T = TypeVar("T")


def client(env: dict[str, str] | None = None, retries: int = 3) -> Any:
    """The StripeClient, or a BilledError that says which variable to set."""
    import stripe

    env = dict(os.environ if env is None else env)
    key = next((env[k] for k in KEY_VARS if env.get(k)), None)
    if not key:
        raise BilledError("no Stripe key: export STRIPE_API_KEY (or BILLED_STRIPE_KEY) with the secret key; in CI "
                          "keep it in the repository's secrets, never in the repo")
    base = env.get("BILLED_STRIPE_API_BASE")
    return stripe.StripeClient(key, max_network_retries=retries,
                               base_addresses={"api": base} if base else None)


def patient(call: Callable[[], T], tries: int = 4, delay: float = 1.0) -> T:
    """`call`, retried on 429 (the library retries 5xx itself, but 429 only when Stripe says so)."""
    import stripe

    for attempt in range(tries):
        try:
            return call()
        except stripe.RateLimitError as exc:
            if attempt == tries - 1:
                raise BilledError(f"Stripe keeps refusing: too many requests ({exc.user_message or exc}); "
                                  "nothing was written, run it again later") from exc
            time.sleep(delay * 2 ** attempt)
        except stripe.StripeError as exc:  # after the library's own retries of 5xx and connection errors
            raise BilledError(f"Stripe: {exc.user_message or exc} (HTTP {exc.http_status}); nothing was "
                              "written, run it again later") from exc
    raise AssertionError("unreachable")


def minor(amount: Decimal, currency: str) -> int:
    """Stripe amounts are integers in the currency's minor unit (ISO 4217 digits)."""
    return int(amount.scaleb(money.minor_units(currency)).to_integral_exact())


def major(units: int, currency: str) -> Decimal:
    return money.quantize(Decimal(units).scaleb(-money.minor_units(currency)), currency)


# The languages Stripe Checkout speaks (docs.stripe.com/js/appendix/supported_locales, the Checkout column):
# the Checkout page a document's pay link opens is in the document's language where Stripe has it.
CHECKOUT_LOCALES = {tag.lower(): tag for tag in (
    "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA", "hr", "hu", "id",
    "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl", "sv", "th",
    "tr", "vi", "zh", "zh-HK", "zh-TW")}


def checkout_locale(language: str) -> str:
    """Stripe Checkout's `locale` for a document's language: 'de_AT' -> 'de', 'en_GB' -> 'en-GB', 'pt_BR' ->
    'pt-BR'; 'auto' (the browser's language) for one Stripe does not speak."""
    tag = language.replace("_", "-").lower()
    return CHECKOUT_LOCALES.get(tag) or CHECKOUT_LOCALES.get(tag.split("-")[0]) or "auto"


def checkout(stripe_client: Any, row: DocState, title: str, email: str | None, success_url: str,
             cancel_url: str, language: str = "en") -> str:
    """The URL of a Checkout Session for what is still due on `row` (created, or the same one again), its page in
    the document's `language` (`checkout_locale`); `title` is the document's, in that language too."""
    cur = row.currency
    due = money.plain(row.balance, cur)
    params: dict[str, Any] = {
        "mode": "payment", "client_reference_id": row.number, "success_url": success_url, "cancel_url": cancel_url,
        "locale": checkout_locale(language),
        "line_items": [{"quantity": 1, "price_data": {"currency": cur.lower(), "unit_amount": minor(row.balance, cur),
                                                      "product_data": {"name": f"{title} {row.number}"}}}],
        "metadata": {"billed_number": row.number, "billed_amount_due": due},
        "payment_intent_data": {"metadata": {"billed_number": row.number}},
    }
    if email:
        params["customer_email"] = email
    key = f"billed-checkout-{row.number}-{due}-{cur}"
    session = patient(lambda: stripe_client.v1.checkout.sessions.create(params=params,
                                                                         options={"idempotency_key": key}))
    return str(session.url)


# --- sync ----------------------------------------------------------------------------------------------------


@dataclass
class Pulled:
    entries: list[dict[str, Any]] = field(default_factory=list)  # to append
    listed: list[dict[str, Any]] = field(default_factory=list)  # seen, not booked, with why
    already: int = 0
    cursor: int | None = None  # the newest event's `created`


def read_cursor(root: Path) -> int | None:
    path = root / CURSOR
    try:
        text = path.read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError):
        return None
    if not text.isdigit():
        raise BilledError(f"{CURSOR}: '{text}' is not a cursor (seconds since 1970); fix it or delete the file to "
                          "read the last 30 days of events")
    return int(text)


def write_cursor(root: Path, cursor: int) -> None:
    path = root / CURSOR
    path.parent.mkdir(parents=True, exist_ok=True)
    when = dt.datetime.fromtimestamp(cursor, dt.UTC).isoformat(timespec="seconds")
    path.write_text(f"{cursor} {when}\n", encoding="utf-8")


def events(stripe_client: Any, since: int | None, delay: float = 1.0) -> Iterator[Any]:
    """Every event of the kinds we book since `since` (inclusive), all pages."""
    params: dict[str, Any] = {"types": EVENTS, "limit": 100}
    if since is not None:
        params["created"] = {"gte": since}
    page = patient(lambda: stripe_client.v1.events.list(params=params), delay=delay)
    while True:
        yield from (e.to_dict() for e in page.data)  # plain dicts: the library's objects are not
        if not page.has_more or not page.data:
            return
        more = {**params, "starting_after": page.data[-1]["id"]}
        page = patient(lambda more=more: stripe_client.v1.events.list(params=more), delay=delay)


def pull(items: Iterator[Any], rows: dict[str, DocState], payments: list[Payment]) -> Pulled:
    """What the events say, as payment entries: each payment intent and each refund once."""
    out = Pulled()
    recorded = {p.id: p for p in payments}
    left = {p.id: p.amount for p in payments if p.reverses is None}
    for p in payments:
        if p.reverses in left:
            left[p.reverses] += p.amount
    seen: set[str] = set()
    for event in sorted(items, key=lambda e: (e["created"], e["id"])):
        out.cursor = max(out.cursor or 0, int(event["created"]))
        obj = event["data"]["object"]
        if obj["id"] in seen or obj.get("status") != "succeeded":
            continue
        seen.add(obj["id"])
        if obj["id"] in recorded:
            out.already += 1
            continue
        day = dt.datetime.fromtimestamp(int(event["created"]), dt.UTC).date()  # when it succeeded
        if event["type"] == "payment_intent.succeeded":
            entry, why = _payment(obj, day, rows)
        else:
            entry, why = _refund(obj, day, rows, recorded, left)
        if entry is not None and entry.get("reverses") is None:  # a refund later in this run finds it
            recorded[obj["id"]] = Payment(entry["invoice"], Decimal(entry["amount"]), day, "", 0, source="stripe",
                                          id=obj["id"])
            left[obj["id"]] = Decimal(entry["amount"])
        if entry is None:
            out.listed.append({"id": obj["id"], "type": event["type"], "date": day.isoformat(), "why": why,
                               "amount": obj.get("amount_received", obj.get("amount")),
                               "currency": obj.get("currency")})
        else:
            out.entries.append(entry)
    return out


def _payment(pi: Any, day: dt.date, rows: dict[str, DocState]) -> tuple[dict[str, Any] | None, str]:
    number = (pi.get("metadata") or {}).get("billed_number")
    cur = str(pi.get("currency") or "").upper()
    row = rows.get(number or "")
    if row is None or row.series != "invoice":
        return None, f"no issued invoice {number}" if number else "not a Billed payment (no billed_number metadata)"
    if cur != row.currency:
        return None, f"{number} is in {row.currency}, the payment in {cur}"
    if day < dt.date.fromisoformat(row.issue_date):
        return None, f"paid {day}, before {number} was issued ({row.issue_date})"
    amount = major(int(pi.get("amount_received") or pi["amount"]), cur)
    return {"invoice": number, "amount": money.plain(amount, cur), "date": day.isoformat(), "source": "stripe",
            "id": pi["id"], "method": "card (Stripe)", "reference": pi.get("latest_charge") or None}, ""


def _refund(refund: Any, day: dt.date, rows: dict[str, DocState], recorded: dict[str, Payment],
            left: dict[str, Decimal]) -> tuple[dict[str, Any] | None, str]:
    pid = refund.get("payment_intent")
    paid = recorded.get(pid or "")
    if paid is None:
        return None, f"refund of {pid}, which is not a recorded payment"
    cur = rows[paid.invoice].currency
    if str(refund.get("currency") or "").upper() != cur:
        return None, f"{paid.invoice} is in {cur}, the refund in {str(refund.get('currency')).upper()}"
    amount = major(int(refund["amount"]), cur)
    if amount > left.get(pid, money.ZERO):
        return None, f"refunds {amount} of {pid}, but only {left.get(pid, money.ZERO)} of it is left"
    left[pid] -= amount
    return {"invoice": paid.invoice, "amount": "-" + money.plain(amount, cur), "date": max(day, paid.date).isoformat(),
            "source": "stripe", "id": refund["id"], "reverses": pid, "method": "refund (Stripe)"}, ""
