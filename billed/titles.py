"""A document's title in a client's words: "Invoice", "Gutschrift", "fakturę".

Apart from billed/render.py so that commands that only name documents (`billed check`'s plan table, `billed plan`)
do not import Jinja2, weasyprint's helpers and multiprocessing to do it (issue 16).
"""

from __future__ import annotations

from typing import Any

from billed import i18n
from billed.i18n import N_, NC_

# A document's title, and the same words inside a sentence ("please find attached our invoice"): English lowers
# them, German keeps the capital, Polish declines them (fakturę), so each is its own message.
TITLES = {"380": N_("Invoice"), "381": N_("Credit note"), "386": N_("Prepayment invoice"),
          "384": N_("Corrective invoice"), "final": N_("Final invoice"), "final-credit": N_("Final credit note"),
          "supplementary": N_("Supplementary invoice")}
SENTENCE = "in a sentence"  # the msgctxt of IN_SENTENCE
IN_SENTENCE = {"380": NC_("in a sentence", "invoice"), "381": NC_("in a sentence", "credit note"),
               "386": NC_("in a sentence", "prepayment invoice"), "384": NC_("in a sentence", "corrective invoice"),
               "final": NC_("in a sentence", "final invoice"),
               "final-credit": NC_("in a sentence", "final credit note"),
               "supplementary": NC_("in a sentence", "supplementary invoice")}


def _kind(doc: dict[str, Any]) -> str:
    if doc["kind"] == "final":
        return "final" if doc["type_code"] == "380" else "final-credit"
    if doc["kind"] == "supplementary":
        return "supplementary"
    return doc["type_code"]


def title(doc: dict[str, Any], words: i18n.Translations = i18n.ENGLISH) -> str:
    """The document's title in the language of `words` (English by default)."""
    return words.gettext(TITLES[_kind(doc)])


def in_sentence(doc: dict[str, Any], words: i18n.Translations = i18n.ENGLISH) -> str:
    """The document's name inside a sentence: 'invoice', 'Rechnung', 'fakturę'."""
    return words.pgettext(SENTENCE, IN_SENTENCE[_kind(doc)])
