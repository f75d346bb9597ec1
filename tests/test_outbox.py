"""The outbox (app.services.platform.outbox): mail that matters is written in the
transaction of the change it reports, delivered at commit or, while the mail server
is down, by the `deliver_outbox` job with back-off for 3 days, never twice. Time is
moved by passing `now`, never slept through."""
import threading
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet

from app.db import database
from app.models import REGISTRY, OutboxMessage, OutboxStatus, PrivacyRequest, Role, SignInLink
from app.models.base import utcnow
from app.models.fields import Cipher
from app.services.accounts import auth
from app.services.platform import jobs, outbox
from app.services.platform.outbox import deliver_due, queue_email
from app.services.rights import dpo
from app.services.rights.personal_data import columns_of, plain_rows, rows_of
from jobs import deliver_outbox
from tests.support.forms import post_form
from tests.test_key_rotation import app_with_keys
from tests.support.smtp import text_of

LINK = "http://localhost/preferences/p/secret-token-0123456789"


def a_link_email(to: str) -> OutboxMessage:
    return queue_email(to, "Your link to manage your preferences", "preferences_link", link=LINK, days=90)


def row(message: OutboxMessage) -> OutboxMessage:
    return OutboxMessage.get_by_id(message.id)


def filed(make_user, email: str, kind: str = "rectification") -> PrivacyRequest:
    person = make_user(Role.SUBJECT, email=email)
    now = utcnow()
    with database.connection_context():
        return PrivacyRequest.create(user=person, kind=kind, status="pending_review", received_at=now,
                                     due_at=now + timedelta(days=20), jurisdiction="GDPR", confirmed_at=now)


# --- the acceptance test of issue 16 ------------------------------------------------------

def test_a_decision_made_while_the_mail_server_is_down_is_delivered_once_it_is_back_exactly_once(
        app, client, login_as, make_user, smtp, mail_down, monkeypatch):
    request = filed(make_user, "pat@example.com")
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    smtp.clear()
    with mail_down():
        page = post_form(client, f"{path}/approve", token_from=path, follow_redirects=True)
        assert page.status_code == 200  # no error page: the decision stands, its email waits
        assert "the email to the person is queued" in page.text
        later = utcnow() + outbox.RETRY_FIRST
        monkeypatch.setattr(outbox, "utcnow", lambda: later)  # the scheduler's clock, 30 s on
        assert deliver_outbox.run(app) == 0  # still down: one more attempt, no mail
    with app.app_context(), database.connection_context():
        queued = OutboxMessage.get(OutboxMessage.ref == f"decision:{request.id}")
        assert (queued.status, queued.attempts, queued.last_error) == ("pending", 2, "ConnectionRefusedError")
        assert PrivacyRequest.get_by_id(request.id).status == "approved"
    assert smtp.messages == []

    back = later + timedelta(minutes=2)  # the server is back; the next attempt is due
    monkeypatch.setattr(outbox, "utcnow", lambda: back)
    assert deliver_outbox.run(app) == 1
    assert deliver_outbox.run(app) == 0  # run again: nothing left to send
    decided = [m for m in smtp.messages if m["Subject"] == f"Your request was approved (request {request.id})"]
    assert len(decided) == 1 and len(smtp.messages) == 1 and decided[0]["To"] == "pat@example.com"
    with app.app_context(), database.connection_context():
        sent = row(queued)
        assert (sent.status, sent.body, sent.message_id) == ("sent", None, decided[0]["Message-ID"])


# --- one transaction with the change --------------------------------------------------------

class Undone(Exception):
    pass


def test_a_change_rolled_back_sends_nothing_and_a_commit_always_sends(db, make_user, smtp):
    request = filed(make_user, "ro@example.com")
    staff = make_user(Role.DPO)
    smtp.clear()
    with pytest.raises(Undone), database.atomic():
        dpo.deny(request.id, "We checked the register: the spelling on file is right.", staff)
        raise Undone()  # something after the decision failed: the decision and its email go together
    assert PrivacyRequest.get_by_id(request.id).status == "pending_review"
    assert not OutboxMessage.select().exists() and smtp.messages == []

    with database.atomic():
        dpo.deny(request.id, "We checked the register: the spelling on file is right.", staff)
        assert smtp.messages == []  # not before the commit…
    assert smtp.wait_for("ro@example.com")["Subject"] == f"Your request was refused (request {request.id})"  # …at it


# --- exactly once --------------------------------------------------------------------------

def test_two_schedulers_delivering_at_once_send_each_message_once(app, db, smtp, mail_down):
    with mail_down():
        messages = [a_link_email(f"person{i}@example.com") for i in range(12)]
    smtp.clear()
    later, start = utcnow() + timedelta(minutes=1), threading.Barrier(4)

    def scheduler():
        with app.app_context(), database.connection_context():
            start.wait()
            deliver_due(later)
    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m["Message-ID"] for m in smtp.messages) == sorted(m.message_id for m in messages)
    assert {row(m).status for m in messages} == {"sent"}


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing on the way out can handle it."""


def test_a_sender_killed_after_the_server_took_the_message_only_repeats_its_message_id(
        app, db, smtp, mail_down, monkeypatch):
    """The one repeat possible: the server said 250, the sender died before marking the
    row sent. Its claim lapses, the row is sent again: the same bytes, the same Message-ID."""
    with mail_down():
        message = a_link_email("once@example.com")
    smtp.clear()
    real_finish, later = outbox._finish, utcnow() + timedelta(minutes=1)

    def dies_before_marking_it_sent(message, token, status, now, error=""):
        if status is OutboxStatus.SENT:
            raise Killed()
        return real_finish(message, token, status, now, error)
    monkeypatch.setattr(outbox, "_finish", dies_before_marking_it_sent)
    with pytest.raises(Killed):
        deliver_due(later)
    monkeypatch.setattr(outbox, "_finish", real_finish)
    assert row(message).status == "sending" and len(smtp.messages) == 1
    assert deliver_due(later + outbox.CLAIM_FOR / 2) == 0  # still claimed: nobody else sends it meanwhile
    assert deliver_due(later + outbox.CLAIM_FOR + timedelta(seconds=1)) == 1
    assert [m["Message-ID"] for m in smtp.messages] == [message.message_id] * 2
    assert deliver_due(later + timedelta(hours=1)) == 0 and len(smtp.messages) == 2


# --- retries --------------------------------------------------------------------------------

def test_retries_back_off_up_to_an_hour_and_give_up_after_three_days(app, db, smtp, mail_down):
    with mail_down():
        message = row(a_link_email("far@example.com"))
        first_wait = message.next_attempt_at - message.created_at
        assert message.attempts == 1 and timedelta(seconds=30) <= first_wait <= timedelta(seconds=31)
        waits = []
        while message.status == "pending":
            assert deliver_due(message.next_attempt_at - timedelta(seconds=1)) == 0
            assert row(message).attempts == message.attempts  # not tried before its time
            at = message.next_attempt_at
            deliver_due(at)
            message = row(message)
            waits.append(message.next_attempt_at - at)
    assert [w.total_seconds() for w in waits[:8]] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert at == message.created_at + outbox.GIVE_UP_AFTER  # the last try falls on the deadline
    assert (message.status, message.body, message.last_error) == ("failed", None, "ConnectionRefusedError")
    assert message.attempts == len(waits) + 1 and message.finished_at == at
    assert deliver_due(at + timedelta(days=1)) == 0 and smtp.messages == []  # given up: never tried again
    total, listed = outbox.undelivered()
    assert total == 1 and (listed[0].kind, listed[0].status, listed[0].to) == ("preferences_link", "failed",
                                                                                "f…@e….com")


def test_a_mailbox_that_refuses_is_not_tried_again(db, smtp):
    smtp.refuse("gone@example.com")
    message = row(a_link_email("gone@example.com"))
    assert (message.status, message.attempts, message.last_error) == ("failed", 1, "SMTPRecipientsRefused 550")
    assert deliver_due(utcnow() + timedelta(days=1)) == 0 and smtp.messages == []


def test_a_sign_in_link_is_not_delivered_once_it_expired(app, db, smtp, mail_down):
    with mail_down():
        auth.send_sign_in_link("late@example.com", lambda token: f"http://localhost/login/email/{token}")
    message = OutboxMessage.get(OutboxMessage.kind == "sign_in_link")
    assert message.expires_at == SignInLink.get(SignInLink.email == "late@example.com").expires_at
    assert deliver_due(message.expires_at + timedelta(seconds=1)) == 0
    message = row(message)
    assert (message.status, message.body) == ("expired", None) and smtp.messages == []
    assert outbox.undelivered()[1][0].status == "expired"


# --- at rest ----------------------------------------------------------------------------------

def test_the_message_is_unreadable_in_the_database_and_deleted_once_sent(db, smtp, mail_down):
    with mail_down():
        message = a_link_email("reader@example.com")
    [stored] = database.execute_sql(f"SELECT * FROM outbox_message WHERE id = {int(message.id)}").fetchall()
    text = " ".join(str(value) for value in stored)
    assert "secret-token" not in text and "manage your preferences" not in text  # neither the link nor the subject
    (body,) = database.execute_sql(f"SELECT body FROM outbox_message WHERE id = {int(message.id)}").fetchone()
    assert LINK.encode() in Cipher.get().decrypt(body.encode())  # our key reads it, nothing else

    assert deliver_due(utcnow() + timedelta(minutes=1)) == 1
    assert LINK in text_of(smtp.wait_for("reader@example.com"))
    assert database.execute_sql(f"SELECT body FROM outbox_message WHERE id = {int(message.id)}").fetchone() == (None,)


def test_a_key_rotation_re_encrypts_what_waits_and_it_is_still_delivered(app, smtp, mail_down):
    old, new = app.config["DATA_ENCRYPTION_KEY"], Fernet.generate_key().decode()
    with mail_down(), app.app_context(), database.connection_context():
        message = a_link_email("patient@example.com")
    result = app_with_keys(app, f"{new},{old}").test_cli_runner().invoke(args=["keys", "rotate"])
    assert "outbox_message: 1 row(s) re-encrypted" in result.output, result.output
    rotated = app_with_keys(app, new)  # the old key is gone
    with rotated.app_context(), database.connection_context():
        assert deliver_due(utcnow() + timedelta(minutes=1)) == 1
    assert LINK in text_of(smtp.wait_for("patient@example.com"))


def test_sent_rows_go_after_a_week_and_undelivered_ones_after_thirty_days(db, smtp):
    sent = row(a_link_email("kept@example.com"))
    smtp.refuse("gone@example.com")
    failed = row(a_link_email("gone@example.com"))
    assert outbox.purge(sent.finished_at + outbox.SENT_KEPT) == 0
    assert outbox.purge(sent.finished_at + outbox.SENT_KEPT + timedelta(seconds=1)) == 1
    assert OutboxMessage.get_or_none(OutboxMessage.id == failed.id) is not None
    assert outbox.purge(failed.finished_at + outbox.UNDELIVERED_KEPT + timedelta(seconds=1)) == 1


# --- the person's data ---------------------------------------------------------------------

def test_a_persons_emails_are_in_their_data_without_the_message(db, make_user, smtp):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    a_link_email("Alice@Example.com")  # found by the address as the account has it
    entry = REGISTRY[OutboxMessage]
    assert rows_of(entry, alice).count() == 1
    assert {"body", "claim"}.isdisjoint(columns_of(entry))
    [exported] = list(plain_rows(entry, alice))
    assert "secret-token" not in str(exported) and "preferences_link" in str(exported)


def test_erasure_deletes_the_persons_outbox_rows_but_its_certificate(app, db, make_user, smtp, mail_down):
    request = filed(make_user, "alice@example.com", kind="deletion")
    staff = make_user(Role.DPO)
    with mail_down():
        a_link_email("alice@example.com")
        a_link_email("bob@example.com")  # someone else's, waiting too
        dpo.approve(request.id, staff)  # its email waits as well
        assert jobs.run_pending() == 1  # the erasure
    left = {(m.recipient, m.kind) for m in OutboxMessage.select()}
    assert left == {("alice@example.com", "erasure_done"), ("bob@example.com", "preferences_link")}
    assert deliver_due(utcnow() + timedelta(minutes=1)) == 2
    assert [m["Subject"] for m in smtp.messages if m["To"] == "alice@example.com"] == ["Your data has been erased"]
    assert OutboxMessage.get(OutboxMessage.kind == "erasure_done").recipient == ""  # then forgotten


# --- what staff see ------------------------------------------------------------------------

def test_admin_jobs_lists_undelivered_mail_masked_and_never_the_message(app, client, login_as, smtp, mail_down):
    with mail_down():
        post_form(client, "/login/email", {"email": "patient@example.com"})
    smtp.refuse("gone@example.com")
    with app.app_context(), database.connection_context():
        a_link_email("gone@example.com")
    login_as(Role.ADMIN)
    page = client.get("/admin/jobs").text
    assert "Undelivered mail" in page and "deliver_outbox" in page
    assert "<code>sign_in_link</code>" in page and "p…@e….com" in page and "ConnectionRefusedError" in page
    assert "<code>preferences_link</code>" in page and "SMTPRecipientsRefused 550" in page and "Given up" in page
    assert "patient@example.com" not in page and "gone@example.com" not in page
    assert "/login/email/" not in page and "secret-token" not in page


@pytest.mark.parametrize("role", [Role.DPO, Role.SALES_OPS, Role.SUBJECT, Role.CUSTOMER_ADMIN])
def test_only_administrators_see_undelivered_mail(client, login_as, role):
    login_as(role)
    assert client.get("/admin/jobs").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/jobs")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
