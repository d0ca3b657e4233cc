"""Languages: the shipped catalogs are complete and current, each language prints its own commercial and legal
words on real PDFs read back, `language` picks the words and `locale` the formats, a repo can reword any message,
an unknown language prints English with a W003 warning, and translation changes no byte it must not."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from pypdf import PdfReader

from billed import api, engine, i18n, mail
from billed.ledger import read_ledger
from billed.render import render_html, render_pdf
from tests.conftest import SETTINGS, TOOLKIT, run, write
from tests.test_corpus import WARNING_EXAMPLES

LOCALES = TOOLKIT / "templates" / "locale"
SHIPPED = ["de", "es", "fr", "it", "nl", "pl"]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None,
            "NC_": ((1, "c"), 2)}  # the -k options of `make messages`
PLACEHOLDER = re.compile(r"%\((\w+)\)s|\{(\w+)\}")  # templates' %(name)s, the portal's str.format {name}

RC_CLIENT = """\
name: Kaffeehaus Lindner GmbH
address: [Mariahilfer Straße 88, 1070 Wien]
country: AT
vat_id: ATU13585627
email: office@kaffeehaus.example
tax: reverse_charge
"""

SHOP = """\
title: Online coffee shop
start: 2026-01-05
milestones:
  - id: shop
    title: Shop build
    amount: 1000.00
    status: done
    done: 2026-02-01
"""

# What each language must print: the document title and its national reverse-charge wording (docs/languages.md).
EXPECTED = {
    "de": ("Rechnung", "Steuerschuldnerschaft des Leistungsempfängers", "Bitte zahlen Sie"),
    "fr": ("Facture", "Autoliquidation", "Merci de régler"),
    "nl": ("Factuur", "Btw verlegd", "Wij verzoeken u"),
    "es": ("Factura", "Inversión del sujeto pasivo", "Les rogamos que paguen"),
    "it": ("Fattura", "Inversione contabile", "Vi preghiamo di pagare"),
    "pl": ("Faktura", "Odwrotne obciążenie", "Prosimy o zapłatę"),
}


def names(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def catalog(lang: str):
    with (LOCALES / lang / "LC_MESSAGES" / "billed.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def extracted() -> set[tuple[str | None, str]]:
    """Every message the sources and templates hold, extracted the way `make messages` does."""
    with (TOOLKIT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
            str(TOOLKIT), method_map, options_map, keywords=KEYWORDS):
        found.add((context, message[0] if isinstance(message, tuple) else message))
    return found


# --- the catalogs ---------------------------------------------------------------------------------------------


def test_the_shipped_languages_are_there():
    assert i18n.shipped() == ["de", "en", "es", "fr", "it", "nl", "pl"]
    assert (TOOLKIT / "docs" / "languages.md").is_file()


def test_makefile_extracts_with_the_keywords_this_test_uses():
    makefile = (TOOLKIT / "Makefile").read_text(encoding="utf-8")
    assert "-k N_ -k NC_:1c,2" in makefile and "-F babel.cfg" in makefile


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_message_is_translated_and_reviewed(lang):
    """Whoever adds a word a client reads adds it to every catalog (`make messages`, then translate): an empty or
    fuzzy entry fails here, naming the message."""
    untranslated = [m.id for m in catalog(lang) if m.id and (
        not m.string or (isinstance(m.string, tuple) and not all(m.string)) or m.fuzzy)]
    assert untranslated == [], f"{lang}: untranslated or fuzzy: {untranslated}"


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_catalog_holds_exactly_the_extracted_messages(lang):
    have = {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in catalog(lang) if m.id}
    want = extracted()
    assert want - have == set(), f"{lang}: missing, run `make messages` and translate: {want - have}"
    assert have - want == set(), f"{lang}: no longer used, run `make messages`: {have - want}"


@pytest.mark.parametrize("lang", SHIPPED)
def test_translations_use_only_the_placeholders_of_their_message(lang):
    """A translation may drop a placeholder (German greets without the name) but never invent one, and must
    still format (a stray % would break the template at render time)."""
    plural = catalog(lang).num_plurals
    for m in catalog(lang):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        if isinstance(m.id, tuple):
            assert len(strings) == plural, (lang, m.id)
        allowed = set().union(*(names(i) for i in ids))
        for s in strings:
            assert names(s) <= allowed, (lang, m.id, s)
            if "%(" in ids[0]:
                s % {name: "x" for name in allowed}  # raises on a broken format
            elif allowed:
                s.format(**{name: "x" for name in allowed})
            elif "%" not in ids[0]:  # a text given as data (a legal note) may hold a % sign; a template's may not
                assert "%" not in s, (lang, m.id, s)


def test_a_catalog_is_compiled_from_its_po_and_fuzzy_entries_print_english(tmp_path):
    folder = tmp_path / "templates" / "locale" / "sv" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "billed.po").write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                                      'msgid "Invoice"\nmsgstr "Faktura"\n\n'
                                      '#, fuzzy\nmsgid "Bill to"\nmsgstr "Fakturamottagare"\n', encoding="utf-8")
    words = i18n.translations("sv_SE", tmp_path / "templates")
    assert (words.gettext("Invoice"), words.gettext("Bill to")) == ("Faktura", "Bill to")
    assert i18n.catalog_files("sv_SE", tmp_path / "templates")[0] == (folder / "billed.po").resolve()


def test_a_regional_language_falls_back_to_its_language():
    assert i18n.candidates("de_AT") == ["de_AT", "de"]
    assert i18n.translations("de_AT").gettext("Invoice") == "Rechnung"
    assert i18n.translations("fr_BE").gettext("Credit note") == "Avoir"
    assert i18n.translations("en_GB").gettext("Invoice") == "Invoice"
    assert i18n.translations("pl").ngettext("%(n)s day", "%(n)s days", 1) == "%(n)s day"  # not in the catalog


# --- documents ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def six(tmp_path_factory) -> Path:
    """One repo, one reverse-charge client per shipped language, issued once (six real PDFs)."""
    from tests.conftest import make_repo

    files = {}
    for lang in SHIPPED:
        files[f"projects/rc-{lang}/client.yaml"] = RC_CLIENT + f"language: {lang}\n"
        files[f"projects/rc-{lang}/shop.yaml"] = SHOP
    root = make_repo(tmp_path_factory.mktemp("six") / "repo", files)
    result = run(root, "issue", "--date", "2026-02-10")
    assert result.code == 0, result.err
    return root


def _record(root: Path, client: str):
    return next(r for r in read_ledger(root).records if r["client"] == client)


@pytest.mark.parametrize("lang", SHIPPED)
def test_each_language_prints_its_title_legal_note_and_payment_request(six, lang):
    rec = _record(six, f"rc-{lang}")
    text = " ".join(pdf_text(rec.path.with_suffix(".pdf")).split())
    title, note, pay = EXPECTED[lang]
    assert text.splitlines()[0] and title in text and note in text and pay in text, text
    for english in ("Bill to", "Please pay", "Reverse charge", "Total due", "Issue date"):
        assert english not in text, (lang, english)
    assert PdfReader(rec.path.with_suffix(".pdf")).metadata["/Title"] == f"{title} {rec.number}"
    assert rec["language"] == lang and rec["tax_note"].startswith("Reverse charge")  # the record keeps English


def test_a_translated_pdf_is_byte_for_byte_reproducible(six):
    rec = _record(six, "rc-de")
    html = rec.path.with_suffix(".html").read_text(encoding="utf-8")
    assert render_html(rec.data, six / "templates", extra=api.extras(rec.data)) == html
    assert render_pdf(html, six / "templates") == rec.path.with_suffix(".pdf").read_bytes()


def test_language_picks_the_words_and_locale_the_formats(repo):
    root = repo({"projects/rc/client.yaml": RC_CLIENT + "language: de\nlocale: en_GB\n",
                 "projects/rc/shop.yaml": SHOP,
                 "projects/at/client.yaml": RC_CLIENT + "language: de_AT\n",
                 "projects/at/shop.yaml": SHOP})
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    mixed, austrian = _record(root, "rc"), _record(root, "at")
    assert (mixed["language"], mixed["locale"], austrian["language"], austrian["locale"]) == (
        "de", "en_GB", "de_AT", "de_AT")
    mixed_html = mixed.path.with_suffix(".html").read_text(encoding="utf-8")
    at_html = austrian.path.with_suffix(".html").read_text(encoding="utf-8")
    assert "Rechnung" in mixed_html and "€1,000.00" in mixed_html and "10 Feb 2026" in mixed_html
    assert "Rechnung" in at_html and "€\xa01.000,00" in at_html and "10.02.2026" in at_html


def test_an_old_record_without_language_speaks_its_locale(six):
    data = {k: v for k, v in _record(six, "rc-de").data.items() if k != "language"}
    assert "Rechnung" in render_html({**data, "locale": "de_AT"}, six / "templates")
    assert "<h1>Invoice</h1>" in render_html({**data, "locale": "en_GB"}, six / "templates")


def test_generated_lines_are_worded_in_the_document_language(repo):
    deposit = """\
    title: Online coffee shop
    total: 4000.00
    start: 2026-01-05
    deposit: 1000.00
    milestones:
      - id: shop
        title: Shop build
        amount: 4000.00
        status: done
        done: 2026-02-01
        final: true
    """
    root = repo({"projects/rc/client.yaml": RC_CLIENT + "language: de\n", "projects/rc/shop.yaml": deposit})
    assert run(root, "issue", "--date", "2026-01-05", "--no-pdf").code == 0
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    html = "\n".join(p.read_text(encoding="utf-8") for p in sorted((root / "invoices" / "2026").glob("*.html")))
    for german in ("<h1>Anzahlungsrechnung</h1>", "<h1>Schlussrechnung</h1>", "Anzahlung für Online coffee shop",
                   "Abzüglich Anzahlung, berechnet mit INV-2026-0001",
                   "Berechnete und abgezogene Anzahlungen"):  # invoiced, not paid (nothing was paid)
        assert german in html, german
    final = read_ledger(root).by_number["INV-2026-0002"]
    assert final["lines"][1]["description"] == "Less deposit invoiced on INV-2026-0001"  # English in the record


def test_interest_lines_are_worded_with_dates_in_the_document_format(six):
    from billed.api import late

    line = engine.worded({"ref": "INV-1", "role": "interest", "tax_rate": "0", "category": "O", "net": "22.10"},
                         engine.wording(late.INTEREST, number="INV-1", date="2026-01-07", due="2026-01-21",
                                        margin="9", basis="§ 288 BGB"))
    assert line["description"] == ("Late payment interest on invoice INV-1 of 2026-01-07, due 2026-01-21: "
                                   "reference rate + 9 points (§ 288 BGB)")  # the record and the XML: English
    doc = {**_record(six, "rc-de").data, "lines": [line], "kind": "interest", "tax_note": late.NOT_TAXABLE}
    html = render_html(doc, six / "templates")
    assert ("Verzugszinsen auf Rechnung INV-1 vom 07.01.2026, fällig am 21.01.2026: Referenzzinssatz + 9 "
            "Prozentpunkte (§ 288 BGB)") in html
    assert "Verzugszinsen und die Pauschale für Beitreibungskosten sind Schadensersatz" in html


def test_a_credit_note_speaks_the_language_too(repo):
    root = repo({"projects/rc/client.yaml": RC_CLIENT + "language: fr\n", "projects/rc/shop.yaml": SHOP})
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    write(root, {"projects/rc/shop.yaml": SHOP.replace("1000.00", "800.00")})
    assert run(root, "issue", "--date", "2026-02-11", "--no-pdf").code == 0
    html = (root / "invoices/2026/CN-2026-0001.html").read_text(encoding="utf-8")
    for french in ("<h1>Avoir</h1>", "Avoir\u00a0: Shop build (ramené de 1\u202f000,00\u00a0€ à 800,00\u00a0€)",
                   "Cet avoir rectifie la facture <strong>INV-2026-0001</strong>", "Autoliquidation"):
        assert french in html, french


def test_facturx_xml_is_the_same_in_every_language(repo, tmp_path):
    """The e-invoice carries codes, not words: translating the PDF changes no byte of its XML."""
    from tests.test_einvoice import embedded

    xml = {}
    for lang in ("en", "pl"):
        root = repo({"billed.yaml": SETTINGS + "einvoice: true\n",
                     "projects/rc/client.yaml": RC_CLIENT + f"language: {lang}\n", "projects/rc/shop.yaml": SHOP})
        assert run(root, "issue", "--date", "2026-02-10").code == 0
        xml[lang] = embedded(root, "INV-2026-0001")
        assert b"AE" in xml[lang]
        shutil.move(root, tmp_path / lang)
    assert xml["en"] == xml["pl"]


# --- a language without a catalog, and a repo's own words -----------------------------------------------------


def test_a_language_without_a_catalog_prints_english_with_a_warning(repo):
    root = repo({"projects/rc/client.yaml": RC_CLIENT + "language: sv\n", "projects/rc/shop.yaml": SHOP})
    result = run(root, "check")
    assert result.code == 0, result.err
    assert [f"warning: {WARNING_EXAMPLES['W003'][0]}", WARNING_EXAMPLES["W003"][1]] == [
        line for line in result.err.splitlines() if "W003" in line or "hint" in line]  # docs/errors.md's example
    assert "templates/locale/sv/LC_MESSAGES/billed.po" in result.err
    assert run(root, "check", "--json").out.strip() == "[]"  # warnings refuse nothing and stay off the JSON
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    assert "<h1>Invoice</h1>" in (root / "invoices/2026/INV-2026-0001.html").read_text(encoding="utf-8")


def test_billed_yaml_language_is_checked_too(repo):
    root = repo({"billed.yaml": SETTINGS.replace("locale: en_GB", "locale: sv_SE")})
    result = run(root, "check")
    assert result.code == 0 and "warning: billed.yaml:9:9: [W003] no translation catalog for language 'sv_SE'" \
        in result.err, result.err
    root = repo({"billed.yaml": SETTINGS + "language: de\n"})
    assert "W003" not in run(root, "check").err


def test_a_repo_rewords_any_message_with_its_own_catalog(repo):
    root = repo({"projects/rc/client.yaml": RC_CLIENT + "language: de\n", "projects/rc/shop.yaml": SHOP,
                 "templates/locale/de/LC_MESSAGES/billed.po": 'msgid "Bill to"\nmsgstr "Leistungsempfänger"\n',
                 "templates/locale/en/LC_MESSAGES/billed.po": 'msgid "Invoice"\nmsgstr "Tax invoice"\n'})
    shutil.rmtree(root / "templates" / "locale" / "fr")  # a repo may keep only what it changes
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    html = (root / "invoices/2026/INV-2026-0001.html").read_text(encoding="utf-8")
    assert "Leistungsempfänger" in html and "Rechnungsempfänger" not in html
    assert "<h1>Rechnung</h1>" in html  # everything else from the toolkit's catalog
    english = render_html({**_record(root, "rc").data, "language": "en_GB"}, root / "templates")
    assert "<h1>Tax invoice</h1>" in english
    assert i18n.translations("fr", root / "templates").gettext("Invoice") == "Facture"  # the toolkit's


# --- emails ---------------------------------------------------------------------------------------------------


def _messages(root: Path, number: str, days: int):
    rec = read_ledger(root).by_number[number]
    state = {"balance": rec["total"], "days_overdue": days}
    send = mail.compose(rec, root / "templates", "email.txt.j2", "billing@studio-nord.example", attach=False)
    remind = mail.compose(rec, root / "templates", "reminder.txt.j2", "billing@studio-nord.example",
                          {"state": state, "partly": False, "text": mail_text()}, attach=False)
    return send, remind


def mail_text() -> str:
    from billed.model import REMINDER_TEXT

    return REMINDER_TEXT


def test_emails_and_reminders_are_in_the_clients_language(six):
    number = _record(six, "rc-de").number
    send, remind = _messages(six, number, 1)
    assert send["Subject"] == f"Rechnung {number} von Studio Nord GmbH"
    body = send.get_body(("plain",)).get_content()
    assert body.startswith("Sehr geehrte Damen und Herren,\n\nanbei erhalten Sie unsere Rechnung")
    assert "Zahlbetrag: 1.000,00\xa0€, zahlbar bis 24. Februar 2026." in body and "Mit freundlichen Grüßen" in body
    assert "Online bezahlen" in send.get_body(("html",)).get_content()
    assert remind["Subject"] == f"Zahlungserinnerung: Rechnung {number} ist seit 1 Tag überfällig"
    assert "Laut unseren Unterlagen ist diese Rechnung noch offen." in remind.get_body(("plain",)).get_content()
    pl = _record(six, "rc-pl").number
    subjects = [_messages(six, pl, n)[1]["Subject"] for n in (1, 3, 5, 22)]
    assert subjects == [f"Przypomnienie: {pl} – 1 dzień po terminie płatności",
                        f"Przypomnienie: {pl} – 3 dni po terminie płatności",
                        f"Przypomnienie: {pl} – 5 dni po terminie płatności",
                        f"Przypomnienie: {pl} – 22 dni po terminie płatności"]
    assert _messages(six, pl, 1)[0]["Subject"] == f"Faktura {pl} od Studio Nord GmbH"
    assert "W załączeniu przesyłamy fakturę " in _messages(six, pl, 1)[0].get_body(("plain",)).get_content()


def test_english_emails_keep_their_words(six):
    rec = _record(six, "rc-de")
    english = SimpleNamespace(data={**rec.data, "language": "en_GB", "locale": "en_GB"}, path=rec.path,
                              number=rec.number)
    send = mail.compose(english, six / "templates", "email.txt.j2", "billing@studio-nord.example", attach=False)
    remind = mail.compose(english, six / "templates", "reminder.txt.j2", "billing@studio-nord.example",
                          {"state": {"balance": "1000.00", "days_overdue": 2}, "partly": False, "text": "Hello."},
                          attach=False)
    assert send["Subject"] == f"Invoice {rec.number} from Studio Nord GmbH"
    assert remind["Subject"] == f"Reminder: invoice {rec.number} is 2 days overdue"
    assert "Dear Kaffeehaus Lindner GmbH," in send.get_body(("plain",)).get_content()


def test_the_portal_s_overdue_days_take_each_language_s_plural_forms(tmp_path):
    """Polish has three forms: 1 dzień, 2-4 dni (22 dni), 5 dni; English two (billed/web/client.py's badge)."""
    from billed.web.client import translator

    def badge(language: str, n: int) -> str:
        return translator(language, tmp_path).ngettext("{days} day overdue", "{days} days overdue", n).format(days=n)

    assert [badge("pl", n) for n in (1, 3, 5, 22)] == ["1 dzień po terminie", "3 dni po terminie",
                                                       "5 dni po terminie", "22 dni po terminie"]
    assert [badge("en", n) for n in (1, 2)] == ["1 day overdue", "2 days overdue"]
    assert [badge("fr", n) for n in (1, 2)] == ["1 jour de retard", "2 jours de retard"]
