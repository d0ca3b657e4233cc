"""Stripe, against a fake Stripe API on loopback (tests/_fakestripe.py) through the official `stripe` library:
Checkout Sessions for the balance due, idempotently; `billed sync stripe` with pagination, retries, the same
event twice, an unknown number, a currency mismatch and refunds. Invoices as in test_payments: INV-2026-0001
2380.00, INV-2026-0002 4760.00 (issued 2026-01-20), INV-2026-0003 4760.00 (issued 2026-02-10), all EUR."""

from __future__ import annotations

import calendar
import datetime as dt

import pytest

from billed import api
from billed.errors import BilledError
from tests._fakestripe import payment_intent, refund, serve
from tests.conftest import SETTINGS, run, run_process, snapshot, write
from tests.test_payments import issued, states  # noqa: F401


def at(day: str, hour: int = 12) -> int:
    return calendar.timegm(dt.datetime.fromisoformat(f"{day}T{hour:02}:00:00").timetuple())


@pytest.fixture
def fake(monkeypatch):
    with serve() as f:
        monkeypatch.setenv("STRIPE_API_KEY", "sk_test_fake")
        monkeypatch.setenv("BILLED_STRIPE_API_BASE", f.url)
        yield f


def test_sync_books_each_payment_once_across_pages_and_runs(issued, fake):  # noqa: F811
    # 120 payments of 1.00 on INV-2026-0002: two pages of 100
    for i in range(120):
        fake.event(f"evt_{i:03}", "payment_intent.succeeded", at("2026-02-01") + i,
                   payment_intent(f"pi_{i:03}", "INV-2026-0002", 100, created=at("2026-02-01") + i))
    result = run(issued, "sync", "stripe", "--json")
    assert result.code == 0, result.err
    assert len(result.json["booked"]) == 120 and result.json["already"] == 0
    pages = [r for r in fake.requests if r[1] == "/v1/events"]
    assert len(pages) == 2 and pages[1][3]["starting_after"] == ["evt_020"]  # newest first: 119 .. 20, then 19 .. 0
    assert pages[0][2]["Authorization"] == "Bearer sk_test_fake"
    assert states(issued, "2026-02-02")["INV-2026-0002"]["paid"] == "120.00"  # 120 x 1.00
    cursor = (issued / "payments/.stripe-cursor").read_text()
    assert cursor.startswith(f"{at('2026-02-01') + 119} 2026-02-01T12:01:59+00:00")
    # the next run starts at the cursor's second: it sees the newest event again, and books nothing twice
    before = snapshot(issued)
    again = run(issued, "sync", "stripe")
    assert again.code == 0 and "0 Stripe entries (payments and refunds) booked in payments/; 1 already recorded" in (
        again.out)
    assert fake.requests[-1][3]["created[gte]"] == [str(at("2026-02-01") + 119)]
    assert snapshot(issued) == before
    # a cursor moved back (here: deleted, so from the start) reads the events again and books none of them again:
    # each entry carries its Stripe id (docs/security.md)
    (issued / "payments/.stripe-cursor").unlink()
    again = run(issued, "sync", "stripe", "--json")
    assert again.code == 0 and again.json["booked"] == [] and again.json["already"] == 120
    assert "created[gte]" not in fake.requests[-1][3]
    assert snapshot(issued) == before


def test_same_event_twice_unknown_number_currency_and_refunds(issued, fake):  # noqa: F811
    paid = payment_intent("pi_A", "INV-2026-0001", 238000, created=at("2026-01-25"))
    fake.event("evt_1", "payment_intent.succeeded", at("2026-01-25"), paid)
    fake.event("evt_1b", "payment_intent.succeeded", at("2026-01-25"), paid)  # Stripe may deliver twice
    fake.event("evt_2", "payment_intent.succeeded", at("2026-01-26"),
               payment_intent("pi_B", "INV-2026-0099", 5000, created=at("2026-01-26")))
    fake.event("evt_3", "payment_intent.succeeded", at("2026-01-27"),
               payment_intent("pi_C", "INV-2026-0002", 5000, "usd", created=at("2026-01-27")))
    fake.event("evt_4", "payment_intent.succeeded", at("2026-01-27"),
               payment_intent("pi_D", None, 999, created=at("2026-01-27")))
    fake.event("evt_5", "refund.created", at("2026-01-28"), refund("re_1", "pi_A", 38000, created=at("2026-01-28"),
                                                                   status="pending"))
    fake.event("evt_6", "refund.updated", at("2026-01-29"), refund("re_1", "pi_A", 38000, created=at("2026-01-28")))
    fake.event("evt_7", "refund.created", at("2026-01-29"), refund("re_2", "pi_X", 100, created=at("2026-01-29")))
    result = run(issued, "sync", "stripe", "--json")
    assert result.code == 0, result.err
    assert [(b["invoice"], b["amount"], b["date"], b["id"], b["source"], b["reverses"])
            for b in result.json["booked"]] == [
        ("INV-2026-0001", "2380.00", "2026-01-25", "pi_A", "stripe", None),
        ("INV-2026-0001", "-380.00", "2026-01-29", "re_1", "stripe", "pi_A")]  # the day it succeeded
    assert {item["id"]: item["why"] for item in result.json["listed"]} == {
        "pi_B": "no issued invoice INV-2026-0099",
        "pi_C": "INV-2026-0002 is in EUR, the payment in USD",
        "pi_D": "not a Billed payment (no billed_number metadata)",
        "re_2": "refund of pi_X, which is not a recorded payment"}
    row = states(issued, "2026-01-29")["INV-2026-0001"]
    assert (row["state"], row["paid"], row["balance"]) == ("overdue", "2000.00", "380.00")  # 2380.00 - 380.00
    assert run(issued, "payments", "INV-2026-0001", "--json").json[1]["reverses"] == "pi_A"


def test_retries_on_rate_limit_and_server_errors(issued, fake):  # noqa: F811
    fake.event("evt_1", "payment_intent.succeeded", at("2026-02-01"),
               payment_intent("pi_1", "INV-2026-0002", 476000, created=at("2026-02-01")))
    fake.fail[:] = [429, 503, 429]
    result, found = api.sync_stripe(issued, retry_delay=0.01)
    assert not found
    assert [b["id"] for b in result["booked"]] == ["pi_1"]
    assert len(fake.requests) == 4  # three failures, then the page
    assert states(issued, "2026-02-01")["INV-2026-0002"]["state"] == "paid"


def test_a_failed_sync_writes_nothing_and_keeps_the_cursor(issued, fake):  # noqa: F811
    fake.event("evt_1", "payment_intent.succeeded", at("2026-02-01"),
               payment_intent("pi_1", "INV-2026-0002", 100, created=at("2026-02-01")))
    fake.event("evt_2", "payment_intent.succeeded", at("2026-02-02"),
               payment_intent("pi_2", "INV-2026-0002", 100, created=at("2026-02-02")))
    fake.fail[:] = [400]  # an answer no retry helps with
    before = snapshot(issued)
    result = run_process(issued, "sync", "stripe")
    assert result.code == 1 and "Traceback" not in result.err
    assert "Stripe: fake 400 (HTTP 400); nothing was written" in result.err
    assert snapshot(issued) == before


def test_no_key_is_a_clear_error(issued, monkeypatch):  # noqa: F811
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    monkeypatch.delenv("BILLED_STRIPE_KEY", raising=False)
    with pytest.raises(BilledError, match="no Stripe key: export STRIPE_API_KEY"):  # main() prints it, exit 1
        api.sync_stripe(issued)
    assert not (issued / "payments").exists()


def test_checkout_for_the_balance_is_idempotent_and_follows_the_balance(issued, fake):  # noqa: F811
    write(issued, {"billed.yaml": SETTINGS + "pay_url: https://billing.example.com/?pay={number}\n"})
    state = api.load(issued)
    on = dt.date(2026, 1, 25)
    first = api.pay_redirect(state, "INV-2026-0002", on)
    assert first == "https://checkout.stripe.test/c/pay/cs_test_1"
    assert api.pay_redirect(state, "INV-2026-0002", on) == first  # same balance: the same session
    method, path, headers, form = fake.requests[0]
    assert (method, path) == ("POST", "/v1/checkout/sessions")
    assert headers["Idempotency-Key"] == "billed-checkout-INV-2026-0002-4760.00-EUR"
    assert form["line_items[0][price_data][unit_amount]"] == ["476000"]  # 4760.00 EUR in cents
    assert form["metadata[billed_number]"] == ["INV-2026-0002"]
    assert form["payment_intent_data[metadata][billed_number]"] == ["INV-2026-0002"]
    assert form["success_url"] == ["https://billing.example.com/?pay=INV-2026-0002"]
    assert form["customer_email"] == ["rechnungen@nordlicht.example"]
    assert run(issued, "pay", "INV-2026-0002", "1000.00", "--date", "2026-01-25").code == 0
    state = api.load(issued)
    assert api.pay_redirect(state, "INV-2026-0002", on) == "https://checkout.stripe.test/c/pay/cs_test_2"
    assert fake.requests[-1][3]["line_items[0][price_data][unit_amount]"] == ["376000"]  # 4760.00 - 1000.00
    assert run(issued, "pay", "INV-2026-0002", "3760.00", "--date", "2026-01-25").code == 0
    assert api.pay_redirect(api.load(issued), "INV-2026-0002", on) is None  # nothing due: nothing to pay
    assert api.pay_redirect(api.load(issued), "INV-2026-0099", on) is None


def test_the_checkout_page_speaks_the_documents_language(tmp_path, fake):
    """A client billed in German pays on a German Checkout page, for a "Rechnung", not an English "Invoice"."""
    from tests.conftest import CLIENT, WEBSITE, make_repo

    root = make_repo(tmp_path / "repo", {"billed.yaml": SETTINGS + "pay_url: https://billing.example.com/?pay={number}\n",
                                         "projects/nordlicht/client.yaml": CLIENT + "language: de_AT\n",
                                         "projects/nordlicht/web.yaml": WEBSITE})
    assert run(root, "issue", "--no-pdf", "--date", "2026-02-02").code == 0
    assert api.pay_redirect(api.load(root), "INV-2026-0001", dt.date(2026, 2, 3)).startswith("https://checkout.")
    form = fake.requests[-1][3]
    assert form["locale"] == ["de"]  # Stripe has no de-AT: German
    assert form["line_items[0][price_data][product_data][name]"] == ["Rechnung INV-2026-0001"]
    assert form["line_items[0][price_data][unit_amount]"] == ["119000"]  # 1000.00 + 19% VAT, in cents


def test_checkout_locale_is_stripes_nearest_language() -> None:
    from billed.stripe_sync import checkout_locale

    assert [checkout_locale(x) for x in ("de_AT", "de", "en_GB", "en", "pt_BR", "pt_PT", "fr_CA", "zh_TW", "pl",
                                         "ga", "haw")] == ["de", "de", "en-GB", "en", "pt-BR", "pt", "fr-CA", "zh-TW",
                                                           "pl", "auto", "auto"]
