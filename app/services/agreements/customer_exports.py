"""The export a business customer takes at the end of its contract (GDPR Art. 28(3)(g):
the processor returns all the personal data it processed for the controller).

One ZIP holds, for every registry category we process for customers (`for_customers`),
the rows of every account of the company (app.services.agreements.companies), built by
a job from the person export's parts (app.services.rights.exports): credentials left
out, masked fields masked, each category read in keyset pages so memory stays flat for
any size of company.

    data.json        every category: what it is and the company's rows
    schema.json      JSON Schema of data.json
    manifest.json    the company, when it was built, each category with its row count and CSV
    <category>.csv   one CSV per category
    files/…          the members' uploaded files

Like the person export it is written to `company-export-<id>.zip.part` and renamed
under a name fixed before the first byte: a job killed half-way is run again from the
start by the job runner and overwrites its partial file. One export per company runs at
a time; the archive expires after 7 days and only the company's admins download it."""
from __future__ import annotations

import json
import secrets
from pathlib import Path

from flask import current_app

from app.db import database, is_postgres
from app.models import Company, CompanyExport, Job, JobStatus, Role, UploadedFile, User
from app.models.base import utcnow
from app.models.registry import LegalBasis
from app.services.agreements import companies
from app.services.platform import audit, jobs
from app.services.platform.errors import ServiceError
from app.services.rights import erasure, exports
from app.services.rights.personal_data import plain_rows_of_people, registry_entries, rows_of_people, slug_of

JOB_KIND = "customer_export"
FILE_PREFIX = "company-export"
PAGE_SIZE = 1000  # rows per keyset page


def customer_entries():
    """The categories we process on customers' behalf, as the DPA's Annex I lists them,
    less what we keep by law as controller (a person's privacy requests, their timeline
    and the privacy team's notes): those are between the person and us, not their
    employer's to take."""
    return [e for e in registry_entries() if e.for_customers and e.legal_basis is not LegalBasis.LEGAL_OBLIGATION]


def request_customer_export(admin: User) -> CompanyExport:
    """Queue the company's export, or return the one in flight: repeated clicks, two
    tabs or two admins at once never start a second."""
    company = companies.admin_company(admin)
    with database.atomic():
        if is_postgres():
            database.execute_sql("SELECT id FROM company WHERE id = %s FOR UPDATE", (company.id,))
        current = in_flight(company)
        if current:
            return current
        job = jobs.enqueue(JOB_KIND)  # the company's job, not the admin's: it survives their erasure
        export = CompanyExport.create(company=company, requested_by=admin, job=job)
        audit.record(audit.Event("customer_export.requested", actor=admin,
                                 details={"company_id": company.id, "export_id": export.id}))
    return export


def in_flight(company: Company) -> CompanyExport | None:
    return (CompanyExport.select().join(Job, on=(CompanyExport.job == Job.id))
            .where(CompanyExport.company == company.id,
                   Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])).first())


def latest_customer_export(admin: User) -> CompanyExport | None:
    company = companies.admin_company(admin)
    return (CompanyExport.select().where(CompanyExport.company == company.id)
            .order_by(CompanyExport.id.desc()).first())


def customer_export_of(admin: User, export_id: int) -> CompanyExport:
    """The export, if it is of the company `admin` administers; 404 for any other."""
    company = companies.company_of(admin)
    export = None
    if company is not None and admin.role_enum is Role.CUSTOMER_ADMIN:
        export = CompanyExport.get_or_none(CompanyExport.id == export_id, CompanyExport.company == company.id)
    if export is None:
        raise ServiceError("There is no such export.", 404)
    return export


def open_customer_download(admin: User, export_id: int, ip: str | None = None) -> Path:
    """Count and audit a download; refuse one that expired."""
    export = customer_export_of(admin, export_id)
    if not export.available or export.expires_at < utcnow():
        raise ServiceError("This export has expired: archives are kept for 7 days. Ask for a new one.", 410)
    CompanyExport.update(downloads=CompanyExport.downloads + 1).where(CompanyExport.id == export.id).execute()
    audit.record(audit.Event("customer_export.downloaded", actor=admin, ip=ip,
                             details={"company_id": export.company_id, "export_id": export.id}))
    return exports.exports_dir() / export.file_name


@jobs.handler(JOB_KIND)
def build_customer_export(job: Job, progress: jobs.Progress) -> None:
    export = CompanyExport.get(CompanyExport.job == job.id)
    company = Company.get_by_id(export.company_id)
    people = companies.members(company)
    entries = customer_entries()
    files = UploadedFile.select().where(UploadedFile.owner.in_(people.select(User.id)))
    progress.total(sum(rows_of_people(e, people).count() for e in entries) + files.count() + 1)
    if export.file_name is None:  # named once, before any byte is written: a re-run reuses the name
        export.file_name = f"{FILE_PREFIX}-{export.id}-{secrets.token_hex(8)}.zip"  # unguessable
        CompanyExport.update(file_name=export.file_name).where(CompanyExport.id == export.id).execute()
    folder = exports.exports_dir()
    partial = folder / f"{FILE_PREFIX}-{export.id}.zip.part"  # a re-run overwrites a killed run's
    generated_at = utcnow()
    with exports.open_archive(partial) as archive:
        counts = exports.write_categories(archive, {"company": company.name}, entries,
                                          lambda entry: _in_pages(entry, people), progress)
        archive.writestr("schema.json", json.dumps(
            exports.data_schema(entries, ("company", {"type": "string"})), indent=2))
        archive.writestr("manifest.json", json.dumps(
            _manifest(company, people.count(), entries, counts, generated_at), indent=2, ensure_ascii=False))
        _write_files(archive, files, export.id, progress)
    partial.replace(folder / export.file_name)
    now = utcnow()
    CompanyExport.update(size_bytes=(folder / export.file_name).stat().st_size, ready_at=now,
                         expires_at=now + exports.EXPORT_LIFETIME).where(CompanyExport.id == export.id).execute()
    audit.record(audit.Event("customer_export.ready", details={"company_id": company.id, "export_id": export.id}))
    progress.advance()


def _in_pages(entry, people):
    """The company's rows of a category, a keyset page at a time: no cursor held open
    across the whole category, and at most PAGE_SIZE rows in memory."""
    after = None
    while True:
        page = list(plain_rows_of_people(entry, people, after=after, limit=PAGE_SIZE))
        yield from page
        if len(page) < PAGE_SIZE:
            return
        after = page[-1]["id"]


def _write_files(archive, files, export_id: int, progress) -> None:
    uploads = Path(current_app.instance_path) / "uploads"
    after = 0
    while True:
        page = list(files.where(UploadedFile.id > after).order_by(UploadedFile.id).limit(PAGE_SIZE))
        for f in page:
            stored = uploads / f.stored_name
            if stored.exists():  # a lost file must not cost the company the rest of its export
                archive.write(stored, f"files/{f.owner_id}/{f.id}-{Path(f.filename).name}")
            else:
                current_app.logger.error("company export %s: uploaded file %s is missing", export_id, f.id)
            progress.advance()
        if len(page) < PAGE_SIZE:
            return
        after = page[-1].id


def _manifest(company: Company, people: int, entries, counts: dict[str, int], generated_at) -> dict:
    return {"schemaVersion": exports.SCHEMA_VERSION, "company": company.name,
            "generatedAt": generated_at.isoformat() + "Z", "accounts": people,
            "categories": [{"slug": slug_of(e), "category": e.category, "rows": counts[slug_of(e)],
                            "csv": f"{slug_of(e)}.csv"} for e in entries],
            "leftOut": "Credentials (password hashes, two-factor seeds, tokens) are never exported; "
                       "masked fields show their last 4 characters only."}


def purge_expired_customer_exports() -> int:
    """Delete company archives past their 7 days, and any partial file."""
    return exports.purge_expired_archives(CompanyExport, FILE_PREFIX)


# Erasing an admin leaves the company's export to the company: only who asked is dropped.
erasure.ANONYMISERS[CompanyExport] = lambda user: CompanyExport.update(requested_by=None).where(
    CompanyExport.requested_by == user.id).execute()
