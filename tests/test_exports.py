"""My data, the export archive, and who may download it."""
import io
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from app.db import database
from app.models import AuditEvent, DataExport, Device, Job, Lead, Profile, Role, UploadedFile, User
from app.models.base import utcnow
from app.models.registry import Audience
from app.services.demo import seed_demo
from app.services.platform import jobs
from app.services.rights import exports
from app.services.rights.personal_data import registry_entries, rows_of, slug_of
from tests.support.forms import post_form
from tests.support.smtp import text_of

PASSWORD = "demo"


@pytest.fixture
def alice(app, client):
    """The demo's Alice (data in every category), signed in."""
    with app.app_context(), database.connection_context():
        seed_demo(Path(app.instance_path))
        user = User.by_email("alice@example.com")
    post_form(client, "/login", {"email": user.email, "password": PASSWORD})
    return user


def run_jobs(app):
    with app.app_context(), database.connection_context():
        return jobs.run_pending()


def test_my_data_lists_every_category_with_its_article_15_facts(client, alice):
    page = client.get("/my-data/").text
    for entry in registry_entries():  # every end user's category (empty ones folded); no staff ones she lacks
        shown = entry.category in page.replace("&amp;", "&") or entry.category.replace("'", "&#39;") in page
        assert shown == (entry.audience is Audience.END_USERS), entry.category
    for fact in ("Source", "Why", "Legal basis", "Recipients", "Kept", "complain to a data protection authority"):
        assert fact in page
    assert "15 records" in page  # her leads


def test_category_rows_are_paged_and_credentials_never_shown(client, alice):
    with database.connection_context():
        Lead.insert_many([{"owner": alice.id, "name": f"Extra {i}"} for i in range(20)]).execute()  # 35 in all
    first = client.get("/my-data/category/lead").text
    assert first.count("<tr>") == 26 and "Next records" in first  # header + 25 rows
    after = re.search(r"after=(\d+)", first).group(1)
    second = client.get(f"/my-data/category/lead?after={after}", headers={"HX-Request": "true"}).text
    assert "<html" not in second and second.count("<tr>") == 11 and "Next records" not in second
    account = client.get("/my-data/category/users").text
    table = account[account.index("<table>"):account.index("</table>")]
    assert "password" not in table and "totp" not in table and "argon2" not in table
    assert "Never shown: password hash, totp secret" in account
    devices = client.get("/my-data/category/device").text
    with database.connection_context():
        token = Device.select().where(Device.owner == alice.id, Device.push_token.is_null(False)).first().push_token
    assert token not in devices and f"…{token[-4:]}" in devices


def test_an_unknown_category_is_404(client, alice):
    assert client.get("/my-data/category/nope").status_code == 404


def test_export_clicks_are_idempotent_and_the_archive_holds_everything(app, client, alice, smtp):
    for _ in range(3):
        post_form(client, "/my-data/export", token_from="/my-data/")
    with database.connection_context():
        assert DataExport.select().count() == 1 and Job.select().count() == 1
    assert run_jobs(app) == 1
    mail = text_of(smtp.wait_for("alice@example.com"))
    path = re.search(r"http://localhost(/my-data/exports/\d+/download)", mail).group(1)
    with client.get(path) as response:
        assert response.status_code == 200 and response.mimetype == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(archive.namelist())
    data = json.loads(archive.read("data.json"))
    with database.connection_context():
        for entry in registry_entries():
            slug = slug_of(entry)
            expected, exported = rows_of(entry, alice).count(), len(data["categories"][slug]["rows"])
            if slug == "audit_events":  # building and downloading the export were audited afterwards
                assert 0 < exported < expected
            elif slug == "outbox_message":  # the email saying it is ready was written once it was built
                assert exported == expected - 1
            else:
                assert exported == expected, slug
            assert f"{slug}.csv" in names
            assert data["categories"][slug]["about"]["legalBasis"] == str(entry.legal_basis)
        files = list(UploadedFile.select().where(UploadedFile.owner == alice.id))
    assert {f"files/{f.id}-{f.filename}" for f in files} <= names
    assert {"schema.json", "consent-receipt.json", "index.html"} <= names
    account = data["categories"]["users"]["rows"][0]
    assert account["email"] == "alice@example.com" and "password_hash" not in account
    assert "Contacts and leads" in archive.read("index.html").decode()
    with database.connection_context():
        export = DataExport.get()
        assert export.downloads == 1
        assert AuditEvent.select().where(AuditEvent.action == "export.downloaded").count() == 1


def test_nobody_else_can_download_it(app, client, alice, make_user):
    post_form(client, "/my-data/export", token_from="/my-data/")
    run_jobs(app)
    with database.connection_context():
        export_id = DataExport.get().id
    intruder = app.test_client()
    bob = make_user(Role.SUBJECT)
    from tests.conftest import TEST_PASSWORD
    post_form(intruder, "/login", {"email": bob.email, "password": TEST_PASSWORD})
    with intruder.get(f"/my-data/exports/{export_id}/download") as response:
        assert response.status_code == 404
    assert app.test_client().get(f"/my-data/exports/{export_id}/download").status_code == 302  # to sign in


def test_an_expired_export_is_refused_and_purged(app, client, alice):
    post_form(client, "/my-data/export", token_from="/my-data/")
    run_jobs(app)
    with database.connection_context():
        export = DataExport.get()
        DataExport.update(expires_at=utcnow() - timedelta(minutes=1)).execute()
    with client.get(f"/my-data/exports/{export.id}/download") as response:
        assert response.status_code == 410 and "expired" in response.text
    archive = Path(app.instance_path) / "exports" / export.file_name
    assert archive.exists()
    with app.app_context(), database.connection_context():
        assert exports.purge_expired_exports() == 1
    assert not archive.exists()


def test_the_export_panel_polls_while_building(client, alice):
    response = post_form(client, "/my-data/export", token_from="/my-data/", headers={"HX-Request": "true"})
    assert "<html" not in response.text
    assert 'hx-trigger="load delay:1s"' in response.text and "<progress" in response.text


def test_rectifying_the_profile_saves_and_audits(client, alice):
    response = post_form(client, "/my-data/profile", {"name": "Alice M.", "phone": "+44 20 7946 0000",
                                                      "company": "Byrne", "country": "ie", "time_zone": "Europe/Dublin",
                                                      "language": "en"})
    assert response.status_code == 303
    with database.connection_context():
        profile = Profile.get(Profile.user == alice.id)
        assert (profile.phone, profile.country, User.get_by_id(alice.id).name) == ("+44 20 7946 0000", "IE", "Alice M.")
        event = AuditEvent.get(AuditEvent.action == "profile.rectified")
    assert "phone" in event.details


def test_a_bad_phone_number_is_named_and_nothing_typed_is_lost(client, alice):
    response = post_form(client, "/my-data/profile", {"name": "Alice Typed", "phone": "call me", "country": "GB",
                                                      "time_zone": "UTC", "language": "en"})
    assert response.status_code == 400
    assert "Use digits, spaces and + ( ) - only" in response.text and 'value="Alice Typed"' in response.text


def test_downloading_or_correcting_needs_a_recent_sign_in(app, client, alice):
    post_form(client, "/my-data/export", token_from="/my-data/")
    run_jobs(app)
    with database.connection_context():
        export_id = DataExport.get().id
    with client.session_transaction() as session:
        session["signed_in_at"] -= 16 * 60  # signed in 16 minutes ago
    response = client.get(f"/my-data/exports/{export_id}/download")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next=/my-data/exports/{export_id}/download"
    assert "sign in again to continue" in client.get("/login").text
    post_form(client, "/login", {"email": "alice@example.com", "password": PASSWORD})
    with client.get(f"/my-data/exports/{export_id}/download") as again:
        assert again.status_code == 200
