"""Erasure end to end: request, email confirmation, cooling-off, approval, the job,
the certificate, and a scan proving nothing of the person is left."""
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pypdf
import pytest

from app.db import database
from app.models import (
    REGISTRY,
    AuditEvent,
    ConsentEvent,
    Job,
    OutboxMessage,
    PrivacyRequest,
    Profile,
    RequestEvent,
    Role,
    User,
)
from app.models.base import utcnow
from app.models.registry import Audience, Erasure
from app.services.consent.suppression import is_suppressed
from app.services.demo import seed_demo
from app.services.platform import jobs, outbox
from app.services.platform.audit import verify_chain
from app.services.rights import erasure
from app.services.rights.personal_data import rows_of
from app.services.rights.requests import end_cooling_off
from tests.support.forms import post_form
from tests.support.smtp import text_of

CONFIRM = re.compile(r"http://localhost(/requests/confirm/\S+)")


@pytest.fixture
def alice(app, client):
    with app.app_context(), database.connection_context():
        seed_demo(Path(app.instance_path))
        user = User.by_email("alice@example.com")
        profile = Profile.get(Profile.user == user.id)
    post_form(client, "/login", {"email": user.email, "password": "demo"})
    client.get("/my-data/export")  # nothing; keeps the session warm
    return user, profile.phone


def alices_erasure() -> PrivacyRequest:
    """The demo also holds other people's requests."""
    alice = User.by_email("alice@example.com")
    return PrivacyRequest.get(PrivacyRequest.kind == "deletion", PrivacyRequest.user == alice.id)


def ask_for_erasure(client, smtp):
    smtp.clear()
    response = post_form(client, "/requests/", {"kind": "deletion", "details": "Please erase me"})
    assert response.status_code == 303
    return CONFIRM.search(text_of(smtp.wait_for("alice@example.com"))).group(1)


def test_an_erasure_is_confirmed_by_email_and_can_be_cancelled(client, alice, smtp):
    path = ask_for_erasure(client, smtp)
    page = client.get("/requests/").text
    assert "Waiting for you to confirm from the email" in page
    anonymous = client.application.test_client()
    assert "Yes, erase my data" in anonymous.get(path).text  # the link alone is the proof
    confirmed = post_form(anonymous, path)
    assert "Erasure confirmed" in confirmed.text
    assert "you can still cancel" in client.get("/requests/").text.lower()
    with database.connection_context():
        request_id = alices_erasure().id
    post_form(client, f"/requests/{request_id}/cancel", token_from="/requests/")
    with database.connection_context():
        assert PrivacyRequest.get_by_id(request_id).status == "cancelled"
    assert "Cancelled by the person." in client.get("/requests/").text


def test_a_forged_confirmation_link_is_refused(client, alice):
    response = client.get("/requests/confirm/not-a-real-token")
    assert response.status_code == 400 and "not valid" in response.text


def test_other_kinds_go_straight_to_the_privacy_team_with_a_due_date(client, alice):
    unsaid = post_form(client, "/requests/", {"kind": "objection", "details": "No profiling, please"})
    assert unsaid.status_code == 400 and "Choose what you object to." in unsaid.text
    post_form(client, "/requests/", {"kind": "objection", "processing": "product_analytics",
                                     "details": "No profiling, please"})
    with database.connection_context():
        request = PrivacyRequest.get(PrivacyRequest.kind == "objection",
                                     PrivacyRequest.user == User.by_email("alice@example.com").id)
    assert request.status == "pending_review"
    assert request.due_at.month == (request.received_at.month % 12) + 1  # one calendar month


def test_nobody_else_sees_or_cancels_alices_requests(app, client, alice, smtp, make_user):
    ask_for_erasure(client, smtp)
    with database.connection_context():
        request_id = alices_erasure().id
    from tests.conftest import TEST_PASSWORD
    bob = make_user(Role.SUBJECT)
    intruder = app.test_client()
    post_form(intruder, "/login", {"email": bob.email, "password": TEST_PASSWORD})
    assert "Please erase me" not in intruder.get("/requests/").text
    assert post_form(intruder, f"/requests/{request_id}/cancel", token_from="/requests/").status_code == 404


def approve_after_cooling_off(app, runner):
    with app.app_context(), database.connection_context():
        PrivacyRequest.update(cooling_off_until=utcnow() - timedelta(seconds=1)).where(
            PrivacyRequest.status == "cooling_off").execute()
        assert end_cooling_off() == 1
        request_id = alices_erasure().id
    result = runner.invoke(args=["requests", "approve", str(request_id)])
    assert result.exit_code == 0, result.output
    return request_id


def scan_for(app, needles: list[str]) -> list[str]:
    """Every text value in every table, and every file under the instance folder.
    Whole words only: another demo person may be paynealice@example.com."""
    patterns = {n: re.compile(r"(?<![\w.+-])" + re.escape(n.lower()) + r"(?![\w-])") for n in needles}
    found = []
    with database.connection_context():
        for table in database.get_tables():
            columns = [c.name for c in database.get_columns(table)]
            for row in database.execute_sql(f'SELECT * FROM "{table}"').fetchall():
                for column, value in zip(columns, row):
                    text = str(value).lower() if value is not None else ""
                    found += [f"{table}.{column}: {n}" for n, p in patterns.items() if p.search(text)]
    for path in Path(app.instance_path).rglob("*"):
        if path.is_file() and path.name not in ("secret_key", "data_key", "suppression_key"):
            data = path.read_bytes().decode("utf-8", "replace").lower()
            found += [f"file {path.name}: {n}" for n, p in patterns.items() if p.search(data)]
    return found


def test_an_approved_erasure_leaves_nothing_but_what_the_law_keeps(app, client, runner, alice, smtp):
    user, phone = alice
    post_form(client, "/my-data/export", token_from="/my-data/")  # an archive on disk, to be erased too
    path = ask_for_erasure(client, smtp)
    post_form(app.test_client(), path)
    request_id = approve_after_cooling_off(app, runner)
    smtp.clear()
    with app.app_context(), database.connection_context():
        jobs.run_pending()
        request = PrivacyRequest.get_by_id(request_id)
    assert request.status == "completed"

    notice = smtp.wait_for("alice@example.com")
    [attachment] = [p for p in notice.iter_attachments() if p.get_filename() == "certificate-of-erasure.pdf"]
    pages = pypdf.PdfReader(io.BytesIO(attachment.get_content())).pages
    text = " ".join(" ".join(page.extract_text() for page in pages).split())  # table cells wrap lines
    for entry in REGISTRY.values():  # hers, and every end user's even where empty; no staff categories
        assert (entry.category in text) == (entry.audience is Audience.END_USERS), entry.category
    assert "Certificate of erasure" in text and "kept" in text

    assert post_form(app.test_client(), "/login", {"email": "alice@example.com", "password": "demo"}).status_code == 401
    assert scan_for(app, ["alice@example.com", "Alice Martin", phone]) == []
    with app.app_context(), database.connection_context():
        assert is_suppressed("Alice@Example.com")
        assert verify_chain()[0]  # pseudonymised, not broken
        for entry in REGISTRY.values():
            remaining = rows_of(entry, user).count()
            if entry.erasure is Erasure.DELETE:
                assert remaining == 0, entry.category
        assert User.get_by_id(user.id).email.endswith("@erased.invalid")
        assert all(e.actor_label.startswith("erased person") for e in AuditEvent.select().where(AuditEvent.actor_ref == user.id))
        assert not ConsentEvent.select().where(ConsentEvent.user == user.id, ConsentEvent.ip.is_null(False)).exists()


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so the runner cannot record it as a failure."""


def test_an_erasure_killed_half_way_resumes_and_does_each_category_once(app, client, runner, alice, smtp, monkeypatch):
    user, _ = alice
    path = ask_for_erasure(client, smtp)
    post_form(app.test_client(), path)
    request_id = approve_after_cooling_off(app, runner)
    real_apply, calls = erasure._apply, []

    def dies_on_the_fifth(entry, person, held):
        if len(calls) == 4:
            raise Killed()
        calls.append(entry.category)
        return real_apply(entry, person, held)

    monkeypatch.setattr(erasure, "_apply", dies_on_the_fifth)
    smtp.clear()
    with app.app_context(), database.connection_context():
        with pytest.raises(Killed):
            jobs.run_pending()
        assert Job.get_by_id(PrivacyRequest.get_by_id(request_id).job_id).status == "running"
        monkeypatch.setattr(erasure, "_apply", lambda entry, person, held: (calls.append(entry.category),
                                                                  real_apply(entry, person, held))[1])
        monkeypatch.setattr(jobs, "STALE_AFTER", timedelta(seconds=-1))
        assert jobs.run_pending() == 1  # the erasure, resumed (its notice goes through the outbox)
        request = PrivacyRequest.get_by_id(request_id)
        done = [d["category"] for d in json.loads(request.report)["done"]]
    assert request.status == "completed"
    assert sorted(calls) == sorted(done) and len(done) == len(set(done)) == len(REGISTRY)  # each once
    assert len([m for m in smtp.messages if m["Subject"] == "Your data has been erased"]) == 1
    with database.connection_context():
        timeline = [e.status for e in RequestEvent.select().where(RequestEvent.request == request_id)]
    assert timeline.count("completed") == 1


def test_a_cancelled_request_is_never_erased_even_by_a_stale_approval(app, client, runner, alice, smtp):
    user, _ = alice
    path = ask_for_erasure(client, smtp)
    post_form(app.test_client(), path)
    request_id = approve_after_cooling_off(app, runner)
    with app.app_context(), database.connection_context():
        PrivacyRequest.update(status="cancelled").where(PrivacyRequest.id == request_id).execute()  # raced in
        jobs.run_pending()
        assert User.get_by_id(user.id).email == "alice@example.com" and User.get_by_id(user.id).active
        assert PrivacyRequest.get_by_id(request_id).status == "cancelled"


def test_a_stale_cooling_off_sweep_cannot_undo_a_cancellation(app, client, alice, smtp):
    path = ask_for_erasure(client, smtp)
    post_form(app.test_client(), path)
    with app.app_context(), database.connection_context():
        request_id = alices_erasure().id
        PrivacyRequest.update(cooling_off_until=utcnow() - timedelta(seconds=1)).execute()
    post_form(client, f"/requests/{request_id}/cancel", token_from="/requests/")
    with app.app_context(), database.connection_context():
        assert end_cooling_off() == 0
        assert PrivacyRequest.get_by_id(request_id).status == "cancelled"


def test_mail_down_delays_the_notice_never_the_erasure(app, client, runner, alice, smtp, mail_down):
    user, _ = alice
    path = ask_for_erasure(client, smtp)
    post_form(app.test_client(), path)
    request_id = approve_after_cooling_off(app, runner)
    with app.app_context(), database.connection_context(), mail_down():
        jobs.run_pending()
        assert PrivacyRequest.get_by_id(request_id).status == "completed"
        assert User.get_by_id(user.id).email.endswith("@erased.invalid")
        assert json.loads(PrivacyRequest.get_by_id(request_id).report)["notice_to"] is None
        # The one row still holding the address: her other outbox rows were erased with her.
        [notice] = OutboxMessage.select().where(OutboxMessage.recipient == "alice@example.com")
        assert (notice.kind, notice.status) == ("erasure_done", "pending")
    smtp.clear()
    with app.app_context(), database.connection_context():
        assert outbox.deliver_due(utcnow() + outbox.RETRY_FIRST) == 1
        assert OutboxMessage.get_by_id(notice.id).recipient == ""  # sent: the address is forgotten
    assert smtp.wait_for("alice@example.com")["Subject"] == "Your data has been erased"


def test_half_written_exports_are_erased_too(app, client, runner, alice, smtp):
    user, _ = alice
    post_form(client, "/my-data/export", token_from="/my-data/")
    with app.app_context(), database.connection_context():
        from app.models import DataExport
        export_id = DataExport.get().id
        DataExport.delete().execute()  # the job never ran; only a killed run's partial file remains…
        Job.delete().execute()
    folder = Path(app.instance_path) / "exports"
    folder.mkdir(exist_ok=True)
    partial = folder / f"export-{export_id}.zip.part"
    partial.write_text("alice@example.com")
    with app.app_context(), database.connection_context():
        DataExport.create(id=export_id, user=user, job=Job.create(kind="export", user=user, status="failed"))
    path = ask_for_erasure(client, smtp)
    post_form(app.test_client(), path)
    approve_after_cooling_off(app, runner)
    with app.app_context(), database.connection_context():
        jobs.run_pending()
    assert not partial.exists()
