"""billed/portal.py: what comes next, what is late or overdue, and the seller's details, on the issued example."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from _dashboard import DAY, example_repo

from billed import api, portal, views

ON = dt.date.fromisoformat(DAY)  # 2026-11-25: every example document issued that day, due 14 days later
LINK = "https://pay.studio-nord.example/invoice/INV-2026-{}?amount={}&currency=GBP"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = example_repo(tmp_path_factory.mktemp("portal") / "repo", pdf=False)
    _, problems = api.record_payment(root, "INV-2026-0001", "9600.00", ON)  # ACME pays its deposit that day
    assert problems == []
    return root


def test_late_milestones_are_past_due_and_not_delivered(example: Path) -> None:
    owner = views.load(example, ON)
    late = [(s.project.key, s.title, s.days_late) for s in portal.late_milestones(owner)]
    assert late == [("acme/robot-portal", "Build and integration", 56),  # due 2026-09-30: 31 + 25 days
                    ("kaffeehaus/webshop", "Shop build (catalogue, cart, checkout)", 25)]  # due 2026-10-31
    assert portal.days_late(dt.date(2026, 11, 24), "done", ON) == 0  # delivered: never late
    assert portal.days_late(dt.date(2026, 11, 24), "cancelled", ON) == 0
    assert portal.days_late(ON, "in_progress", ON) == 0 and portal.days_late(None, "planned", ON) == 0
    assert portal.days_late(dt.date(2026, 11, 24), "planned", ON) == 1


def test_coming_up_is_the_client_s_next_steps_in_due_order(example: Path) -> None:
    acme = views.load(example, ON, client="acme")
    steps = [(s.title, s.due, s.amount, s.days_late) for s in portal.coming_up(acme)]
    assert steps == [("Build and integration", dt.date(2026, 9, 30), D("19200.00"), 56),
                     ("Launch and handover", dt.date(2026, 12, 15), D("12000.00"), 0)]
    later = views.load(example, dt.date(2026, 12, 20), client="acme")
    assert [s.days_late for s in portal.coming_up(later)] == [81, 5]  # 31 + 30 + 20; 20 - 15


def test_overdue_documents_most_overdue_first(example: Path) -> None:
    assert portal.overdue_documents(views.load(example, ON)) == []  # due 2026-12-09; the deposits are paid or due today
    later = views.load(example, dt.date(2026, 12, 20), client="acme")
    assert [(i.number, i.days_overdue, i.balance) for i in portal.overdue_documents(later)] == [
        ("INV-2026-0002", 11, D("7200.00")), ("INV-2026-0003", 11, D("9600.00"))]  # the deposit is paid


def test_documents_for_a_client_put_what_is_still_to_pay_first(example: Path) -> None:
    acme = views.load(example, ON, client="acme")
    docs = portal.documents_for_client(acme)
    assert [(i.number, i.state, i.pay_url) for i in docs] == [
        ("INV-2026-0003", "open", LINK.format("0003", "9600.00")),
        ("INV-2026-0002", "open", LINK.format("0002", "7200.00")),
        ("INV-2026-0001", "paid", None)]  # nothing to pay: no pay button
    assert [i.balance for i in docs] == [D("9600.00"), D("7200.00"), D("0.00")]


def test_seller_contact_payment_details_and_logo(example: Path) -> None:
    acme = views.load(example, ON, client="acme")
    assert portal.contact_lines(acme.settings) == ["Studio Nord GmbH", "Hafenstraße 12", "20457 Hamburg",
                                                   "billing@studio-nord.example", "studio-nord.example"]
    assert portal.payment_details(acme.settings) == [
        ("Account holder", "Studio Nord GmbH"), ("IBAN", "DE89 3704 0044 0532 0130 00"), ("BIC", "COBADEFFXXX"),
        ("Bank", "Commerzbank Hamburg")]
    assert portal.date(acme, ON) == "25 Nov 2026"  # ACME's language, en_GB
    assert portal.logo(example) is None
    (example / "templates" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert portal.logo(example) == example / "templates" / "logo.png"
    (example / "templates" / "logo.png").unlink()
