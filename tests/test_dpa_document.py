"""The DPA document (app.services.agreements.dpa_document): rendered with WeasyPrint, read back
with pypdf. Annex III comes from the sub-processor register as of the document's
date, so the register is seeded with changes before and after that moment."""
from __future__ import annotations

import hashlib
import html
import io
import logging
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pypdf
import pytest

from app.db import database
from app.services.agreements import dpa_document as dpa
from app.services.agreements.subprocessors import Details, add_subprocessor, remove_subprocessor

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
AS_OF = datetime(2026, 11, 3, 12, 0)
DOCUMENT_ID = "DPA-0123456789abcdef"
CUSTOMER = dpa.Party(legal_name="Acme Widgets GmbH", address="Hauptstraße 1, 10115 Berlin",
                     registration_number="HRB 123456 B", signatory_name="Erika Mustermann",
                     signatory_title="Managing Director", contact_email="privacy@acme.example", country="DE")
TERMS = dpa.DpaTerms(customer=CUSTOMER, transfers_outside_eea=True, uk_transfer=True, governing_law="IE")
DUTIES = {
    "a": "Processing only on documented instructions",
    "b": "Confidentiality of the people who process the data",
    "c": "Security of processing",
    "d": "Engaging sub-processors",
    "e": "Assistance with data subjects' requests",
    "f": "Assistance with security, breaches and impact assessments",
    "g": "Deletion or return at the end of the service",
    "h": "Information and audits",
}
UK_CLAUSE = "parties also enter into the UK Addendum"
NO_TRANSFER = "The processor works in the EEA and the United Kingdom"


def details(name: str, country: str = "DE", mechanism: str = "none", since: date = date(2026, 1, 1),
            categories: tuple[str, ...] = ("Account", "Profile")) -> Details:
    return Details(name, f"{name} runs part of the service for us.", list(categories), country, mechanism,
                   mechanism.startswith("scc"), since)


@pytest.fixture
def register(app):
    """Before AS_OF: two engaged, one of them removed after AS_OF (still listed), one
    engaged and removed before it (not listed). After AS_OF: one added (not listed)."""
    app.config["CONTROLLER_REGISTRATION"] = "Companies House no. 01234567"
    with app.app_context(), database.connection_context():
        add_subprocessor(details("Hetzner Online GmbH"), "Hosting review passed.", None, now=datetime(2026, 1, 10))
        sinch = add_subprocessor(details("Sinch Sweden AB", "SE", since=date(2026, 2, 1)), "SMS review passed.",
                                 None, now=datetime(2026, 2, 1))
        remove_subprocessor(sinch.id, "SMS moved in-house.", None, now=datetime(2026, 12, 1))
        gone = add_subprocessor(details("Gone Mail Ltd", "IE"), "Mail review passed.", None, now=datetime(2026, 1, 2))
        remove_subprocessor(gone.id, "Replaced.", None, now=datetime(2026, 6, 1))
        add_subprocessor(details("Pending Push Ltd", "IE", since=date(2026, 12, 15)), "Announced with notice.",
                         None, now=datetime(2026, 11, 1))
        add_subprocessor(details("Late Analytics Inc.", "US", "scc_module_3", since=date(2026, 11, 20)),
                         "Analytics review passed.", None, now=datetime(2026, 11, 20))
    return app


@pytest.fixture
def context(register):
    with register.app_context(), database.connection_context():
        yield


def signature(role: str, name: str, title: str, digest: str, minute: int = 15) -> dpa.Signature:
    return dpa.Signature(role=role, name=name, title=title, signed_at=datetime(2026, 11, 4, 9, minute, 7),
                         ip="203.0.113.0", document_sha256=digest)


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text with whitespace collapsed: table cells wrap names over lines."""
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture
def signed(context, caplog):
    """One PDF signed by both parties, rendered once for the tests below."""
    digest = dpa.content_sha256(TERMS, DOCUMENT_ID, AS_OF)
    signatures = (signature("customer", "Erika Mustermann", "Managing Director", digest),
                  signature("processor", "Dana Officer", "Data Protection Officer", digest, minute=42))
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        rendered = dpa.render_dpa_pdf(TERMS, DOCUMENT_ID, AS_OF, signatures)
    assert not caplog.records, "WeasyPrint ignored part of the document: " + caplog.text
    return rendered


def test_the_pdf_holds_the_parties_every_duty_the_annexes_and_the_register_as_of_its_date(signed):
    text = " ".join(pages_text(signed.pdf))
    assert "Acme Widgets GmbH" in text and "Example CRM Ltd" in text  # the processor, from CONTROLLER_NAME
    assert "Companies House no. 01234567" in text  # and CONTROLLER_REGISTRATION
    for letter, title in DUTIES.items():
        assert f"({letter}) {title}" in text and f"Art. 28(3)({letter})" in text, letter
    assert "Instructions that infringe the law" in text
    for heading in ("Annex I:", "Annex II:", "Annex III:", "A. List of parties", "B. Description of the processing",
                    "C. Competent supervisory authority"):
        assert heading in text
    assert "Hetzner Online GmbH" in text
    assert "Sinch Sweden AB" in text  # removed only after the document's date
    assert "Gone Mail Ltd" not in text  # removed before it
    assert "Late Analytics" not in text  # added after it
    assert "Pending Push Ltd from 15 December 2026" in text  # announced, not yet receiving data
    assert "Contacts and leads" in text and "24 months." in text  # Annex I from the personal-data registry
    assert "(staff)" not in text  # our own staff's records are not processed for the customer
    assert "Data Processing Addenda you requested" not in text  # nor the contract itself
    assert "German Land" in text  # the customer's supervisory authority
    assert "Module Two" in text and UK_CLAUSE in text and NO_TRANSFER not in text
    assert "general written authorisation" in text.lower() and f"at least {dpa.OBJECTION_DAYS} days" in text
    assert signed.template_version == dpa.TEMPLATE_VERSION and dpa.TEMPLATE_VERSION in text


def test_every_page_footer_names_the_document_its_hash_and_page_n_of_m(signed):
    expected = dpa.content_sha256(TERMS, DOCUMENT_ID, AS_OF)
    pages = pages_text(signed.pdf)
    assert signed.content_sha256 == expected
    assert len(pages) >= 8
    for number, text in enumerate(pages, start=1):
        assert re.findall(r"SHA-256 ([0-9a-f]{64})", text)[-1] == expected, number
        assert f"Document {DOCUMENT_ID}" in text, number
        assert f"Page {number} of {len(pages)}" in text, number


def test_the_table_of_contents_gives_the_page_each_part_starts_on(signed):
    pages = pages_text(signed.pdf)
    at, contents = next((n, text) for n, text in enumerate(pages, start=1) if text.startswith("Contents"))
    for heading in ("5. The processor's duties (GDPR Art. 28(3))", "Annex I: Parties", "Annex III: Sub-processors"):
        listed = int(re.search(re.escape(heading) + r"[^0-9]*?(\d+) ", contents).group(1))
        actual = next(n for n, text in enumerate(pages, start=1) if n > at and heading in text)
        assert listed == actual, heading


def test_the_pdf_declares_pdf_a_3b_and_is_tagged(signed):
    reader = pypdf.PdfReader(io.BytesIO(signed.pdf))
    root = reader.trailer["/Root"]
    rdf = ET.fromstring(root["/Metadata"].get_object().get_data().split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0])
    pdfaid = "{http://www.aiim.org/pdfa/ns/id/}"
    declared = {key: value for element in rdf.iter() for key, value in element.attrib.items()
                if key.startswith(pdfaid)}
    assert declared == {pdfaid + "part": "3", pdfaid + "conformance": "B"}
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    assert root["/MarkInfo"]["/Marked"] and "/StructTreeRoot" in root  # tagged for accessibility
    assert reader.metadata.title == "Data Processing Addendum: Acme Widgets GmbH"


def test_a_signature_page_shows_who_when_from_where_and_the_hash(signed):
    pages = pages_text(signed.pdf)
    customer, processor = pages[-2], pages[-1]
    assert "Signature 1 of 2" in customer and "For the customer (controller)" in customer
    for expected in ("Erika Mustermann", "Managing Director", "2026-11-04 09:15:07 UTC", "203.0.113.0",
                     f"SHA-256 of the content signed {signed.content_sha256}"):
        assert expected in customer
    assert "For the processor" in processor and "Dana Officer" in processor and "2026-11-04 09:42:07 UTC" in processor


def test_a_signature_over_other_content_is_refused(context):
    with pytest.raises(ValueError, match="signed content"):
        dpa.render_dpa_pdf(TERMS, DOCUMENT_ID, AS_OF, (signature("customer", "E", "MD", "0" * 64),))


def test_the_uk_addendum_and_the_scc_clause_appear_only_when_the_terms_ask_for_them(context):
    eea_only = replace(TERMS, transfers_outside_eea=False, uk_transfer=False)
    scc_only = replace(TERMS, uk_transfer=False)
    assert UK_CLAUSE in dpa.render_dpa_html(TERMS, DOCUMENT_ID, AS_OF)
    assert UK_CLAUSE not in dpa.render_dpa_html(scc_only, DOCUMENT_ID, AS_OF)
    assert "Module Two" in dpa.render_dpa_html(scc_only, DOCUMENT_ID, AS_OF)
    html = dpa.render_dpa_html(eea_only, DOCUMENT_ID, AS_OF)
    assert NO_TRANSFER in html and UK_CLAUSE not in html and "Module Two" not in html
    assert "processes it in another country, the processor transfers it only under" in html  # Annex III transfers
    text = " ".join(pages_text(dpa.render_dpa_pdf(eea_only, DOCUMENT_ID, AS_OF).pdf))
    assert NO_TRANSFER in text and UK_CLAUSE not in text


def test_the_governing_law_is_named_as_a_legal_system_in_running_text(context):
    def words(html: str) -> str:
        return " ".join(html.split())
    uk = words(dpa.render_dpa_html(replace(TERMS, governing_law="GB"), DOCUMENT_ID, AS_OF))
    assert "governed by the law of England and Wales, and the courts of England and Wales" in uk
    dutch = words(dpa.render_dpa_html(replace(TERMS, governing_law="NL", customer=replace(CUSTOMER, country="NL")),
                                      DOCUMENT_ID, AS_OF))
    assert "governed by the law of the Netherlands" in dutch and "established in the Netherlands" in dutch
    assert "Option 1 applies with the law of the Netherlands" in dutch  # SCC Clause 17


def test_a_country_the_customer_already_wrote_in_the_address_is_not_repeated(context):
    written = replace(TERMS, customer=replace(CUSTOMER, address="Hauptstraße 1, 10115 Berlin, Germany"))
    assert "10115 Berlin, Germany, Germany" not in dpa.render_dpa_html(written, DOCUMENT_ID, AS_OF)
    assert "Hauptstraße 1, 10115 Berlin, Germany" in dpa.render_dpa_html(TERMS, DOCUMENT_ID, AS_OF)


def test_the_content_hash_is_stable_and_changes_with_any_input(context):
    first = dpa.content_sha256(TERMS, DOCUMENT_ID, AS_OF)
    assert first == dpa.content_sha256(TERMS, DOCUMENT_ID, AS_OF)
    assert first == hashlib.sha256(dpa.render_dpa_html(TERMS, DOCUMENT_ID, AS_OF).encode()).hexdigest()
    others = {
        dpa.content_sha256(replace(TERMS, governing_law="DE"), DOCUMENT_ID, AS_OF),
        dpa.content_sha256(replace(TERMS, uk_transfer=False), DOCUMENT_ID, AS_OF),
        dpa.content_sha256(replace(TERMS, customer=replace(CUSTOMER, signatory_name="Max Muster")), DOCUMENT_ID,
                           AS_OF),
        dpa.content_sha256(TERMS, "DPA-fedcba9876543210", AS_OF),
        dpa.content_sha256(TERMS, DOCUMENT_ID, datetime(2026, 11, 25)),  # the register gained a sub-processor
    }
    assert first not in others and len(others) == 5


def test_the_html_preview_is_the_same_content_as_the_pdf_body(context):
    markup = dpa.render_dpa_html(TERMS, DOCUMENT_ID, AS_OF)
    assert "<html" not in markup and "<style" not in markup and " style=" not in markup  # a fragment, CSP-safe
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())
    for letter, title in DUTIES.items():
        assert f"({letter}) {title} — Art. 28(3)({letter})" in text
    for part in ("Instructions that infringe the law", "Annex I:", "Annex II:", "Annex III:", "Acme Widgets GmbH",
                 "Hetzner Online GmbH", "Sinch Sweden AB", DOCUMENT_ID, dpa.TEMPLATE_VERSION, "3 November 2026"):
        assert part in text
    assert "Late Analytics" not in text


def test_the_processor_party_comes_from_the_configuration(app):
    with app.app_context():
        me = dpa.processor_party()
    assert (me.legal_name, me.contact_email, me.address) == (
        "Example CRM Ltd", "privacy@example.com", "1 Example Street, London EC1A 1AA")
    assert me.country == "GB" and me.registration_number and me.signatory_name


def test_pages_turned_into_png_for_a_look(signed, request):
    """The cover, the end of Annex II and Annex III as PNG in test-artifacts/, to be
    looked at by hand (the layout cannot be asserted); the test checks they were made.
    `make test` installs pdftoppm (poppler-utils), as it installs Chromium."""
    ARTIFACTS.mkdir(exist_ok=True)
    backend = request.node.callspec.id if hasattr(request.node, "callspec") else "run"
    pdf = ARTIFACTS / f"dpa-{backend}.pdf"
    pdf.write_bytes(signed.pdf)
    annex_three = next(n for n, text in enumerate(pages_text(signed.pdf), start=1) if text.startswith("Annex III"))
    for page, name in ((1, "cover"), (annex_three, "annex-iii"), (annex_three - 1, "annex-ii")):
        out = ARTIFACTS / f"dpa-{name}-{backend}"
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile",
                        str(pdf), str(out)], check=True, timeout=60)
        assert out.with_suffix(".png").stat().st_size > 10_000
