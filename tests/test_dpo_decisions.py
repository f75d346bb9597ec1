"""The DPO's decisions beyond yes and no: an erasure approved in part under a legal
hold, internal notes, the jurisdiction corrected, and bulk actions from the queue."""
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest

from app.db import database
from app.models import AuditEvent, PaymentMethod, PrivacyRequest, Profile, RequestNote, Role, UploadedFile, User
from app.models.activity import CallLog
from app.models.base import utcnow
from app.models.billing import SupportInteraction
from app.models.contacts import Lead
from app.services.demo import seed_demo
from app.services.platform import jobs
from app.services.platform.audit import verify_chain
from app.services.platform.errors import ServiceError
from tests.support.forms import post_form
from tests.support.smtp import text_of

HOLD_REASON = "Invoices must be kept for 10 years under tax law (GDPR Art. 17(3)(b))."
UNTIL = "2036-12-31"


@pytest.fixture
def alice_asks_for_erasure(app):
    """The demo's Alice, with data in every category and an erasure waiting for the DPO."""
    with app.app_context(), database.connection_context():
        seed_demo(Path(app.instance_path))
        alice = User.by_email("alice@example.com")
        now = utcnow()
        request = PrivacyRequest.create(user=alice, kind="deletion", status="pending_review", received_at=now,
                                        due_at=now + timedelta(days=20), jurisdiction="GDPR", confirmed_at=now)
    return alice, request


@pytest.fixture
def filed(make_user):
    """A request from a new person, waiting for the DPO unless told otherwise."""
    def make(email, kind="rectification", status="pending_review", received_at=None, due_in_days=20,
             jurisdiction_="GDPR", **fields):
        person = make_user(Role.SUBJECT, email=email)
        received_at = received_at or utcnow()
        with database.connection_context():
            return PrivacyRequest.create(user=person, kind=kind, status=status, received_at=received_at,
                                         due_at=received_at + timedelta(days=due_in_days), jurisdiction=jurisdiction_,
                                         **fields)
    return make


def pdf_text(message) -> str:
    [pdf] = [p for p in message.iter_attachments() if p.get_filename() == "certificate-of-erasure.pdf"]
    pages = pypdf.PdfReader(io.BytesIO(pdf.get_content())).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


def test_an_erasure_approved_in_part_keeps_the_held_category_and_says_why(app, client, login_as, smtp,
                                                                         alice_asks_for_erasure):
    alice, request = alice_asks_for_erasure
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    page = client.get(path).text
    assert "Approve in part" in page and 'value="Payment methods"' in page
    assert 'value="Sign-in links"' not in page  # operational records are never held
    smtp.clear()
    post_form(client, f"{path}/approve", {"keep": ["Payment methods"], "hold_reason": HOLD_REASON,
                                            "hold_until": UNTIL}, token_from=path)

    told = text_of(smtp.wait_for("alice@example.com"))
    assert "approved in part" in told and "Payment methods" in told and HOLD_REASON in told
    assert "until 31 December 2036" in told
    assert "supervisory authority" in told  # a partial refusal carries the right to complain
    with app.app_context(), database.connection_context():
        smtp.clear()
        jobs.run_pending()
        assert PrivacyRequest.get_by_id(request.id).status == "completed"
        assert PaymentMethod.select().where(PaymentMethod.owner == alice.id).count() > 0
        assert SupportInteraction.select().where(SupportInteraction.user == alice.id).count() == 0
        assert not User.get_by_id(alice.id).active
        approval = AuditEvent.select().where(AuditEvent.action == "request.approved").order_by(AuditEvent.id.desc()).get()
        assert json.loads(approval.details)["kept"] == ["Payment methods"]
        assert verify_chain()[0]
    certificate = pdf_text(smtp.wait_for("alice@example.com"))
    assert "Approved in part. The privacy team kept Payment methods under a legal hold" in certificate
    assert "Payment methods kept" in certificate and "Invoices must be kept for 10 years" in certificate
    assert "Until 31 December 2036 at the latest" in certificate
    assert "Support interactions deleted" in certificate


def test_a_hold_keeps_what_its_rows_cannot_lose_and_nothing_more(app, client, login_as, alice_asks_for_erasure):
    """Check-ins are deleted with their contact (CASCADE): the contacts are kept too.
    Call logs merely lose the link (SET NULL): their contacts are still erased."""
    alice, request = alice_asks_for_erasure
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    post_form(client, f"{path}/approve", {"keep": ["Location check-ins", "Call logs"], "hold_reason": HOLD_REASON,
                                          "hold_until": UNTIL}, token_from=path)
    with app.app_context(), database.connection_context():
        kept = [h["category"] for h in json.loads(PrivacyRequest.get_by_id(request.id).legal_holds)]
        assert kept == ["Call logs", "Contacts and leads", "Location check-ins"]
    with app.app_context(), database.connection_context():
        jobs.run_pending()
        assert PrivacyRequest.get_by_id(request.id).status == "completed"
        assert CallLog.select().where(CallLog.owner == alice.id).count() > 0
        assert Lead.select().where(Lead.owner == alice.id).count() > 0
    assert "Contacts and leads" in client.get(path).text  # the request page shows what was kept


def test_keeping_a_profile_does_not_keep_the_uploads_its_photo_pointed_at(app, client, login_as,
                                                                         alice_asks_for_erasure):
    alice, request = alice_asks_for_erasure
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    post_form(client, f"{path}/approve", {"keep": ["Profile"], "hold_reason": HOLD_REASON, "hold_until": UNTIL},
              token_from=path)
    with app.app_context(), database.connection_context():
        kept = [h["category"] for h in json.loads(PrivacyRequest.get_by_id(request.id).legal_holds)]
        assert kept == ["Profile"]
        jobs.run_pending()
        assert Profile.get(Profile.user == alice.id).photo_id is None  # the photo was erased
        assert UploadedFile.select().where(UploadedFile.owner == alice.id).count() == 0


def test_a_hold_needs_its_legal_ground_an_end_date_and_a_real_category(client, login_as, alice_asks_for_erasure):
    _, request = alice_asks_for_erasure
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    no_reason = post_form(client, f"{path}/approve", {"keep": ["Payment methods"], "hold_until": UNTIL},
                          token_from=path)
    assert no_reason.status_code == 400 and "Give the legal ground" in no_reason.text
    no_end = post_form(client, f"{path}/approve", {"keep": ["Payment methods"], "hold_reason": HOLD_REASON},
                       token_from=path)
    assert no_end.status_code == 400 and "Give the date until which they are kept" in no_end.text
    made_up = post_form(client, f"{path}/approve", {"keep": ["Audit log"], "hold_reason": HOLD_REASON,
                                                    "hold_until": UNTIL}, token_from=path)
    assert made_up.status_code == 400 and "not a valid choice" in made_up.text
    with database.connection_context():
        assert PrivacyRequest.get_by_id(request.id).status == "pending_review"  # nothing decided


def test_a_decision_stands_when_the_email_cannot_be_sent(client, login_as, filed, smtp):
    request = filed("unreachable@example.com")
    login_as(Role.DPO)
    smtp.refuse("unreachable@example.com")
    path = f"/dpo/requests/{request.id}"
    page = post_form(client, f"{path}/approve", token_from=path, follow_redirects=True)
    assert "the email to the person could not be sent" in page.text
    assert "could not be sent: tell the person another way" in page.text  # on the timeline
    with database.connection_context():
        assert PrivacyRequest.get_by_id(request.id).status == "approved"


def test_internal_notes_are_for_the_privacy_team_only(app, client, login_as, filed):
    request = filed("noted@example.com")
    dpo = login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    fragment = post_form(client, f"{path}/notes", {"body": "Called the customer to check the new address."},
                         token_from=path, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Called the customer" in fragment.text and dpo.email in fragment.text
    empty = post_form(client, f"{path}/notes", {"body": "  "}, token_from=path)
    assert empty.status_code == 400 and "Write the note first." in empty.text
    with database.connection_context():
        assert RequestNote.select().count() == 1
        assert AuditEvent.get(AuditEvent.action == "request.note_added").actor_id == dpo.id

    owner = app.test_client()
    post_form(owner, "/login", {"email": "noted@example.com", "password": "correct horse battery staple"})
    assert "Called the customer" not in owner.get("/requests/").text


@pytest.mark.parametrize("to, days", [("CCPA", 45), ("IN", 90)])
def test_changing_the_jurisdiction_recomputes_the_due_date(client, login_as, filed, to, days):
    received = utcnow() - timedelta(days=2)
    request = filed("moved@example.com", kind="restriction", received_at=received)
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    post_form(client, f"{path}/jurisdiction", {"jurisdiction": to}, token_from=path)
    with database.connection_context():
        changed = PrivacyRequest.get_by_id(request.id)
    assert changed.jurisdiction == to and changed.due_at == received + timedelta(days=days)
    assert f"Jurisdiction changed from GDPR to {to}" in client.get(path).text


def test_an_extended_request_cannot_move_to_rules_without_extensions(client, login_as, filed):
    request = filed("extended@example.com", due_in_days=90, extended_at=utcnow(), extension_reason="Many records")
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    refused = post_form(client, f"{path}/jurisdiction", {"jurisdiction": "IN"}, token_from=path)
    assert refused.status_code == 409 and "allows no extension" in refused.text


def test_bulk_approve_decides_the_routine_ones_and_reports_the_rest(client, login_as, filed, smtp):
    made = [filed(f"bulk{i}@example.com", kind=kind, status=status, due_in_days=10 + i).id
            for i, (kind, status) in enumerate([("rectification", "pending_review"), ("restriction", "pending_review"),
                                                ("rectification", "denied"), ("deletion", "pending_review")])]
    login_as(Role.DPO)
    response = post_form(client, "/dpo/requests/bulk",
                         {"ids": [str(i) for i in made], "action": "approve", "next": "/dpo/requests?status=pending_review"},
                         token_from="/dpo/requests", follow_redirects=True)
    assert f"2 requests approved (#{made[0]}, #{made[1]})" in response.text
    assert f"#{made[2]} not approved: Request {made[2]} is denied, not waiting for a decision." in response.text
    assert f"#{made[3]} not approved: an erasure is approved from its own page" in response.text
    assert response.request.path == "/dpo/requests" and response.request.args["status"] == "pending_review"
    with database.connection_context():
        # An approved restriction is in force at once, so its request is done.
        assert [PrivacyRequest.get_by_id(i).status for i in made] == ["approved", "completed", "denied",
                                                                      "pending_review"]
    assert {m["To"] for m in smtp.messages} >= {"bulk0@example.com", "bulk1@example.com"}


def test_bulk_assign_and_the_way_back_stays_on_the_queue(client, login_as, filed):
    request = filed("routine@example.com", kind="objection")
    dpo = login_as(Role.DPO)
    response = post_form(client, "/dpo/requests/bulk", {"ids": [str(request.id)], "action": "assign",
                                                        "assignee": str(dpo.id), "next": "https://evil.example/"},
                         token_from="/dpo/requests")
    assert response.status_code == 303 and response.headers["Location"] == "/dpo/requests"
    with database.connection_context():
        assert PrivacyRequest.get_by_id(request.id).assignee_id == dpo.id
    nothing = post_form(client, "/dpo/requests/bulk", {"action": "approve"}, token_from="/dpo/requests",
                        follow_redirects=True)
    assert "Select at least one request first." in nothing.text


def test_the_queue_offers_a_checkbox_per_request(client, login_as, filed):
    request = filed("listed@example.com", kind="objection")
    login_as(Role.DPO)
    page = client.get("/dpo/requests").text
    assert re.search(rf'name="ids" value="{request.id}"[^>]*aria-label="Select request {request.id}"', page)


def test_an_extension_that_would_be_late_under_the_new_rules_blocks_the_change(client, login_as, filed):
    """Extended under CCPA on day 40 (before its day-45 due date); under GDPR the
    original due date was day 31, so that extension would not have been valid."""
    received = utcnow() - timedelta(days=50)
    request = filed("late-notice@example.com", received_at=received, due_in_days=90, jurisdiction_="CCPA",
                    extended_at=received + timedelta(days=40), extension_reason="Many records")
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    refused = post_form(client, f"{path}/jurisdiction", {"jurisdiction": "GDPR"}, token_from=path)
    assert refused.status_code == 409 and "under GDPR it would not be valid" in refused.text


def test_a_deadline_changed_meanwhile_is_not_overwritten(app, login_as, filed, monkeypatch):
    from app.services.rights import dpo
    request = filed("raced@example.com", due_in_days=20)
    actor = login_as(Role.DPO)
    with app.app_context(), database.connection_context():
        stale = PrivacyRequest.get_by_id(request.id)
        dpo.extend(request.id, "Another DPO extended it first.", actor)  # the race's winner
        monkeypatch.setattr(dpo, "get_request", lambda request_id: stale)
        with pytest.raises(ServiceError, match="changed this request's deadline meanwhile"):
            dpo.set_jurisdiction(request.id, "CCPA", actor)
        fresh = PrivacyRequest.get_by_id(request.id)
    assert fresh.jurisdiction == "GDPR" and fresh.extended_at is not None
