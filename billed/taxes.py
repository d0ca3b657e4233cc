"""How a line is taxed, and what a document says about it: the VAT treatments, their legal notes, the VAT
breakdown per rate and category, and the final document's VAT that squares a project with its contract.

A line's treatment (rate, EN 16931 category, legal-note key, printed reason) is fixed when its supply is first
billed and travels with it: corrections read it from the ledger (engine.Planner.issued), never from today's files.
Pure functions of their arguments; the engine plans with them, renderers and exports read their results.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from babel import Locale

from billed import money
from billed.i18n import N_
from billed.model import Client, Settings

# Legal notes are written into the record in English (the msgid) and printed in the document's language: the
# template translates them (render.legal_notes), so each is marked for extraction here.
REVERSE_CHARGE = N_("Reverse charge: VAT to be accounted for by the recipient "
                    "(Article 196, Council Directive 2006/112/EC).")
OUTSIDE_EU = N_("Not subject to VAT in %(country)s: the place of supply is where the customer is established "
                "(Article 44, Council Directive 2006/112/EC).")
EXEMPT = N_("Exempt from VAT.")
ZERO_RATED = N_("Zero-rated supply: VAT at 0%.")
# The legal note of each VAT category that charges no VAT, by key: a line carries the key (`note`) and the text
# printed (`exemption`, EN 16931 BT-120), so a template or translation can word it again from the key.
NOTE_KEYS = {"AE": "reverse_charge", "E": "exempt", "O": "outside_eu", "Z": "zero_rated"}
CATEGORIES = {"standard": "S", "reverse_charge": "AE", "exempt": "E", "outside_eu": "O"}


@dataclass(frozen=True)
class Treatment:
    """How a line is taxed: the rate, the EN 16931 category, the legal-note key and the reason printed. A line
    is issued with one and keeps it: a correction of it carries the same treatment, whatever the project or
    client file says today (a supply is taxed as it was made)."""

    rate: str
    category: str
    note: str | None = None
    exemption: str | None = None

    def fields(self) -> dict[str, str]:
        out = {"tax_rate": self.rate, "category": self.category}
        if self.note:
            out["note"] = self.note
        if self.exemption:
            out["exemption"] = self.exemption
        return out


def note_text(note: str, client: Client, settings: Settings) -> str:
    """The legal note printed for a line that charges no VAT (VAT directive art. 226 (11), (11a))."""
    if note == "reverse_charge":
        return REVERSE_CHARGE
    if note == "outside_eu":
        return client.tax_note or outside_eu(settings.seller.country)
    if note == "exempt":
        return client.tax_note or EXEMPT
    return client.tax_note or ZERO_RATED


def outside_eu(country: str, language: str = "en", words: Any = None) -> str:
    """The outside-EU note naming the seller's country, in English (the record) or in `words`' language."""
    name = Locale.parse(language).territories.get(country, country)
    return (words.gettext(OUTSIDE_EU) if words is not None else OUTSIDE_EU) % {"country": name}


def tax_note(lines: list[dict[str, Any]]) -> str | None:
    """Why no VAT is charged, printed on the document: each distinct reason of its lines, in order."""
    notes = list(dict.fromkeys(x["exemption"] for x in lines if x.get("exemption")))
    return " ".join(notes) or None


def rate_text(rate: Decimal) -> str:
    """A tax rate as plain text: '19', '7.7', '20' (never '2E+1', which `normalize` alone gives)."""
    return format(rate.normalize(), "f") if rate else "0"


def tax_breakdown(lines: list[dict[str, Any]], currency: str) -> list[dict[str, str]]:
    """Net and tax per rate and category, rounded once per rate per document (EN 16931 BG-23)."""
    groups: dict[tuple[str, str], Decimal] = defaultdict(lambda: money.ZERO)
    for line in lines:
        groups[(line["tax_rate"], line["category"])] += Decimal(line["net"])
    return [{"rate": rate, "category": cat, "net": money.plain(net, currency),
             "tax": money.plain(money.quantize(net * Decimal(rate) / money.HUNDRED, currency), currency)}
            for (rate, cat), net in sorted(groups.items(), key=lambda kv: (Decimal(kv[0][0]), kv[0][1]))]


def true_up(taxes: list[dict[str, str]], vat: Mapping[tuple[str, str], list[Decimal]], sign: int,
            currency: str) -> list[dict[str, str]]:
    """The final document's VAT per rate: the VAT on the project's whole net at that rate, minus the VAT its
    earlier documents charged (section 14 (5) UStG's final invoice: the tax on the whole supply, less the tax
    already invoiced). Rounding each document on its own leaves the project's VAT a cent or two off the
    contract's; the final squares it. EN 16931 BR-CO-17 lets a breakdown's VAT differ from its rounded base x rate
    by up to one unit (the Schematron tests |VAT - round(base x rate)| <= 1); a larger gap (many documents in a
    currency without minor units) keeps the per-document rounding and shows up as `vat_rounding` in `status`."""
    out = []
    for t in taxes:
        rate, plain_tax = Decimal(t["rate"]), Decimal(t["tax"])
        before = vat.get((t["rate"], t["category"]))
        if not rate or before is None:
            out.append(t)
            continue
        whole = money.quantize((before[0] + Decimal(t["net"]) * sign) * rate / money.HUNDRED, currency)
        tax = (whole - before[1]) * sign
        out.append({**t, "tax": money.plain(tax, currency)} if abs(tax - plain_tax) <= 1 else t)
    return out


def whole_vat(vat: Mapping[tuple[str, str], list[Decimal]], currency: str) -> Decimal:
    """The VAT on the project's net so far, rounded once per rate: what its documents' VAT adds up to once the
    final invoice has squared it (`true_up`); `status` shows the difference as `vat_rounding`."""
    return sum((money.quantize(net * Decimal(rate) / money.HUNDRED, currency)
                for (rate, _cat), (net, _tax) in vat.items()), money.ZERO)
