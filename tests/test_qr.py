"""The EPC ("GiroCode") payment QR code: decoded back from the image inside a real weasyprint PDF."""

from __future__ import annotations

import json
from pathlib import Path

import zxingcpp
from pypdf import PdfReader

from billed.qr import data_url, epc_fields
from tests.conftest import SETTINGS, WEBSITE, run

PROJECT = WEBSITE.replace("amount: 1000.00", "amount: 1234.56").replace("done: 2026-02-01", "done: 2026-01-20")


def decoded(pdf: Path) -> list[str]:
    """Every QR code in every image on every page of the PDF, as text."""
    reader = PdfReader(pdf)
    return [code.text for page in reader.pages for image in page.images
            for code in zxingcpp.read_barcodes(image.image)]


def test_qr_in_the_pdf_carries_iban_amount_and_reference(repo):
    root = repo({"projects/nordlicht/site.yaml": PROJECT})
    assert run(root, "issue", "--date", "2026-01-20").code == 0
    codes = decoded(root / "invoices/2026/INV-2026-0001.pdf")
    assert len(codes) == 1
    lines = codes[0].split("\n")
    # EPC069-12: service tag, version 002, character set, SCT, BIC, name, IBAN, amount, purpose, ref, text
    assert lines[:4] == ["BCD", "002", "2", "SCT"]
    assert lines[4] == "COBADEFFXXX"
    assert lines[5] == "Studio Nord GmbH"
    assert lines[6] == "DE89370400440532013000"
    total = json.loads((root / "invoices/2026/INV-2026-0001.json").read_text())["total"]
    assert total == "1469.13"  # 1234.56 + 19% VAT
    assert lines[7] == "EUR1469.13"
    assert lines[10] == "INV-2026-0001"


def test_no_qr_without_iban_or_outside_eur(repo):
    no_bank = SETTINGS.replace("bank:\n  iban: DE89370400440532013000\n  bic: COBADEFFXXX\n", "")
    root = repo({"billed.yaml": no_bank, "projects/nordlicht/site.yaml": PROJECT})
    assert run(root, "issue", "--date", "2026-01-20").code == 0
    assert decoded(root / "invoices/2026/INV-2026-0001.pdf") == []
    doc = {"series": "invoice", "currency": "USD", "total": "10.00", "number": "X", "seller": {"name": "S"},
           "bank": {"iban": "DE89370400440532013000"}}
    assert epc_fields(doc) is None and data_url(doc) is None
    assert epc_fields({**doc, "currency": "EUR", "series": "credit_note"}) is None
    assert epc_fields({**doc, "currency": "EUR", "total": "0.00"}) is None
    assert epc_fields({**doc, "currency": "EUR"})["amount"] == 10


def test_qr_image_is_deterministic():
    doc = {"series": "invoice", "currency": "EUR", "total": "2380.00", "number": "INV-2026-0001",
           "seller": {"name": "Studio Nord GmbH"}, "bank": {"iban": "DE89 3704 0044 0532 0130 00"}}
    first = data_url(doc)
    assert first and first.startswith("data:image/png;base64,")
    assert first == data_url(dict(doc))
