"""The EPC payment QR code ("GiroCode", SEPA credit transfer) printed on EUR invoices.

A banking app that scans it fills in the seller's IBAN, the amount due and the invoice number as remittance text,
so the payment arrives with the reference `billed pay` needs. Only for what the EPC standard allows: EUR, an
IBAN (already checksum-checked by `billed check`), an amount between 0.01 and 999,999,999.99, and an invoice
(a credit note asks for no payment). segno builds version 002 with error correction M, as the standard asks.
The image is a PNG data URL: weasyprint embeds it as a bitmap, so the PDF carries the exact modules (an SVG would
become vector paths no reader can get back), and the same record always gives the same bytes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import segno

MAX = Decimal("999999999.99")


def epc_fields(doc: dict[str, Any]) -> dict[str, Any] | None:
    """What goes into the code, or None when the document cannot carry one."""
    bank = doc.get("bank") or {}
    total = Decimal(doc["total"])
    if doc.get("series") != "invoice" or doc.get("currency") != "EUR" or not bank.get("iban"):
        return None
    if not Decimal("0.01") <= total <= MAX:
        return None
    name = (bank.get("holder") or doc["seller"]["name"])[:70]
    return {"name": name, "iban": bank["iban"].replace(" ", "").upper(), "amount": total,
            "text": doc["number"], "bic": bank.get("bic")}


def epc_qr(doc: dict[str, Any]) -> segno.QRCode | None:
    fields = epc_fields(doc)
    if not fields:
        return None
    import segno.helpers  # on first use: segno pulls in urllib, http and email (~0.15 s of every command's start)

    return segno.helpers.make_epc_qr(**fields)


def data_url(doc: dict[str, Any]) -> str | None:
    """A PNG `data:` URL of the code for the invoice template's `qr`, or None."""
    code = epc_qr(doc)
    return code.png_data_uri(scale=4, border=4) if code else None
