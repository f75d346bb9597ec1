"""The DPO's queue and decisions."""
import re
from datetime import timedelta

import pytest

from app.db import database
from app.models import AuditEvent, PrivacyRequest, Role
from app.models.base import utcnow
from tests.support.forms import post_form
from tests.support.smtp import text_of


@pytest.fixture
def filed(make_user):
    """Requests from three people, due at different times."""
    def make(email, kind="objection", due_in_days=20, status="pending_review"):
        person = make_user(Role.SUBJECT, email=email)
        with database.connection_context():
            now = utcnow()
            return PrivacyRequest.create(user=person, kind=kind, status=status, received_at=now,
                                         due_at=now + timedelta(days=due_in_days), jurisdiction="GDPR")
    return make


def rows(html):
    return re.findall(r'href="/dpo/requests/(\d+)"', html)


def test_the_queue_sorts_by_due_date_and_filters(client, login_as, filed):
    late = filed("late@example.com", due_in_days=-3)
    soon = filed("soon@example.com", kind="restriction", due_in_days=5)
    later = filed("later@example.com", due_in_days=25)
    login_as(Role.DPO)
    assert rows(client.get("/dpo/requests").text) == [str(late.id), str(soon.id), str(later.id)]
    overdue = client.get("/dpo/requests?due=overdue").text
    assert rows(overdue) == [str(late.id)] and "Overdue by 3 days" in overdue  # said in words, not colour alone
    assert rows(client.get("/dpo/requests?due=week").text) == [str(soon.id)]
    assert rows(client.get("/dpo/requests?kind=restriction").text) == [str(soon.id)]
    assert rows(client.get("/dpo/requests?email=LATER@example.com").text) == [str(later.id)]
    fragment = client.get("/dpo/requests?due=overdue", headers={"HX-Request": "true"}).text
    assert "<html" not in fragment and rows(fragment) == [str(late.id)]


def test_the_queue_pages_by_keyset(client, login_as, make_user):
    person = make_user(Role.SUBJECT)
    with database.connection_context():
        now = utcnow()
        PrivacyRequest.insert_many([{"user": person.id, "kind": "objection", "status": "pending_review",
                                     "received_at": now, "due_at": now + timedelta(days=i % 7), "jurisdiction": "GDPR"}
                                    for i in range(60)]).execute()
    login_as(Role.DPO)
    first = client.get("/dpo/requests").text
    cursor = re.search(r'after=([^"&]+)', first).group(1)
    second = client.get(f"/dpo/requests?after={cursor}").text
    assert len(rows(first)) == 50 and len(rows(second)) == 10
    assert not set(rows(first)) & set(rows(second))


def test_a_refusal_needs_a_reason_and_tells_the_person_how_to_complain(client, login_as, filed, smtp):
    request = filed("refused@example.com")
    login_as(Role.DPO)
    short = post_form(client, f"/dpo/requests/{request.id}/deny", {"reason": "no"}, token_from=f"/dpo/requests/{request.id}")
    assert short.status_code == 400 and "Write the reason out, with its legal ground" in short.text
    reason = "We must keep this data to comply with a legal obligation (GDPR Art. 17(3)(b))."
    post_form(client, f"/dpo/requests/{request.id}/deny", {"reason": reason}, token_from=f"/dpo/requests/{request.id}")
    mail = text_of(smtp.wait_for("refused@example.com"))
    assert reason in mail and "supervisory authority" in mail
    with database.connection_context():
        assert PrivacyRequest.get_by_id(request.id).status == "denied"


def test_a_deadline_is_extended_once_with_notice_to_the_person(client, login_as, filed, smtp):
    request = filed("slow@example.com", due_in_days=10)
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    post_form(client, f"{path}/extend", {"reason": "The request covers ten years of call recordings."}, token_from=path)
    with database.connection_context():
        extended = PrivacyRequest.get_by_id(request.id)
    assert extended.due_at.month != request.due_at.month and extended.extended_at
    assert "ten years of call recordings" in text_of(smtp.wait_for("slow@example.com"))
    again = post_form(client, f"{path}/extend", {"reason": "Still more time needed, sorry."}, token_from=path)
    assert again.status_code == 409 and "no second extension" in again.text


def test_an_admin_may_act_and_the_audit_log_names_them(client, login_as, filed):
    request = filed("approved@example.com")
    admin = login_as(Role.ADMIN)
    post_form(client, f"/dpo/requests/{request.id}/approve", token_from=f"/dpo/requests/{request.id}")
    with database.connection_context():
        event = AuditEvent.get(AuditEvent.action == "request.approved")
        assert event.actor_id == admin.id
        assert PrivacyRequest.get_by_id(request.id).status == "completed"  # an objection takes effect at once


def test_assignment_goes_to_the_privacy_team_only(client, login_as, filed, make_user):
    request = filed("assigned@example.com")
    dpo = login_as(Role.DPO)
    post_form(client, f"/dpo/requests/{request.id}/assign", {"assignee": str(dpo.id)},
              token_from=f"/dpo/requests/{request.id}")
    assert rows(client.get(f"/dpo/requests?assignee={dpo.id}").text) == [str(request.id)]
    outsider = make_user(Role.SALES_OPS)
    post_form(client, f"/dpo/requests/{request.id}/assign", {"assignee": str(outsider.id)},
              token_from=f"/dpo/requests/{request.id}")
    with database.connection_context():
        assert PrivacyRequest.get_by_id(request.id).assignee_id == dpo.id


def test_an_approved_correction_is_marked_done_when_carried_out(client, login_as, filed, smtp):
    request = filed("corrected@example.com", kind="rectification")
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    post_form(client, f"{path}/approve", token_from=path)
    with database.connection_context():
        assert PrivacyRequest.get_by_id(request.id).status == "approved"  # not done until it is done
    assert "Mark as carried out" in client.get(path).text
    post_form(client, f"{path}/complete", token_from=path)
    with database.connection_context():
        assert PrivacyRequest.get_by_id(request.id).status == "completed"
    assert any("Your request is done" in m["Subject"] for m in smtp.messages)
