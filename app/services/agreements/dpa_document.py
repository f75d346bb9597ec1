"""The Data Processing Addendum (GDPR Art. 28; SCC Decision 2021/914) as HTML and PDF.

One body (`templates/dpa/_body.html`) is both the preview the customer reviews and
the PDF's content, so what is hashed is exactly what is shown: `content_sha256` is the
SHA-256 of `render_dpa_html`'s UTF-8 bytes. The PDF wraps that body in
`document.html`, whose page footers carry the document id, the hash and "Page N of M",
and appends one page per signature. Footers and signature pages stay outside the hash,
so signing adds pages without changing what was signed.

Everything drawn from the app is fixed by `as_of`: Annex III is the sub-processor
register as it stood then, Annex I's categories come from the personal-data registry.
The same inputs on the same data give the same hash; a change makes a new document.
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from datetime import date, datetime

import weasyprint
from flask import current_app, render_template
from markupsafe import Markup

from app.models import REGISTRY
from app.models.registry import PersonalData
from app.services.agreements import subprocessors

TEMPLATE_VERSION = "2026-11.2"   # bump when the templates change; each document records it

# The processor signs through whichever DPO countersigns: the parties list names the
# role, the processor's signature page the person.
PROCESSOR_SIGNATORY_NAME = "The Data Protection Officer"
PROCESSOR_SIGNATORY_TITLE = "named on the processor's signature page"

OBJECTION_DAYS = 30  # notice before a new sub-processor starts, and time to object
BREACH_NOTICE_HOURS = 48
DELETION_DAYS = 30  # to delete or return the data once the service ends
BACKUP_DAYS = 90  # encrypted backups older than this are deleted (app.services.retention.backups)

ROLES = {"customer": "For the customer (controller)", "processor": "For the processor"}

# Art. 28(3) Annex I.C; SCC Clause 13: the authority of the customer's (exporter's)
# establishment. Germany has one authority per Land, so it is named by rule.
SUPERVISORY_AUTHORITIES = {
    "IE": "Data Protection Commission (DPC), Ireland",
    "DE": "the data protection supervisory authority of the German Land (federal state) in which the "
          "customer has its main establishment",
    "GB": "Information Commissioner's Office (ICO), United Kingdom",
    "FR": "Commission nationale de l'informatique et des libertés (CNIL), France",
    "NL": "Autoriteit Persoonsgegevens, Netherlands",
    "ES": "Agencia Española de Protección de Datos (AEPD), Spain",
    "IT": "Garante per la protezione dei dati personali, Italy",
    "BE": "Autorité de protection des données / Gegevensbeschermingsautoriteit, Belgium",
    "AT": "Datenschutzbehörde, Austria",
    "LU": "Commission nationale pour la protection des données (CNPD), Luxembourg",
    "SE": "Integritetsskyddsmyndigheten (IMY), Sweden",
}
DEFAULT_AUTHORITY = "the supervisory authority of the customer's main establishment"

DATA_SUBJECTS = (
    "End users of the customer's CRM account: the people who sign in to it and whose account, profile, "
    "activity and privacy choices it records.",
    "The customer's contacts and leads: the people the customer keeps in the CRM, calls, messages, meets "
    "or emails through it.",
    "The customer's staff who use or administer the service.",
)

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


@dataclass(frozen=True)
class Party:
    legal_name: str
    address: str
    registration_number: str
    signatory_name: str
    signatory_title: str
    contact_email: str
    country: str            # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class DpaTerms:
    customer: Party                               # the controller
    transfers_outside_eea: bool                   # data leaves the EEA/UK -> SCC module 2 applies
    uk_transfer: bool                             # -> the UK Addendum applies
    governing_law: str                            # ISO alpha-2 of the governing law's country


@dataclass(frozen=True)
class Signature:
    role: str            # "customer" or "processor"
    name: str
    title: str
    signed_at: datetime  # naive UTC
    ip: str              # already truncated by the caller
    document_sha256: str  # the content hash they signed


@dataclass(frozen=True)
class RenderedDpa:
    pdf: bytes
    content_sha256: str
    document_id: str
    template_version: str


def processor_party() -> Party:
    """Us, as the processor: name and contact from the app's configuration."""
    email, address = _split_contact(current_app.config["CONTROLLER_CONTACT"])
    return Party(legal_name=current_app.config["CONTROLLER_NAME"], address=address,
                 registration_number=current_app.config["CONTROLLER_REGISTRATION"],
                 signatory_name=PROCESSOR_SIGNATORY_NAME, signatory_title=PROCESSOR_SIGNATORY_TITLE,
                 contact_email=email, country=current_app.config["CONTROLLER_COUNTRY"].upper())


def render_dpa_html(terms: DpaTerms, document_id: str, as_of: datetime) -> str:
    """The document's body: the preview the customer reviews, and the PDF's content.
    A fragment (no <html>, no styles) so a page can include it under its own CSS."""
    return render_template("dpa/_body.html", **_context(terms, document_id, as_of))


def content_sha256(terms: DpaTerms, document_id: str, as_of: datetime) -> str:
    return _sha256(render_dpa_html(terms, document_id, as_of))


def render_dpa_pdf(terms: DpaTerms, document_id: str, as_of: datetime,
                   signatures: tuple[Signature, ...] = ()) -> RenderedDpa:
    """The PDF/A-3b document, tagged, with a signature page per signature.
    Refuses a signature over other content: a PDF never shows a signature under
    text that was not what was signed."""
    body = render_dpa_html(terms, document_id, as_of)
    digest = _sha256(body)
    _check_signatures(signatures, digest)
    html = render_template("dpa/document.html", body=Markup(body), signatures=signatures, roles=ROLES,
                           document_id=document_id, digest=digest, css_id=_css_string(document_id),
                           template_version=TEMPLATE_VERSION, title=_title(terms),
                           author=processor_party().legal_name, created=as_of.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return RenderedDpa(pdf=_write_pdf(html), content_sha256=digest, document_id=document_id,
                       template_version=TEMPLATE_VERSION)


def _write_pdf(html: str) -> bytes:
    """PDF/A-3b, tagged: WeasyPrint 70 keeps a caller's pdf_tags with pdf/a-3b (only the
    "a" variants force tags), so the archive format and accessibility tags combine.
    WeasyPrint opens its sRGB output-intent profile without closing it; the unclosed-file
    warning it causes (an error under pytest's filterwarnings) is silenced for that file only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ResourceWarning, message=r".*sRGB2014\.icc")
        return weasyprint.HTML(string=html).write_pdf(pdf_variant="pdf/a-3b", pdf_tags=True)


# --- the body's data ------------------------------------------------------------------

def _context(terms: DpaTerms, document_id: str, as_of: datetime) -> dict:
    customer, processor = terms.customer, processor_party()
    return {
        "terms": terms, "customer": customer, "processor": processor, "document_id": document_id,
        "template_version": TEMPLATE_VERSION, "as_of": as_of, "date": long_date(as_of), "long_date": long_date,
        "country": country_name, "country_in_text": country_in_text, "postal_address": postal_address,
        "scc_applies": terms.transfers_outside_eea or terms.uk_transfer,
        "governing_law": law_of(terms.governing_law),
        "scc_law": _scc_law(terms.governing_law), "authority": supervisory_authority(customer.country),
        "data_subjects": DATA_SUBJECTS, "categories": processed_categories(),
        "register": subprocessors.register_as_of(as_of), "objection_days": OBJECTION_DAYS,
        "breach_hours": BREACH_NOTICE_HOURS, "deletion_days": DELETION_DAYS, "backup_days": BACKUP_DAYS,
    }


def processed_categories() -> list[PersonalData]:
    """Registry categories processed for the customer (Annex I, Part B), by name."""
    return sorted((e for e in REGISTRY.values() if e.for_customers), key=lambda e: e.category)


def supervisory_authority(country: str) -> str:
    return SUPERVISORY_AUTHORITIES.get(country.upper(), DEFAULT_AUTHORITY)


def country_name(code: str) -> str:
    known = subprocessors.COUNTRIES.get(code.upper())
    return known.name if known else code.upper()


# In running text some names take "the"; and the United Kingdom has three legal
# systems, so a contract under "UK law" names England and Wales'.
_WITH_ARTICLE = frozenset({"NL", "GB", "US"})
_LEGAL_SYSTEM = {"GB": "England and Wales"}


def postal_address(party: Party) -> str:
    """The address with its country, unless the customer already wrote it at the end."""
    country = country_name(party.country)
    if party.address.rstrip(" .").lower().endswith(country.lower()):
        return party.address
    return f"{party.address}, {country}"


def country_in_text(code: str) -> str:
    """"established in the Netherlands"."""
    name = country_name(code)
    return f"the {name}" if code.upper() in _WITH_ARTICLE else name


def law_of(code: str) -> str:
    """"the law of ..." and "the courts of ...": the legal system a country code stands for."""
    return _LEGAL_SYSTEM.get(code.upper()) or country_in_text(code)


def long_date(moment: date) -> str:
    """"3 November 2026", whatever the process locale (the hash must not depend on it)."""
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def _scc_law(code: str) -> str:
    """SCC Clause 17 (module 2) needs the law of an EU Member State: the agreed one if it
    is, otherwise Ireland's (a common choice that recognises third-party beneficiary rights)."""
    eu = code.upper() in subprocessors.COUNTRIES and subprocessors.COUNTRIES[code.upper()].zone == subprocessors.EEA
    return country_in_text(code) if eu and code.upper() not in ("IS", "LI", "NO") else "Ireland"


def _split_contact(contact: str) -> tuple[str, str]:
    """CONTROLLER_CONTACT is "email, postal address": the part with an @ is the email."""
    parts = [p.strip() for p in contact.split(",") if p.strip()]
    email = next((p for p in parts if "@" in p), "")
    return email, ", ".join(p for p in parts if p != email)


def _title(terms: DpaTerms) -> str:
    return f"Data Processing Addendum: {terms.customer.legal_name}"


# --- signatures and footers -------------------------------------------------------------

def _check_signatures(signatures: tuple[Signature, ...], digest: str) -> None:
    for signature in signatures:
        if signature.role not in ROLES:
            raise ValueError(f"Unknown signature role {signature.role!r}")
        if signature.document_sha256 != digest:
            raise ValueError(f"{signature.name} signed content {signature.document_sha256}, "
                             f"not this document's {digest}")


def _css_string(text: str) -> Markup:
    """A CSS string literal for the footer rule: every character that could end the
    string or the <style> element is written as a hex escape."""
    safe = "".join(c if c.isalnum() or c in " ._:/-" else f"\\{ord(c):06x}" for c in text)
    return Markup(f'"{safe}"')


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
