"""A person is whoever the data is about: someone who exists only as a customer's lead
signs in by email link and sees, exports and erases every row about them, with what
is the customer's withheld."""
import io
import json
import re
import zipfile
from datetime import timedelta

import pypdf
import pytest

from app.db import database
from app.models import REGISTRY, CallLog, Lead, PrivacyRequest, Role, SmsLog, UploadedFile, User
from app.models.base import utcnow
from app.models.registry import PersonalData
from app.services.platform import jobs
from app.services.rights.personal_data import WITHHELD, holdings_of, page_of_rows
from app.services.rights.requests import end_cooling_off
from tests.support.forms import post_form
from tests.support.smtp import text_of
from tests.test_auth import ask_for_link, use_link
from tests.test_erasure import scan_for

LEAD_EMAIL = "dana.lead@example.org"
PHONE = "+44 20 7946 0321"
CONFIRM = re.compile(r"http://localhost(/requests/confirm/\S+)")


@pytest.fixture
def dana_as_lead(app, make_user):
    """Two customers keep Dana as a lead (one typed her address in capitals); one of
    them called, texted and filed her business card. Dana has no account."""
    first, second = make_user(Role.SUBJECT), make_user(Role.SUBJECT)
    uploads = app.instance_path + "/uploads"
    with database.connection_context():
        lead = Lead.create(owner=first, name="Dana Okafor", email=LEAD_EMAIL, phone=PHONE, company="Okafor Ltd",
                           notes="Met at the trade fair")
        Lead.create(owner=second, name="D. Okafor", email=LEAD_EMAIL.upper(), source="google_contacts")
        Lead.create(owner=second, name="Someone else", email="other@example.org")
        CallLog.create(owner=first, lead=lead, number=PHONE, direction="outbound", duration_seconds=60)
        SmsLog.create(owner=first, lead=lead, number=PHONE, direction="outbound", body="See you Tuesday, Dana")
        import os
        os.makedirs(uploads, exist_ok=True)
        with open(f"{uploads}/card-dana.png", "wb") as f:
            f.write(b"business card of dana.lead@example.org")
        UploadedFile.create(owner=first, lead=lead, filename="card.png", stored_name="card-dana.png",
                            content_type="image/png", size_bytes=38, sha256="0" * 64)
    return first, second


def sign_in_by_link(client, smtp, email):
    use_link(client, ask_for_link(client, smtp, email))
    with database.connection_context():
        return User.by_email(email)


def test_a_lead_only_person_sees_every_row_about_them_with_the_customer_withheld(app, client, smtp, dana_as_lead):
    first, _ = dana_as_lead
    dana = sign_in_by_link(client, smtp, LEAD_EMAIL)
    with app.app_context(), database.connection_context():
        held = {h.entry.category: h for h in holdings_of(dana)}
        leads = REGISTRY[Lead]
        rows, _ = page_of_rows(leads, dana)
    assert (held["Contacts and leads"].rows, held["Contacts and leads"].about_you) == (2, 2)
    assert held["Call logs"].rows == held["Text messages"].rows == held["Uploaded files"].rows == 1
    assert {r["name"] for r in rows} == {"Dana Okafor", "D. Okafor"}  # not "Someone else"
    assert all(r["owner_id"] == WITHHELD for r in rows)
    assert str(first.id) not in json.dumps([r["owner_id"] for r in rows])

    overview = client.get("/my-data/").text
    assert "kept about you by customers of ours" in overview
    page = client.get("/my-data/category/lead").text
    assert "Met at the trade fair" in page and "withheld" in page
    assert "Contacts and leads" in client.get("/portal/").text


def test_the_customer_still_sees_their_own_leads_in_full(app, dana_as_lead):
    first, _ = dana_as_lead
    with app.app_context(), database.connection_context():
        rows, _ = page_of_rows(REGISTRY[Lead], first)
        held = {h.entry.category: h for h in holdings_of(first)}
    assert [r["owner_id"] for r in rows] == [first.id]
    assert held["Contacts and leads"].about_you == 0


def test_nobody_else_sees_a_lead_about_dana(app, client, smtp, dana_as_lead, make_user):
    stranger = make_user(Role.SUBJECT, email="stranger@example.org")
    with app.app_context(), database.connection_context():
        held = {h.entry.category: h.rows for h in holdings_of(stranger)}
    assert held["Contacts and leads"] == held["Call logs"] == 0


def test_the_export_holds_the_rows_about_them_and_the_attached_file(app, client, smtp, dana_as_lead):
    dana = sign_in_by_link(client, smtp, LEAD_EMAIL)
    post_form(client, "/my-data/export", token_from="/my-data/")
    with app.app_context(), database.connection_context():
        jobs.run_pending()
        from app.models import DataExport
        export = DataExport.get(DataExport.user == dana.id)
    with zipfile.ZipFile(f"{app.instance_path}/exports/{export.file_name}") as archive:
        data = json.loads(archive.read("data.json"))
        names = archive.namelist()
        leads_csv = archive.read("lead.csv").decode()
    lead_rows = data["categories"]["lead"]["rows"]
    assert {r["phone"] for r in lead_rows} == {PHONE, ""}
    assert all(r["owner_id"] == WITHHELD for r in lead_rows)
    assert data["categories"]["call_log"]["rows"][0]["number"] == PHONE
    assert any(n.endswith("card.png") for n in names)
    assert "Dana Okafor" in leads_csv and WITHHELD in leads_csv


def erase(app, client, runner, smtp, email):
    smtp.clear()
    post_form(client, "/requests/", {"kind": "deletion", "details": ""})
    path = CONFIRM.search(text_of(smtp.wait_for(email))).group(1)
    post_form(app.test_client(), path)
    with app.app_context(), database.connection_context():
        PrivacyRequest.update(cooling_off_until=utcnow() - timedelta(seconds=1)).where(
            PrivacyRequest.status == "cooling_off").execute()
        end_cooling_off()
        request = PrivacyRequest.get(PrivacyRequest.kind == "deletion", PrivacyRequest.status == "pending_review")
    assert runner.invoke(args=["requests", "approve", str(request.id)]).exit_code == 0
    smtp.clear()
    with app.app_context(), database.connection_context():
        jobs.run_pending()
    notice = smtp.wait_for(email)
    [pdf] = [p for p in notice.iter_attachments() if p.get_filename() == "certificate-of-erasure.pdf"]
    pages = pypdf.PdfReader(io.BytesIO(pdf.get_content())).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


def test_erasure_removes_the_leads_and_everything_attached_and_says_what_each_identifier_found(
        app, client, runner, smtp, dana_as_lead):
    first, second = dana_as_lead
    sign_in_by_link(client, smtp, LEAD_EMAIL)
    certificate = erase(app, client, runner, smtp, LEAD_EMAIL)
    assert "Under your email address we found 5 records in customers' CRMs" in certificate
    assert scan_for(app, [LEAD_EMAIL, "Dana Okafor", "D. Okafor", PHONE, "See you Tuesday, Dana"]) == []
    with database.connection_context():
        # The customers' other data is untouched.
        assert Lead.select().where(Lead.email == "other@example.org").count() == 1
        assert User.get_by_id(first.id).active and User.get_by_id(second.id).active


def test_a_row_about_someone_must_name_the_identifiers_it_holds():
    with pytest.raises(ValueError, match="identifiers"):
        PersonalData(category="x", holds="", source="", purpose="", legal_basis="", recipients=(), retention="",
                     erasure="delete", person="owner", about="self")
