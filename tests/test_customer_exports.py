"""A business customer's export of everything processed on its behalf: what the ZIP
holds (the company's rows, no other company's, no credentials), who may download it,
one export at a time, expiry, and a job killed half-way."""
import csv
import io
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from app.db import database
from app.models import (AuditEvent, CompanyExport, Connection, Device, Job, Lead, Role, SignInLink, UploadedFile,
                        User)
from app.models.base import utcnow
from app.services.agreements import companies, customer_exports
from app.services.platform import jobs
from app.services.platform.errors import ServiceError
from app.services.rights.personal_data import slug_of
from tests.conftest import TEST_PASSWORD
from tests.support.forms import post_form

ACME_TOKEN = "acme-push-token-0000-9876"


@pytest.fixture
def acme(app, make_user):
    """Two companies: Acme (an admin and two people with data) and Globex (an admin and
    one person with data), each person's rows recognisable by their company's name."""
    people = {}
    with app.app_context(), database.connection_context():
        for company_name, names in (("Acme", ("acme-admin", "acme-ann", "acme-bob")),
                                    ("Globex", ("globex-admin", "globex-gus"))):
            company = companies.create_company(company_name)
            for name in names:
                role = Role.CUSTOMER_ADMIN if name.endswith("admin") else Role.SUBJECT
                user = make_user(role, email=f"{name}@example.com", name=name)
                companies.add_member(company, user)
                people[name] = user
        for name in ("acme-ann", "acme-bob", "globex-gus"):
            Lead.insert_many([{"owner": people[name].id, "name": f"{name} lead {i}",
                               "email": f"{name}-lead{i}@example.org"} for i in range(3)]).execute()
            SignInLink.create(nonce=f"nonce-{name}", email=people[name].email, expires_at=utcnow())
        Device.create(owner=people["acme-ann"].id, platform="ios", name="Ann's phone", push_token=ACME_TOKEN)
        Connection.create(user=people["acme-bob"].id, integration="google_contacts", access_token="secret-access",
                          refresh_token="secret-refresh")
        uploads = Path(app.instance_path) / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        (uploads / "ann-notes").write_text("Ann's meeting notes")
        UploadedFile.create(owner=people["acme-ann"].id, filename="notes.txt", stored_name="ann-notes",
                            content_type="text/plain", size_bytes=19, sha256="0" * 64)
    people["outsider"] = make_user(Role.SUBJECT, email="outsider@example.com")  # in no company
    return people


def run_jobs(app):
    with app.app_context(), database.connection_context():
        return jobs.run_pending()


def sign_in(app, user):
    client = app.test_client()
    assert post_form(client, "/login", {"email": user.email, "password": TEST_PASSWORD}).status_code == 303
    return client


def built_export(app, admin) -> tuple[CompanyExport, zipfile.ZipFile]:
    with app.app_context(), database.connection_context():
        export = customer_exports.request_customer_export(admin)
    run_jobs(app)
    with app.app_context(), database.connection_context():
        export = CompanyExport.get_by_id(export.id)
    path = Path(app.instance_path) / "exports" / export.file_name
    return export, zipfile.ZipFile(io.BytesIO(path.read_bytes()))


def test_the_zip_holds_every_customer_category_of_the_company_and_nothing_of_another(app, acme):
    export, archive = built_export(app, acme["acme-admin"])
    data = json.loads(archive.read("data.json"))
    manifest = json.loads(archive.read("manifest.json"))
    schema = json.loads(archive.read("schema.json"))
    entries = customer_exports.customer_entries()
    assert data["company"] == manifest["company"] == "Acme" and manifest["accounts"] == 3
    assert set(data["categories"]) == {slug_of(e) for e in entries} == set(schema["properties"]["categories"]["properties"])
    assert "dpa_document" not in data["categories"] and "company_export" not in data["categories"]  # our own records
    assert {c["slug"]: c["rows"] for c in manifest["categories"]} == {
        slug: len(c["rows"]) for slug, c in data["categories"].items()}
    assert manifest["generatedAt"].endswith("Z") and schema["required"][1] == "company"

    leads = data["categories"]["lead"]["rows"]
    assert sorted(r["name"] for r in leads) == sorted(f"{n} lead {i}" for n in ("acme-ann", "acme-bob") for i in range(3))
    accounts = {r["email"] for r in data["categories"]["users"]["rows"]}
    assert accounts == {"acme-admin@example.com", "acme-ann@example.com", "acme-bob@example.com"}
    links = {r["email"] for r in data["categories"]["sign_in_link"]["rows"]}  # reached by address, not by id
    assert links == {"acme-ann@example.com", "acme-bob@example.com"}
    with archive.open("lead.csv") as raw:
        rows = list(csv.DictReader(io.TextIOWrapper(raw, "utf-8")))
    assert len(rows) == 6 and all(r["name"].startswith("acme-") for r in rows)
    whole = b"".join(archive.read(n) for n in archive.namelist()).decode()
    assert "globex" not in whole.lower() and "outsider" not in whole  # nothing of another company, nor of nobody's
    assert archive.read(f"files/{acme['acme-ann'].id}/{UploadedFile.get().id}-notes.txt") == b"Ann's meeting notes"


def test_credentials_are_never_exported_and_masked_fields_are_masked(app, acme):
    _, archive = built_export(app, acme["acme-admin"])
    data = json.loads(archive.read("data.json"))
    account = data["categories"]["users"]["rows"][0]
    assert "password_hash" not in account and "totp_secret" not in account
    connection = data["categories"]["connection"]["rows"][0]
    assert "access_token" not in connection and "refresh_token" not in connection
    assert data["categories"]["device"]["rows"][0]["push_token"] == "…" + ACME_TOKEN[-4:]
    whole = b"".join(archive.read(n) for n in archive.namelist()).decode()
    assert ACME_TOKEN not in whole and "secret-access" not in whole and "argon2" not in whole
    with archive.open("users.csv") as raw:
        header = next(csv.reader(io.TextIOWrapper(raw, "utf-8")))
    assert "password_hash" not in header and "email" in header


def test_a_large_company_is_read_in_keyset_pages(app, acme, monkeypatch):
    monkeypatch.setattr(customer_exports, "PAGE_SIZE", 2)  # 6 leads: three pages and an empty one
    pages = []
    real = customer_exports.plain_rows_of_people
    monkeypatch.setattr(customer_exports, "plain_rows_of_people",
                        lambda entry, people, after=None, limit=None: pages.append((slug_of(entry), after, limit))
                        or real(entry, people, after=after, limit=limit))
    _, archive = built_export(app, acme["acme-admin"])
    lead_pages = [p for p in pages if p[0] == "lead"]
    assert len(lead_pages) == 4 and all(limit == 2 for _, _, limit in lead_pages)
    assert len(json.loads(archive.read("data.json"))["categories"]["lead"]["rows"]) == 6  # each row once


def test_requests_and_downloads_are_audited_and_clicks_are_idempotent(app, acme, make_user):
    client = sign_in(app, acme["acme-admin"])
    for _ in range(3):
        post_form(client, "/customer/export", token_from="/customer/")
    other_admin = make_user(Role.CUSTOMER_ADMIN, email="acme-second-admin@example.com")
    with app.app_context(), database.connection_context():
        companies.add_member(companies.company_named("Acme"), other_admin)
    post_form(sign_in(app, other_admin), "/customer/export", token_from="/customer/")  # a second admin at once
    with database.connection_context():
        assert CompanyExport.select().count() == 1 and Job.select().count() == 1
        assert AuditEvent.select().where(AuditEvent.action == "customer_export.requested").count() == 1
    assert run_jobs(app) == 1
    page = client.get("/customer/").text
    link = re.search(r'href="(/customer/exports/\d+/download)"', page).group(1)
    with client.get(link) as response:
        assert response.status_code == 200 and response.mimetype == "application/zip"
        assert response.headers["Cache-Control"] == "no-store"
        assert "manifest.json" in zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    with database.connection_context():
        event = AuditEvent.get(AuditEvent.action == "customer_export.downloaded")
        assert event.actor_ref == acme["acme-admin"].id and json.loads(event.details)["company_id"]
        assert CompanyExport.get().downloads == 1
    post_form(client, "/customer/export", token_from="/customer/")  # done: a new one may start
    with database.connection_context():
        assert CompanyExport.select().count() == 2


def test_only_the_companys_admins_download_it(app, acme, make_user):
    export, _ = built_export(app, acme["acme-admin"])
    url = f"/customer/exports/{export.id}/download"
    with sign_in(app, acme["globex-admin"]).get(url) as response:  # another company's admin
        assert response.status_code == 404 and "PK" not in response.text
    unlinked = make_user(Role.CUSTOMER_ADMIN, email="lonely-admin@example.com")
    with sign_in(app, unlinked).get(url) as response:  # an admin of no company
        assert response.status_code == 404
    with sign_in(app, acme["acme-ann"]).get(url) as response:  # one of the company's own end users
        assert response.status_code == 403 and "You do not have access to this page" in response.text
    assert app.test_client().get(url).status_code == 302  # to sign in
    with sign_in(app, acme["acme-admin"]).get(url) as response:
        assert response.status_code == 200
    with app.app_context(), database.connection_context():
        with pytest.raises(ServiceError) as refused:
            customer_exports.open_customer_download(User.get_by_id(acme["acme-ann"].id), export.id)
        assert refused.value.status == 404  # the rule itself, whatever the route


def test_the_panel_polls_a_progressbar_while_building_then_offers_the_download(app, acme):
    client = sign_in(app, acme["acme-admin"])
    response = post_form(client, "/customer/export", token_from="/customer/", headers={"HX-Request": "true"})
    assert "<html" not in response.text
    assert 'role="progressbar"' in response.text and 'aria-valuenow="0"' in response.text
    assert 'hx-get="/customer/export/status"' in response.text and 'hx-trigger="load delay:1s"' in response.text
    run_jobs(app)
    status = client.get("/customer/export/status", headers={"HX-Request": "true"}).text
    assert "<html" not in status and "progressbar" not in status
    assert "Acme's export is ready" in status and "Download our data (ZIP)" in status
    assert "<html" in client.get("/customer/export/status").text  # without htmx: the whole page


def test_an_admin_of_no_company_is_told_and_cannot_start_one(app, login_as, client):
    login_as(Role.CUSTOMER_ADMIN)
    assert "not linked to a company yet" in client.get("/customer/").text
    response = post_form(client, "/customer/export", token_from="/customer/dpa/new")  # a stale page's form
    assert response.status_code == 409 and "Ask us to link it" in response.text
    with database.connection_context():
        assert CompanyExport.select().count() == 0


def test_an_expired_archive_is_refused_and_purged_by_the_scheduler_job(app, acme):
    from jobs import purge_expired_exports
    export, _ = built_export(app, acme["acme-admin"])
    with database.connection_context():
        CompanyExport.update(expires_at=utcnow() - timedelta(minutes=1)).execute()
    with sign_in(app, acme["acme-admin"]).get(f"/customer/exports/{export.id}/download") as response:
        assert response.status_code == 410 and "expired" in response.text
    archive = Path(app.instance_path) / "exports" / export.file_name
    assert archive.exists()
    assert purge_expired_exports.run(app) == 1
    assert not archive.exists()
    with database.connection_context():
        assert CompanyExport.get_by_id(export.id).deleted_at is not None
    assert "has expired and was deleted" in sign_in(app, acme["acme-admin"]).get("/customer/").text


def test_a_build_killed_half_way_is_restarted_cleanly(app, acme, monkeypatch):
    with app.app_context(), database.connection_context():
        export = customer_exports.request_customer_export(acme["acme-admin"])
    real, calls = customer_exports._write_files, []

    def killed_once(*args):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt  # the process dies mid-archive: no handler records a failure
        return real(*args)

    monkeypatch.setattr(customer_exports, "_write_files", killed_once)
    with pytest.raises(KeyboardInterrupt), app.app_context(), database.connection_context():
        jobs.run_pending()
    folder = Path(app.instance_path) / "exports"
    with database.connection_context():
        assert Job.get_by_id(export.job_id).status == "running"  # left behind by the dead run
        assert CompanyExport.get_by_id(export.id).ready_at is None
    assert [p.name for p in folder.iterdir()] == [f"company-export-{export.id}.zip.part"]
    monkeypatch.setattr(jobs, "STALE_AFTER", timedelta(seconds=-1))  # SQLite: its heartbeat counts as stopped
    assert run_jobs(app) == 1
    with database.connection_context():
        job, export = Job.get_by_id(export.job_id), CompanyExport.get_by_id(export.id)
        assert (job.status, job.attempts) == ("done", 2)
        assert AuditEvent.select().where(AuditEvent.action == "customer_export.ready").count() == 1
    assert sorted(p.name for p in folder.iterdir()) == [export.file_name]  # one archive, no partial left
    with zipfile.ZipFile(folder / export.file_name) as archive:
        assert len(json.loads(archive.read("data.json"))["categories"]["lead"]["rows"]) == 6


def test_erasing_the_admin_who_asked_leaves_the_export_to_the_company(app, acme, make_user):
    from app.services.rights import erasure
    export, _ = built_export(app, acme["acme-admin"])
    with app.app_context(), database.connection_context():
        erasure.ANONYMISERS[CompanyExport](User.get_by_id(acme["acme-admin"].id))
        assert CompanyExport.get_by_id(export.id).requested_by_id is None
    second = make_user(Role.CUSTOMER_ADMIN, email="acme-next-admin@example.com")
    with app.app_context(), database.connection_context():
        companies.add_member(companies.company_named("Acme"), second)
    with sign_in(app, second).get(f"/customer/exports/{export.id}/download") as response:
        assert response.status_code == 200


def test_an_account_belongs_to_one_company_at_most(app, acme):
    with app.app_context(), database.connection_context():
        with pytest.raises(ServiceError, match="already belongs to Acme"):
            companies.add_member(companies.company_named("Globex"), User.get_by_id(acme["acme-ann"].id))


def test_companies_are_managed_from_the_command_line(app, runner, make_user):
    person = make_user(Role.SUBJECT, email="new-hire@example.com")
    assert runner.invoke(args=["companies", "create", "Initech"]).exit_code == 0
    result = runner.invoke(args=["companies", "add", "Initech", person.email])
    assert result.exit_code == 0 and "now belongs to Initech" in result.output
    missing = runner.invoke(args=["companies", "add", "Nope Ltd", person.email])
    assert missing.exit_code != 0 and "There is no company called 'Nope Ltd'" in missing.output
