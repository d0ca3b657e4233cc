"""Matching bank entries to invoices (billed/reconcile.py): numbers as banks mangle them, payer names."""

from __future__ import annotations

import pytest

from billed.reconcile import compact, numbers_in, same_party

NUMBERS = {compact(n): n for n in ("INV-2026-0003", "INV-2026-0030", "INV-2026-0300", "CN-2026-0001")}


@pytest.mark.parametrize(("text", "found"), [
    ("INV-2026-0003", ["INV-2026-0003"]),
    ("Rechnung INV 2026 0003 vielen Dank", ["INV-2026-0003"]),
    ("RE INV-2026-\n0003", ["INV-2026-0003"]),
    ("inv2026-0003", ["INV-2026-0003"]),
    ("INV/2026/0003, 2026-01-05", ["INV-2026-0003"]),  # a date right after is not part of the number
    ("INV-2026-00031", []),  # a longer number is another number
    ("INV-2026-0030 and INV-2026-0300", ["INV-2026-0030", "INV-2026-0300"]),
    ("Zahlung Januar", []),
    ("Rechnung:INV-2026-0003", ["INV-2026-0003"]),  # punctuation before is a boundary
])
def test_numbers_are_found_however_the_bank_writes_them(text, found):
    assert numbers_in(text, NUMBERS) == found


@pytest.mark.parametrize(("number", "text", "found"), [
    ("0003", "Order 10003", False),  # a digit before: another number that only ends like 0003
    ("2026-0003", "Ref 12026-0003", False),
    ("RE-3", "PRE-3", False),  # a letter before a number that starts with a letter
    ("0003", "Order 0003", True),
    ("2026-0003", "Bestellung 2026\n0003", True),
    ("RE-3", "re 3, danke", True),
    ("RE-3", "Zahlung/RE-3", True),
])
def test_a_number_does_not_start_inside_a_longer_word_or_number(number, text, found):
    assert numbers_in(text, {compact(number): number}) == ([number] if found else [])


@pytest.mark.parametrize(("payer", "buyer", "same"), [
    ("NORDLICHT VERLAG GMBH", "Nordlicht Verlag GmbH", True),
    ("NORDLICHT VERLAG", "Nordlicht Verlag GmbH", True),  # cut short by the bank
    ("Nordlicht Verlag GmbH & Co. KG", "Nordlicht Verlag GmbH", True),
    ("Nordwind Verlag GmbH", "Nordlicht Verlag GmbH", False),
    ("GmbH", "Nordlicht Verlag GmbH", False),  # nothing but a legal form says nothing
    (None, "Nordlicht Verlag GmbH", False),
])
def test_payer_names(payer, buyer, same):
    assert same_party(payer, buyer) is same
