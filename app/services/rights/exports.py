"""Exports (GDPR Art. 15 and 20): one ZIP with everything held about a person.

The archive is built by a job and streamed entry by entry, row by row, so memory
stays flat however much data there is. It is written to `export-<id>.zip.part` and
renamed, under a name fixed before the first byte, when complete: a job killed half-way
leaves only that partial file, which its re-run overwrites (and erasure removes).

    data.json        every category: what it is (Art. 15 facts) and its rows
    schema.json      JSON Schema of data.json
    <category>.csv   one CSV per category
    files/…          the uploaded files
    consent-receipt.json
    index.html       the same, explained for people"""
from __future__ import annotations

import csv
import io
import json
import secrets
import shutil
import tempfile
import zipfile
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app, render_template

from app.db import database, is_postgres
from app.models import REGISTRY, DataExport, Job, JobStatus, UploadedFile, User
from app.models.base import utcnow
from app.services.consent.receipts import consent_receipt
from app.services.platform import audit, jobs
from app.services.platform.errors import ServiceError
from app.services.platform.links import external_url
from app.services.platform.outbox import queue_email
from app.services.rights.personal_data import columns_of, plain_rows, registry_entries, rows_of, slug_of
from app.services.rights.retention_notice import kept, retention_texts

EXPORT_LIFETIME = timedelta(days=7)
_ROW_ENCODER = json.JSONEncoder(ensure_ascii=False)
_BATCH = 500  # rows encoded per call: bounded memory, far fewer calls
JOB_KIND = "export"
SCHEMA_VERSION = 1


def exports_dir() -> Path:
    path = Path(current_app.instance_path) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def request_export(user: User) -> DataExport:
    """Queue an export, or return the one already in flight: repeated clicks, or two
    tabs at once, never start a second."""
    with database.atomic():
        if is_postgres():
            database.execute_sql("SELECT id FROM users WHERE id = %s FOR UPDATE", (user.id,))
        current = in_flight(user)
        if current:
            return current
        job = jobs.enqueue(JOB_KIND, user)
        export = DataExport.create(user=user, job=job)
        audit.record(audit.Event("export.requested", actor=user, subject=user, details={"export_id": export.id}))
    return export


def in_flight(user: User) -> DataExport | None:
    return (DataExport.select().join(Job, on=(DataExport.job == Job.id))
            .where(DataExport.user == user.id, Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]))
            .first())


def latest_export(user: User) -> DataExport | None:
    return DataExport.select().where(DataExport.user == user.id).order_by(DataExport.id.desc()).first()


def export_of(user: User, export_id: int) -> DataExport:
    export = DataExport.get_or_none(DataExport.id == export_id, DataExport.user == user.id)
    if export is None:
        raise ServiceError("There is no such export.", 404)  # also for other people's
    return export


def open_download(user: User, export_id: int, ip: str | None = None) -> Path:
    """Count and audit a download; refuse one that expired."""
    export = export_of(user, export_id)
    if not export.available or export.expires_at < utcnow():
        raise ServiceError("This export has expired: archives are kept for 7 days. Ask for a new one.", 410)
    DataExport.update(downloads=DataExport.downloads + 1).where(DataExport.id == export.id).execute()
    audit.record(audit.Event("export.downloaded", actor=user, subject=user, ip=ip, details={"export_id": export.id}))
    return exports_dir() / export.file_name


@jobs.handler(JOB_KIND)
def build_export(job: Job, progress: jobs.Progress) -> None:
    export = DataExport.get(DataExport.job == job.id)
    user = User.get_by_id(export.user_id)
    was_ready = export.ready_at is not None
    entries = registry_entries()
    files = list(rows_of(REGISTRY[UploadedFile], user))  # theirs, and those attached to leads about them
    progress.total(sum(rows_of(e, user).count() for e in entries) + len(files) + 1)
    if export.file_name is None:  # named once, before any byte is written: a re-run reuses the name
        export.file_name = f"export-{export.id}-{secrets.token_hex(8)}.zip"  # unguessable
        DataExport.update(file_name=export.file_name).where(DataExport.id == export.id).execute()
    final = export.file_name
    partial = exports_dir() / f"export-{export.id}.zip.part"  # a re-run overwrites a killed run's
    # Level 1: most of the size saving of deflate at a fraction of its time.
    with open_archive(partial) as archive:
        counts = write_categories(archive, {"person": user.email}, entries, lambda e: plain_rows(e, user), progress)
        archive.writestr("schema.json", json.dumps(data_schema(), indent=2))
        for f in files:
            stored = Path(current_app.instance_path) / "uploads" / f.stored_name
            if stored.exists():  # a lost file must not cost the person the rest of their export
                archive.write(stored, f"files/{f.id}-{Path(f.filename).name}")
            else:
                current_app.logger.error("export %s: uploaded file %s is missing", export.id, f.id)
            progress.advance()
        archive.writestr("consent-receipt.json", json.dumps(
            consent_receipt(user, external_url("preferences.page")), indent=2, ensure_ascii=False))
        archive.writestr("index.html", render_template(
            "exports/index.html", user=user, entries=entries, counts=counts, slug_of=slug_of,
            kept=retention_texts(), generated_at=utcnow(), controller=current_app.config["CONTROLLER_NAME"]))
    partial.replace(exports_dir() / final)
    now = utcnow()
    with database.atomic():  # ready, and the email saying so, together
        DataExport.update(file_name=final, size_bytes=(exports_dir() / final).stat().st_size, ready_at=now,
                          expires_at=now + EXPORT_LIFETIME).where(DataExport.id == export.id).execute()
        audit.record(audit.Event("export.ready", subject=user, details={"export_id": export.id}))
        if not was_ready:  # a re-run after it was ready must not email twice
            _tell(user, export.id, now + EXPORT_LIFETIME)
    progress.advance()


def open_archive(path: Path) -> zipfile.ZipFile:
    # Level 1: most of the size saving of deflate at a fraction of its time.
    return zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)


def write_categories(archive, whose: dict, entries, rows_for, progress) -> dict[str, int]:
    """data.json (`whose`: who the data is about, e.g. {"person": email}) and one CSV per
    category, fed by one read of the database: `rows_for(entry)` yields its plain rows.
    Returns the rows written per category slug."""
    with ExitStack() as stack:
        csvs = {slug_of(e): stack.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8", newline=""))
                for e in entries}
        counts = _write_data_json(archive, whose, entries, rows_for, csvs, progress)
        for slug, spooled in csvs.items():
            spooled.seek(0)
            with archive.open(f"{slug}.csv", "w", force_zip64=True) as raw, io.TextIOWrapper(raw, "utf-8") as out:
                shutil.copyfileobj(spooled, out)
    return counts


def _write_data_json(archive, whose, entries, rows_for, csvs, progress) -> dict[str, int]:
    """Stream data.json, one category and one row at a time; each row also goes to its
    category's CSV (a temporary file: a ZIP takes one entry at a time)."""
    counts = {}
    with archive.open("data.json", "w", force_zip64=True) as raw, io.TextIOWrapper(raw, "utf-8") as out:
        header = {"schemaVersion": SCHEMA_VERSION, **whose, "generatedAt": utcnow().isoformat() + "Z"}
        out.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "categories": {')
        texts = retention_texts()
        for i, entry in enumerate(entries):
            slug = slug_of(entry)
            out.write(("," if i else "") + json.dumps(slug) + ': {"about": '
                      + json.dumps(_about(entry, kept(entry, texts)), ensure_ascii=False) + ', "rows": [')
            writer = csv.writer(csvs[slug])
            writer.writerow(columns_of(entry))
            n, batch = 0, []
            for row in rows_for(entry):
                batch.append(row)
                writer.writerow(row.values())
                progress.advance()
                if len(batch) == _BATCH:
                    out.write(("," if n else "") + _ROW_ENCODER.encode(batch)[1:-1])  # the rows, not the list
                    n, batch = n + len(batch), []
            if batch:
                out.write(("," if n else "") + _ROW_ENCODER.encode(batch)[1:-1])
                n += len(batch)
            out.write("]}")
            counts[slug] = n
        out.write("}}")
    return counts


def _about(entry, retention: str) -> dict:
    return {"category": entry.category, "holds": entry.holds, "source": entry.source,
            "purpose": entry.purpose, "legalBasis": str(entry.legal_basis), "recipients": list(entry.recipients),
            "retention": retention, "erasure": str(entry.erasure), "holdReason": entry.hold_reason}


def data_schema(entries=None, whose: tuple[str, dict] = ("person", {"type": "string"})) -> dict:
    """JSON Schema (2020-12) of data.json: the columns of each category (every
    registry category unless `entries` says), and who the data is about."""
    about = {"type": "object", "required": ["category", "holds", "source", "purpose", "legalBasis",
                                            "recipients", "retention", "erasure"]}
    categories = {slug_of(e): {"type": "object", "description": e.category, "properties": {
        "about": about, "rows": {"type": "array", "items": {
            "type": "object", "properties": {c: {} for c in columns_of(e)}}}}} for e in entries or registry_entries()}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Privacy Control Centre export",
            "type": "object", "required": ["schemaVersion", whose[0], "generatedAt", "categories"],
            "properties": {"schemaVersion": {"const": SCHEMA_VERSION}, whose[0]: whose[1],
                           "generatedAt": {"type": "string", "format": "date-time"},
                           "categories": {"type": "object", "properties": categories}}}


def _tell(user: User, export_id: int, expires_at: datetime) -> None:
    """Through the outbox; not delivered once the archive it links to has expired."""
    link = external_url("my_data.download_export", export_id=export_id)
    queue_email(user.email, "Your data export is ready", "export_ready", expires_at=expires_at, link=link,
                days=EXPORT_LIFETIME.days)


def purge_expired_exports() -> int:
    """Delete archives past their 7 days (the registry's retention), and any partial file."""
    return purge_expired_archives(DataExport, "export")


def purge_expired_archives(model, prefix: str) -> int:
    """Archives of `model` (an export table: expires_at, deleted_at) past their expiry,
    named `<prefix>-<id>-…` or `<prefix>-<id>.zip.part` under exports_dir()."""
    expired = list(model.select().where(model.expires_at < utcnow(), model.deleted_at.is_null()))
    for export in expired:
        for path in exports_dir().glob(f"{prefix}-{export.id}[-.]*"):
            path.unlink(missing_ok=True)
        model.update(deleted_at=utcnow()).where(model.id == export.id).execute()
    return len(expired)
