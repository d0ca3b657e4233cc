"""Factur-X / ZUGFeRD (EN 16931 profile): the issued record as UN/CEFACT CII XML, embedded in a PDF/A-3.

The XML says exactly what the PDF prints, amount for amount, because both come from the same record:
- type codes 380 (invoice, final, supplementary), 381 (credit note), 386 (prepayment/deposit invoice);
- BG-3 preceding invoice references (BT-25 number, BT-26 date): the corrected invoice on credit notes and
  supplementary invoices, and every deducted deposit invoice on a final invoice;
- a deducted deposit is what the record says it is: a negative line (BT-131 < 0, quantity -1, price >= 0 as BR-27
  wants) at the deposit's VAT rate, so the VAT breakdown (BG-23) is the VAT still due, which is what the PDF and
  the law (art. 65/90 VAT directive, UStG 14(5)) ask of a final invoice after a taxed prepayment invoice. The
  deposit is therefore not also a "paid amount": BT-113 (TotalPrepaidAmount) is written as the sum of payments
  applied by the document itself, which is 0.00 at issue, and BT-115 = BT-112 - BT-113 (BR-CO-16). Putting the
  gross deposit in BT-113 instead would force BT-110 to carry the full VAT again and the XML would disagree with
  the printed invoice. See docs/payments.md.

Generation is deterministic: the library's PDF and XMP timestamps are pinned to the issue date, so the same record
always yields the same bytes, and the `files` hash in the record is the hash of the final PDF/A-3.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from lxml import etree

from billed import i18n, money

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
GUIDELINE = "urn:cen.eu:en16931:2017"
EXEMPTION_CODES = {"AE": "VATEX-EU-AE", "O": "VATEX-EU-O"}  # CEF VATEX code list
DEFAULT_REASONS = {"AE": "Reverse charge", "E": "Exempt from VAT", "O": "Not subject to VAT"}
_POSTCODE_CITY = re.compile(r"^(?:[A-Z]{1,2}-)?([0-9]{4,5})\s+(.+)$")


def _el(parent: etree._Element, tag: str, text: Any = None, **attrs: str) -> etree._Element:
    prefix, name = tag.split(":")
    node = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", attrs)
    if text is not None:
        node.text = str(text)
    return node


def _date(parent: etree._Element, tag: str, iso: str, qualified: bool = False) -> None:
    holder = _el(parent, tag)
    _el(holder, "qdt:DateTimeString" if qualified else "udt:DateTimeString", iso.replace("-", ""), format="102")


def _party(parent: etree._Element, tag: str, p: dict[str, Any], outside: bool = False) -> None:
    """A seller or buyer (BG-4, BG-7). On a document "not subject to VAT" (category O) neither party's VAT id may
    be given (BR-O-02); the seller is then identified by its VAT id as a plain identifier (BT-29, BR-CO-26)."""
    node = _el(parent, tag)
    seller = tag == "ram:SellerTradeParty"
    if outside and seller and p.get("vat_id") and not p.get("register_number"):
        _el(node, "ram:ID", p["vat_id"])
    _el(node, "ram:Name", p["name"])
    if seller and p.get("register_number"):  # BT-30, the seller's legal registration (commercial register)
        _el(_el(node, "ram:SpecifiedLegalOrganization"), "ram:ID", p["register_number"])
    address = _el(node, "ram:PostalTradeAddress")
    lines = list(p.get("address") or [])
    match = _POSTCODE_CITY.match(lines[-1]) if lines else None
    if match:
        _el(address, "ram:PostcodeCode", match.group(1))
        lines = lines[:-1]
    for tag_name, line in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), lines, strict=False):
        _el(address, tag_name, line)
    if match:
        _el(address, "ram:CityName", match.group(2))
    _el(address, "ram:CountryID", p["country"])
    if p.get("email"):
        _el(_el(node, "ram:URIUniversalCommunication"), "ram:URIID", p["email"], schemeID="EM")
    for key, scheme in (("vat_id", "VA"), ("tax_id", "FC")):
        if p.get(key) and not (outside and scheme == "VA"):
            _el(_el(node, "ram:SpecifiedTaxRegistration"), "ram:ID", p[key], schemeID=scheme)


def _line(parent: etree._Element, i: int, line: dict[str, Any], cur: str) -> None:
    net = Decimal(line["net"])
    item = _el(parent, "ram:IncludedSupplyChainTradeLineItem")
    _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", i)
    product = _el(item, "ram:SpecifiedTradeProduct")
    _el(product, "ram:Name", line["description"])
    if line.get("details"):
        _el(product, "ram:Description", "; ".join(line["details"]))
    price = _el(_el(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
    _el(price, "ram:ChargeAmount", money.plain(abs(net), cur))
    _el(_el(item, "ram:SpecifiedLineTradeDelivery"), "ram:BilledQuantity", "-1" if net < 0 else "1", unitCode="C62")
    settle = _el(item, "ram:SpecifiedLineTradeSettlement")
    tax = _el(settle, "ram:ApplicableTradeTax")
    _el(tax, "ram:TypeCode", "VAT")
    _el(tax, "ram:CategoryCode", line["category"])
    if line["category"] != "O":  # "not subject to VAT" has no rate at all (BR-O-05, BR-O-09)
        _el(tax, "ram:RateApplicablePercent", line["tax_rate"])
    _el(_el(settle, "ram:SpecifiedTradeSettlementLineMonetarySummation"), "ram:LineTotalAmount", line["net"])


def references(doc: dict[str, Any]) -> list[str]:
    """BG-3: the invoice a correction corrects, then every deposit invoice a final invoice deducts."""
    refs = [doc["corrects"]] if doc.get("corrects") else []
    refs += [p["number"] for p in doc.get("prepaid") or [] if p["number"] not in refs]
    return refs


def reason(doc: dict[str, Any], category: str) -> str:
    """BT-120 of a VAT breakdown: the legal note its lines were issued with (records before lines carried
    their own notes have the document's `tax_note`)."""
    line = next((x for x in doc["lines"] if x["category"] == category and x.get("exemption")), None)
    return line["exemption"] if line else doc.get("tax_note") or DEFAULT_REASONS[category]


def cii_xml(doc: dict[str, Any], issued: dict[str, str]) -> bytes:
    """The record as Factur-X EN 16931 CII. `issued` maps document numbers to issue dates (for BT-26)."""
    cur = doc["currency"]
    root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)
    context = _el(root, "rsm:ExchangedDocumentContext")
    _el(_el(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", GUIDELINE)
    header = _el(root, "rsm:ExchangedDocument")
    _el(header, "ram:ID", doc["number"])
    _el(header, "ram:TypeCode", doc["type_code"])
    _date(header, "ram:IssueDateTime", doc["issue_date"])
    if doc.get("tax_note"):
        _el(_el(header, "ram:IncludedNote"), "ram:Content", doc["tax_note"])
    trade = _el(root, "rsm:SupplyChainTradeTransaction")
    for i, line in enumerate(doc["lines"], start=1):
        _line(trade, i, line, cur)
    agreement = _el(trade, "ram:ApplicableHeaderTradeAgreement")
    if doc.get("buyer_reference"):  # BT-10 (the Leitweg-ID of a German public buyer goes here)
        _el(agreement, "ram:BuyerReference", doc["buyer_reference"])
    outside = any(t["category"] == "O" for t in doc["taxes"])
    _party(agreement, "ram:SellerTradeParty", doc["seller"], outside)
    _party(agreement, "ram:BuyerTradeParty", doc["buyer"], outside)
    if doc.get("purchase_order"):  # BT-13
        _el(_el(agreement, "ram:BuyerOrderReferencedDocument"), "ram:IssuerAssignedID", doc["purchase_order"])
    project = _el(agreement, "ram:SpecifiedProcuringProject")
    _el(project, "ram:ID", doc["project"])
    _el(project, "ram:Name", doc.get("project_title") or doc["project"])
    delivery = _el(trade, "ram:ApplicableHeaderTradeDelivery")
    if doc.get("supply_date"):
        _date(_el(delivery, "ram:ActualDeliverySupplyChainEvent"), "ram:OccurrenceDateTime", doc["supply_date"])
    else:  # a prepayment invoice has no date of supply (BT-72 is optional); name who receives the services
        # (BG-13, BT-70) rather than leave the mandatory delivery element empty (PEPPOL-EN16931-R008)
        _el(_el(delivery, "ram:ShipToTradeParty"), "ram:Name", doc["buyer"]["name"])
    _settlement(_el(trade, "ram:ApplicableHeaderTradeSettlement"), doc, issued)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _settlement(settle: etree._Element, doc: dict[str, Any], issued: dict[str, str]) -> None:
    cur = doc["currency"]
    credit = doc["series"] == "credit_note"
    if not credit:
        _el(settle, "ram:PaymentReference", doc["number"])
    _el(settle, "ram:InvoiceCurrencyCode", cur)
    bank = doc.get("bank")
    if bank and not credit:
        means = _el(settle, "ram:SpecifiedTradeSettlementPaymentMeans")
        _el(means, "ram:TypeCode", "58" if cur == "EUR" else "30")
        account = _el(means, "ram:PayeePartyCreditorFinancialAccount")
        _el(account, "ram:IBANID", bank["iban"].replace(" ", ""))
        if bank.get("holder"):
            _el(account, "ram:AccountName", bank["holder"])
        if bank.get("bic"):
            _el(_el(means, "ram:PayeeSpecifiedCreditorFinancialInstitution"), "ram:BICID", bank["bic"])
    for t in doc["taxes"]:
        tax = _el(settle, "ram:ApplicableTradeTax")
        _el(tax, "ram:CalculatedAmount", t["tax"])
        _el(tax, "ram:TypeCode", "VAT")
        if t["category"] in DEFAULT_REASONS:
            _el(tax, "ram:ExemptionReason", reason(doc, t["category"]))
        _el(tax, "ram:BasisAmount", t["net"])
        _el(tax, "ram:CategoryCode", t["category"])
        if t["category"] in EXEMPTION_CODES:
            _el(tax, "ram:ExemptionReasonCode", EXEMPTION_CODES[t["category"]])
        if t["category"] != "O":
            _el(tax, "ram:RateApplicablePercent", t["rate"])
    terms = _el(settle, "ram:SpecifiedTradePaymentTerms")
    if credit:
        _el(terms, "ram:Description", "Credit: refunded or set off against open invoices.")
    else:
        days = doc.get("payment_terms") or 0
        _el(terms, "ram:Description", f"Payable within {days} days." if days else "Payable on receipt.")
        if doc.get("due_date"):
            _date(terms, "ram:DueDateDateTime", doc["due_date"])
    sums = _el(settle, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    line_total = sum((Decimal(line["net"]) for line in doc["lines"]), money.ZERO)
    _el(sums, "ram:LineTotalAmount", money.plain(line_total, cur))
    _el(sums, "ram:TaxBasisTotalAmount", doc["net"])
    _el(sums, "ram:TaxTotalAmount", doc["tax"], currencyID=cur)
    _el(sums, "ram:GrandTotalAmount", doc["total"])
    _el(sums, "ram:TotalPrepaidAmount", money.plain(money.ZERO, cur))
    _el(sums, "ram:DuePayableAmount", doc["total"])
    for number in references(doc):
        ref = _el(settle, "ram:InvoiceReferencedDocument")
        _el(ref, "ram:IssuerAssignedID", number)
        if number in issued:
            _date(ref, "ram:FormattedIssueDateTime", issued[number], qualified=True)


def check(xml: bytes) -> None:
    """The library's XSD check for Factur-X EN 16931; raises on the first violation."""
    import facturx

    facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")


@contextlib.contextmanager
def _pinned_clock(day: str) -> Iterator[None]:
    """The factur-x library stamps the PDF Info and XMP dates with the current time; pin them to the issue date
    so the embedded PDF is byte-for-byte reproducible (its hash is in the record)."""
    from facturx import facturx as fx

    stamp = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
    saved = fx._get_pdf_timestamp, fx._get_metadata_timestamp
    fx._get_pdf_timestamp = lambda date=None: stamp.strftime("D:%Y%m%d%H%M%S+00'00'")
    fx._get_metadata_timestamp = lambda: stamp.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    try:
        yield
    finally:
        fx._get_pdf_timestamp, fx._get_metadata_timestamp = saved


def embed(pdf: bytes, doc: dict[str, Any], issued: dict[str, str]) -> bytes:
    """The PDF with factur-x.xml attached (AFRelationship Data), as PDF/A-3 with Factur-X XMP metadata."""
    import facturx

    xml = cii_xml(doc, issued)
    meta = {"author": doc["seller"]["name"], "keywords": "Factur-X, invoice", "title": f"{doc['number']}",
            "subject": f"{doc['seller']['name']} {doc['number']} {doc['issue_date']}"}
    with _pinned_clock(doc["issue_date"]):
        return facturx.generate_from_binary(pdf, xml, flavor="factur-x", level="en16931", check_xsd=True,
                                            pdf_metadata=meta, lang=i18n.language_of(doc)[:2])
