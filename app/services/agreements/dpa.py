"""Data Processing Addenda (GDPR Art. 28(3)): a business customer's admin requests
one, reviews it, signs it; the DPO countersigns it. The document itself (its text,
its content hash, its PDF) is app.services.agreements.dpa_document's; this module keeps the
lifecycle, the files and the signatures.

The lifecycle, one way only:

    requested → generated → signed (customer) → countersigned (DPO: in force)
        any of them → superseded

- **Validation.** Every field is required. The contact email must be mailable
  (app.services.platform.addresses.email_problem); the country comes from the register's
  country list (app.models.subprocessors.COUNTRIES); the governing law is that of
  an EEA country or the United Kingdom (the SCCs' clause 17 wants an EU member
  state's law, and UK data the UK's); the registration number is 2–40 letters,
  digits, spaces and ``-./``. A UK transfer needs the SCCs (the UK Addendum amends
  them), so ticking it without "data leaves the EEA/UK" is a field error rather
  than silently ticking the other box for the customer.
- **Generation** fixes `as_of` (the moment Annex III's sub-processors are taken
  at), the template version and the content hash, and stores the unsigned PDF.
- **Signing.** The customer types the signatory's name (compared case-insensitively,
  whitespace normalised) and ticks that they have authority to bind the company. The
  preview carries the content hash; signing is refused (409) if the document's hash
  is no longer the one the signer saw, or if the current template would render
  different content. The signature records the time (UTC), the truncated IP and that
  hash, and the signed PDF (a new file) gains the signature page.
- **Nothing signed changes.** Amending the terms is allowed only before signing;
  afterwards every change raises a ServiceError with status 409. Files are created
  exclusively and never rewritten; each PDF version is a new file.
- **Superseding (our choice).** A new request at once supersedes the same admin's
  earlier documents that were never signed (nobody agreed to them). Earlier signed
  or countersigned documents stay as they are until the new one is countersigned,
  and only then become superseded: the company always has a DPA in force.
- Every state change writes one audit record naming ids and hashes only.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask import current_app
from peewee import fn

from app.db import database, is_postgres, transaction
from app.models import Role, User
from app.models.base import utcnow
from app.models.dpa import SIGNED_STATUSES, DpaDocument, DpaFile, DpaSignature, DpaStatus
from app.models.subprocessors import COUNTRIES, EEA, Country
from app.services.agreements.dpa_document import (
    DpaTerms,
    Party,
    RenderedDpa,
    Signature,
    content_sha256,
    render_dpa_html,
    render_dpa_pdf,
)
from app.services.platform import audit
from app.services.platform.addresses import email_problem
from app.services.platform.errors import ServiceError
from app.services.platform.links import external_url
from app.services.platform.outbox import queue_email
from app.services.rights.erasure import HOLDERS

CUSTOMER, PROCESSOR = "customer", "processor"
UNSIGNED, SIGNED, COUNTERSIGNED = "unsigned", "signed", "countersigned"
UNSIGNED_STATUSES = (DpaStatus.REQUESTED.value, DpaStatus.GENERATED.value)
TERM_FIELDS = ("legal_name", "address", "registration_number", "signatory_name", "signatory_title",
               "contact_email", "country", "transfers_outside_eea", "uk_transfer", "governing_law")
_REGISTRATION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ./-]*$")
LIST_LIMIT = 200


class DpaError(ServiceError):
    """What is wrong, per form field (`errors`), so a form shows every problem at once."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class DpaRequest:
    """The terms as the customer admin enters them."""
    legal_name: str
    address: str
    registration_number: str
    signatory_name: str
    signatory_title: str
    contact_email: str
    country: str
    transfers_outside_eea: bool
    uk_transfer: bool
    governing_law: str

    def cleaned(self) -> DpaRequest:
        def line(value: str) -> str:
            return " ".join((value or "").split())
        # One line, as the document prints it ("1 Main Street, 10115 Berlin"): lines become commas.
        address = ", ".join(filter(None, (line(part).strip(",") for part in (self.address or "").splitlines())))
        return DpaRequest(line(self.legal_name), address, line(self.registration_number),
                          line(self.signatory_name), line(self.signatory_title),
                          (self.contact_email or "").strip().lower(), (self.country or "").strip().upper(),
                          bool(self.transfers_outside_eea), bool(self.uk_transfer),
                          (self.governing_law or "").strip().upper())

    def columns(self) -> dict:
        return {name: getattr(self, name) for name in TERM_FIELDS}


def countries() -> list[tuple[str, Country]]:
    return sorted(COUNTRIES.items(), key=lambda item: item[1].name)


def governing_laws() -> list[tuple[str, Country]]:
    """Whose law may govern the DPA: an EEA country's (SCC clause 17) or the UK's."""
    return [(code, c) for code, c in countries() if c.zone == EEA or code == "GB"]


def validate(fields: DpaRequest) -> DpaRequest:
    fields = fields.cleaned()
    errors: dict[str, str] = {}
    if not 2 <= len(fields.legal_name) <= 200:
        errors["legal_name"] = "Give your company's legal name, as registered (2 to 200 characters)."
    if not 5 <= len(fields.address) <= 500:
        errors["address"] = "Give your company's registered address (5 to 500 characters)."
    if not 2 <= len(fields.registration_number) <= 40:
        errors["registration_number"] = "Give your company's registration number (2 to 40 characters)."
    elif not _REGISTRATION.match(fields.registration_number):
        errors["registration_number"] = "Use letters, digits, spaces and - . / only in the registration number."
    if not 2 <= len(fields.signatory_name) <= 120:
        errors["signatory_name"] = "Give the full name of the person who will sign (2 to 120 characters)."
    if not 2 <= len(fields.signatory_title) <= 120:
        errors["signatory_title"] = "Give the signatory's job title, such as “Managing Director” (2 to 120 characters)."
    if problem := email_problem(fields.contact_email):
        errors["contact_email"] = f"Give a contact email address for privacy matters: {problem}."
    if fields.country not in COUNTRIES:
        errors["country"] = "Choose the country where your company is registered."
    if fields.governing_law not in dict(governing_laws()):
        errors["governing_law"] = "Choose the law that governs the DPA: an EEA country's or the United Kingdom's."
    if fields.uk_transfer and not fields.transfers_outside_eea:
        errors["uk_transfer"] = ("The UK Addendum amends the Standard Contractual Clauses: if UK personal data "
                                 "leaves the UK, also tick that personal data leaves the EEA or the UK.")
    if errors:
        raise DpaError(errors)
    return fields


# --- reading ----------------------------------------------------------------------

def dpas_of(admin: User) -> list[DpaDocument]:
    """A customer admin's DPAs, newest first."""
    return list(DpaDocument.select().where(DpaDocument.customer_admin == admin.id)
                .order_by(DpaDocument.created_at.desc(), DpaDocument.id.desc()))


def get_own_dpa(admin: User, dpa_id: int) -> DpaDocument:
    """The admin's own DPA; someone else's is "not found", exactly like one that does not exist."""
    found = DpaDocument.get_or_none((DpaDocument.id == dpa_id) & (DpaDocument.customer_admin == admin.id))
    if found is None:
        raise ServiceError("There is no such DPA.", 404)
    return found


def get_dpa(dpa_id: int) -> DpaDocument:
    found = DpaDocument.get_or_none(DpaDocument.id == dpa_id)
    if found is None:
        raise ServiceError("There is no such DPA.", 404)
    return found


def list_dpas(status: str = "", search: str = "") -> list[DpaDocument]:
    """For the DPO: every DPA, newest first, optionally of one status and matching a
    company name or document id (case-insensitive substring). At most LIST_LIMIT."""
    query = DpaDocument.select().order_by(DpaDocument.created_at.desc(), DpaDocument.id.desc())
    if status:
        query = query.where(DpaDocument.status == status)
    if search := " ".join((search or "").split()).lower():
        query = query.where(fn.LOWER(DpaDocument.legal_name).contains(search)
                            | fn.LOWER(DpaDocument.document_id).contains(search))
    return list(query.limit(LIST_LIMIT))


def status_counts() -> dict[str, int]:
    counts = {s.value: 0 for s in DpaStatus}
    for status, n in (DpaDocument.select(DpaDocument.status, fn.COUNT(DpaDocument.id))
                      .group_by(DpaDocument.status).tuples()):
        counts[status] = n
    return counts


def superseded_by(doc: DpaDocument) -> DpaDocument | None:
    """The document that names this one as the one it replaces, if any."""
    return DpaDocument.select().where(DpaDocument.supersedes == doc.id).order_by(DpaDocument.id.desc()).first()


def files_of(doc: DpaDocument) -> list[DpaFile]:
    return list(DpaFile.select().where(DpaFile.document == doc.id).order_by(DpaFile.version))


def signatures_of(doc: DpaDocument) -> list[DpaSignature]:
    order = {CUSTOMER: 0, PROCESSOR: 1}
    return sorted(DpaSignature.select().where(DpaSignature.document == doc.id), key=lambda s: order[s.role])


def terms_of(doc: DpaDocument) -> DpaTerms:
    return DpaTerms(
        customer=Party(legal_name=doc.legal_name, address=doc.address, registration_number=doc.registration_number,
                       signatory_name=doc.signatory_name, signatory_title=doc.signatory_title,
                       contact_email=doc.contact_email, country=doc.country),
        transfers_outside_eea=doc.transfers_outside_eea, uk_transfer=doc.uk_transfer,
        governing_law=doc.governing_law)


def preview_html(doc: DpaDocument) -> str:
    """The document as HTML, exactly the content the hash covers."""
    if doc.as_of is None:
        raise ServiceError("This DPA has not been generated yet.", 409)
    return render_dpa_html(terms_of(doc), doc.document_id, doc.as_of)


def dpa_folder() -> Path:
    path = Path(current_app.instance_path) / "dpas"
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_version(doc: DpaDocument, version: int) -> tuple[bytes, DpaFile]:
    """One PDF version of `doc`: its bytes, checked against the SHA-256 recorded when it
    was written (a damaged or swapped file is never handed out)."""
    row = DpaFile.get_or_none((DpaFile.document == doc.id) & (DpaFile.version == version))
    if row is None:
        raise ServiceError("There is no such version of this DPA.", 404)
    try:
        data = (dpa_folder() / row.stored_name).read_bytes()
    except FileNotFoundError:
        raise ServiceError("This version's file is missing. Tell the privacy team.", 500) from None
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise ServiceError("This version's file does not match its recorded checksum. Tell the privacy team.", 500)
    return data, row


def download_name(doc: DpaDocument, row: DpaFile) -> str:
    return f"{doc.document_id}-v{row.version}-{row.kind}.pdf"


# --- changing ---------------------------------------------------------------------

def request_dpa(admin: User, fields: DpaRequest, ip: str | None = None, now: datetime | None = None) -> DpaDocument:
    """Record a request (status `requested`). Earlier unsigned documents of this admin
    are superseded at once; earlier signed ones only when this one is countersigned."""
    _check_customer_admin(admin)
    fields = validate(fields)
    now = now or utcnow()
    with transaction():
        _lock_person(admin)
        earlier = [d for d in dpas_of(admin) if d.status != DpaStatus.SUPERSEDED.value]
        in_force = [d for d in earlier if d.status in SIGNED_STATUSES]
        replaced = (in_force or earlier or [None])[0]
        doc = DpaDocument.create(customer_admin=admin.id, document_id=_new_document_id(), status=DpaStatus.REQUESTED,
                                 supersedes=replaced.id if replaced else None, created_at=now, updated_at=now,
                                 **fields.columns())
        audit.record(audit.Event("dpa.requested", actor=admin, subject=admin, ip=ip, details=_ids(doc)))
        for old in earlier:
            if old.status in UNSIGNED_STATUSES:
                _supersede(old, doc, admin, ip, now)
    return doc


def generate_dpa(doc: DpaDocument, actor: User, ip: str | None = None, now: datetime | None = None) -> DpaDocument:
    """Fix `as_of`, compute the content hash and store the unsigned PDF (version n+1).
    Only for a document nobody has signed."""
    _check_unsigned(doc)
    now = now or utcnow()
    terms = terms_of(doc)
    rendered = render_dpa_pdf(terms, doc.document_id, now)  # slow: outside the transaction
    with _cleanup() as written, transaction():
        doc = _locked(doc.id)
        _check_unsigned(doc)
        stored = _store(doc, rendered, UNSIGNED, now, written)
        doc.as_of, doc.template_version, doc.content_sha256 = now, rendered.template_version, rendered.content_sha256
        doc.status, doc.updated_at = DpaStatus.GENERATED.value, now
        doc.save()
        audit.record(audit.Event("dpa.generated", actor=actor, subject=doc.customer_admin, ip=ip,
                                 details={**_ids(doc), "version": stored.version, "content_sha256": doc.content_sha256,
                                          "template_version": doc.template_version}))
    return doc


def amend_dpa(admin: User, dpa_id: int, fields: DpaRequest, ip: str | None = None,
              now: datetime | None = None) -> DpaDocument:
    """Correct the terms of a document nobody has signed, and generate it again (a
    new unsigned version; the earlier file stays). A signed document: 409."""
    doc = get_own_dpa(admin, dpa_id)
    _check_unsigned(doc)
    fields = validate(fields)
    now = now or utcnow()
    with transaction():
        doc = _locked(doc.id)
        _check_unsigned(doc)
        changed = [name for name, value in fields.columns().items() if getattr(doc, name) != value]
        if not changed:
            return doc
        for name, value in fields.columns().items():
            setattr(doc, name, value)
        doc.status, doc.updated_at = DpaStatus.REQUESTED.value, now
        doc.save()
        audit.record(audit.Event("dpa.amended", actor=admin, subject=admin, ip=ip,
                                 details={**_ids(doc), "fields": changed}))
    return generate_dpa(doc, admin, ip, now)


def sign_dpa(admin: User, dpa_id: int, typed_name: str, authority: bool, seen_sha256: str,
             ip: str | None = None, now: datetime | None = None) -> DpaDocument:
    """The customer signs what they reviewed. Refused with field errors for a name that
    is not the signatory's or a missing authority tick; with 409 for a document already
    signed or superseded, or whose content is not what the signer saw."""
    doc = get_own_dpa(admin, dpa_id)
    _check_signable(doc, DpaStatus.GENERATED, seen_sha256)
    errors = {}
    if _name_key(typed_name) != _name_key(doc.signatory_name):
        errors["typed_name"] = (f"Type the signatory's full name exactly as in the document: {doc.signatory_name}. "
                                "If someone else signs, correct the details first.")
    if not authority:
        errors["authority"] = "Confirm that you have authority to bind the company."
    if errors:
        raise DpaError(errors)
    now = now or utcnow()
    signature = Signature(role=CUSTOMER, name=doc.signatory_name, title=doc.signatory_title, signed_at=now,
                          ip=audit.truncate_ip(ip) or "", document_sha256=doc.content_sha256)
    rendered = render_dpa_pdf(terms_of(doc), doc.document_id, doc.as_of, (signature,))
    with _cleanup() as written, transaction():
        doc = _locked(doc.id)
        _check_signable(doc, DpaStatus.GENERATED, seen_sha256, rendered)
        _write_signature(doc, signature, admin)
        stored = _store(doc, rendered, SIGNED, now, written)
        doc.status, doc.updated_at = DpaStatus.SIGNED.value, now
        doc.save()
        audit.record(audit.Event("dpa.signed", actor=admin, subject=admin, ip=ip,
                                 details={**_ids(doc), "version": stored.version, "content_sha256": doc.content_sha256}))
    return doc


def countersign_dpa(dpo: User, dpa_id: int, name: str, title: str, authority: bool, seen_sha256: str,
                    ip: str | None = None, now: datetime | None = None) -> DpaDocument:
    """The DPO signs for us (the processor). The PDF gains both signatures; documents
    this one replaces become superseded."""
    if dpo.role_enum not in (Role.DPO, Role.ADMIN):
        raise ServiceError("Only the data protection officer countersigns a DPA.", 403)
    doc = get_dpa(dpa_id)
    _check_signable(doc, DpaStatus.SIGNED, seen_sha256)
    name, title = " ".join((name or "").split()), " ".join((title or "").split())
    errors = {}
    if not 2 <= len(name) <= 120:
        errors["name"] = "Type your full name (2 to 120 characters)."
    if not 2 <= len(title) <= 120:
        errors["title"] = "Give your title, such as “Data Protection Officer” (2 to 120 characters)."
    if not authority:
        errors["authority"] = "Confirm that you have authority to sign for us."
    if errors:
        raise DpaError(errors)
    now = now or utcnow()
    customer = next(s for s in signatures_of(doc) if s.role == CUSTOMER)
    signatures = (_as_signature(customer),
                  Signature(role=PROCESSOR, name=name, title=title, signed_at=now, ip=audit.truncate_ip(ip) or "",
                            document_sha256=doc.content_sha256))
    rendered = render_dpa_pdf(terms_of(doc), doc.document_id, doc.as_of, signatures)
    with _cleanup() as written, transaction():
        doc = _locked(doc.id)
        _check_signable(doc, DpaStatus.SIGNED, seen_sha256, rendered)
        _write_signature(doc, signatures[1], dpo)
        stored = _store(doc, rendered, COUNTERSIGNED, now, written)
        doc.status, doc.updated_at = DpaStatus.COUNTERSIGNED.value, now
        doc.save()
        audit.record(audit.Event("dpa.countersigned", actor=dpo, subject=doc.customer_admin, ip=ip,
                                 details={**_ids(doc), "version": stored.version, "content_sha256": doc.content_sha256}))
        older = (DpaDocument.select().where(DpaDocument.customer_admin == doc.customer_admin_id,
                                            DpaDocument.id != doc.id,
                                            DpaDocument.status.in_([*UNSIGNED_STATUSES, *SIGNED_STATUSES]),
                                            DpaDocument.created_at <= doc.created_at))
        superseded = list(older)
        for old in superseded:
            _supersede(old, doc, dpo, ip, now)
        # "Replaces your earlier one" only when one was in force or signed, not for a draft.
        _tell_countersigned(doc, any(old.status in SIGNED_STATUSES for old in superseded))
    return doc


def _tell_countersigned(doc: DpaDocument, superseded: bool) -> None:
    """Keeps the promise made when the customer signed: they hear when it is in force,
    at the DPA's contact and the admin's own address (through the outbox, in the
    countersignature's transaction)."""
    link = external_url("customer.dpa_detail", dpa_id=doc.id)
    for address in dict.fromkeys((doc.contact_email, doc.customer_admin.email)):
        queue_email(address, f"Your DPA {doc.document_id} is countersigned", "dpa_countersigned", doc=doc,
                    superseded=superseded, link=link)


# --- the rules' helpers -----------------------------------------------------------

def _check_customer_admin(user: User) -> None:
    if user.role_enum is not Role.CUSTOMER_ADMIN:
        raise ServiceError("Only a business customer's admin requests a DPA.", 403)


def _check_unsigned(doc: DpaDocument) -> None:
    if doc.status == DpaStatus.SUPERSEDED.value:
        raise ServiceError("This DPA was superseded: it can no longer be changed.", 409)
    if doc.status in SIGNED_STATUSES or doc.signed_once:
        raise ServiceError("This DPA is signed: nothing in it can be changed. Request a new DPA instead; it "
                           "replaces this one once it is countersigned.", 409)


def _check_signable(doc: DpaDocument, expected: DpaStatus, seen_sha256: str,
                    rendered: RenderedDpa | None = None) -> None:
    if doc.status != expected.value:
        if doc.status == DpaStatus.SUPERSEDED.value:
            raise ServiceError("This DPA was superseded by a newer one: it can no longer be signed.", 409)
        if expected is DpaStatus.GENERATED and doc.status in SIGNED_STATUSES:
            raise ServiceError("This DPA is already signed: nothing in it can be changed.", 409)
        if expected is DpaStatus.SIGNED and doc.status == DpaStatus.COUNTERSIGNED.value:
            raise ServiceError("This DPA is already countersigned: nothing in it can be changed.", 409)
        raise ServiceError("This DPA is not ready for that signature yet.", 409)
    if not doc.content_sha256 or (seen_sha256 or "").strip().lower() != doc.content_sha256:
        raise ServiceError("The document changed since you reviewed it. Review it again, then sign.", 409)
    current = rendered.content_sha256 if rendered else content_sha256(terms_of(doc), doc.document_id, doc.as_of)
    if current != doc.content_sha256:
        raise ServiceError("The DPA template changed since this document was generated, so it would no longer "
                           "read as reviewed. Request a new DPA.", 409)


def _name_key(name: str) -> str:
    return " ".join((name or "").split()).casefold()


def _new_document_id() -> str:
    return "DPA-" + secrets.token_hex(8).upper()


def _ids(doc: DpaDocument) -> dict:
    return {"dpa_id": doc.id, "document_id": doc.document_id}


def _lock_person(user: User) -> None:
    """One request at a time per admin (SQLite transactions already hold the write lock)."""
    if is_postgres():
        database.execute_sql("SELECT id FROM users WHERE id = %s FOR UPDATE", (user.id,))


def _locked(dpa_id: int) -> DpaDocument:
    if is_postgres():
        database.execute_sql("SELECT id FROM dpa_document WHERE id = %s FOR UPDATE", (dpa_id,))
    return DpaDocument.get_by_id(dpa_id)


def _supersede(old: DpaDocument, new: DpaDocument, actor: User, ip: str | None, now: datetime) -> None:
    DpaDocument.update(status=DpaStatus.SUPERSEDED.value, updated_at=now).where(DpaDocument.id == old.id).execute()
    audit.record(audit.Event("dpa.superseded", actor=actor, subject=old.customer_admin, ip=ip,
                             details={**_ids(old), "superseded_by": new.id, "was": old.status}))


def _write_signature(doc: DpaDocument, signature: Signature, user: User) -> DpaSignature:
    return DpaSignature.create(document=doc.id, role=signature.role, user=user.id, name=signature.name,
                               title=signature.title, signed_at=signature.signed_at, ip=signature.ip or None,
                               document_sha256=signature.document_sha256)


def _as_signature(row: DpaSignature) -> Signature:
    return Signature(role=row.role, name=row.name, title=row.title, signed_at=row.signed_at, ip=row.ip or "",
                     document_sha256=row.document_sha256)


def _store(doc: DpaDocument, rendered: RenderedDpa, kind: str, now: datetime, written: list[Path]) -> DpaFile:
    """Write the PDF as a new file, named from the document id and version only.
    `xb`: an existing file is never overwritten."""
    last = DpaFile.select(fn.MAX(DpaFile.version)).where(DpaFile.document == doc.id).scalar() or 0
    version = last + 1
    name = f"{doc.document_id}-v{version}.pdf"
    path = dpa_folder() / name
    with path.open("xb") as f:
        written.append(path)
        f.write(rendered.pdf)
    return DpaFile.create(document=doc.id, version=version, kind=kind, stored_name=name,
                          sha256=hashlib.sha256(rendered.pdf).hexdigest(), size_bytes=len(rendered.pdf),
                          created_at=now)


@contextlib.contextmanager
def _cleanup():
    """Files written inside a transaction that then fails are removed again, so a
    file exists only for a committed DpaFile row."""
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


# Erasing a person keeps the DPAs (a contract, under legal hold), as signed.
for _model in (DpaDocument, DpaFile, DpaSignature):
    HOLDERS[_model] = lambda user: 0
