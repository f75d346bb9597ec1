"""The DPO's daily digest of overdue and soon-due requests, as the DPO reads it in
their mailbox (through the real SMTP server)."""
import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
from apscheduler.triggers.cron import CronTrigger

from app.db import database
from app.models import AuditEvent, OutboxMessage, PrivacyRequest, Role
from app.models.base import utcnow
from app.services.platform import outbox
from app.services.platform.audit import verify_chain
from app.services.rights.digest import ACTION, send_dpo_digests
from jobs import build_scheduler, send_dpo_digest
from tests.support.smtp import text_of as raw_text_of


@pytest.fixture
def now():
    """Noon today: "due in N days" is N calendar days away whatever the hour."""
    return utcnow().replace(hour=12, minute=0, second=0)


@pytest.fixture
def filed(make_user, now):
    """An open request from a fresh person, due `due_in_days` from now."""
    def make(due_in_days, status="pending_review", kind="objection", jurisdiction="GDPR", assignee=None):
        person = make_user(Role.SUBJECT)
        with database.connection_context():
            return PrivacyRequest.create(user=person, kind=kind, status=status, jurisdiction=jurisdiction,
                                         received_at=now - timedelta(days=30), assignee=assignee,
                                         due_at=now + timedelta(days=due_in_days))
    return make


@pytest.fixture
def dpo(make_user):
    return make_user(Role.DPO, email="dana@example.com", name="Dana Officer")


def linked_ids(text):
    return [int(i) for i in re.findall(r"http://localhost/dpo/requests/(\d+)", text)]


def entry(text, request_id):
    """The lines the plain-text digest gives one request."""
    return re.search(rf"^#{request_id} .*?/dpo/requests/{request_id}$", text, re.M | re.S).group(0)


def text_of(msg):
    return raw_text_of(msg).replace("\r\n", "\n")


def html_of(msg):
    return msg.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")


def test_overdue_requests_come_first_then_this_weeks_in_words(db, dpo, filed, smtp, now):
    late = filed(-3)
    just_late = filed(-1, kind="deletion", status="cooling_off")
    soon = filed(1, kind="restriction", jurisdiction="CCPA")
    this_week = filed(6, status="approved")
    filed(20)                          # not due this week
    filed(2, status="completed")       # closed
    filed(-2, status="cancelled")
    filed(-4, status="denied")

    assert send_dpo_digests(now) == 1
    msg = smtp.wait_for("dana@example.com")
    text = text_of(msg)
    assert msg["Subject"] == "Privacy requests: 2 overdue, 2 due this week"
    assert linked_ids(text) == [late.id, just_late.id, soon.id, this_week.id]  # overdue first, soonest first
    assert text.index("OVERDUE (2)") < text.index("DUE WITHIN 7 DAYS (2)") < text.index(f"#{soon.id} ")
    assert "Overdue by 3 days" in entry(text, late.id) and "Overdue by 1 day\n" in entry(text, just_late.id)
    assert "1 day left" in entry(text, soon.id) and "6 days left" in entry(text, this_week.id)
    assert f"#{soon.id} Restrict the use of my data (CCPA)" in text
    assert f"Due {soon.due_at:%d %b %Y}" in entry(text, soon.id)
    assert "<span" not in text and "more" not in text
    html = html_of(msg)
    assert f'href="http://localhost/dpo/requests/{late.id}"' in html and "Overdue by 3 days" in html


def test_the_week_is_counted_in_calendar_days_like_the_words(db, dpo, filed, smtp, now):
    earlier_today = filed(-0.25)  # 06:00 today: due today, not yet overdue
    last_day = filed(7.4)
    filed(8)
    assert send_dpo_digests(now) == 1
    msg = smtp.wait_for(dpo.email)
    text = text_of(msg)
    assert msg["Subject"] == "Privacy requests: 0 overdue, 2 due this week" and "OVERDUE" not in text
    assert "0 days left" in entry(text, earlier_today.id) and "7 days left" in entry(text, last_day.id)
    assert linked_ids(text) == [earlier_today.id, last_day.id]


def test_each_dpo_sees_which_requests_are_assigned_to_them(db, dpo, filed, make_user, smtp, now):
    lee = make_user(Role.DPO, email="lee@example.com", name="Lee Officer")
    danas, lees, nobodys = filed(-2, assignee=dpo), filed(3, assignee=lee), filed(4)

    assert send_dpo_digests(now) == 2
    for reader, other, mine, theirs in ((dpo, lee, danas, lees), (lee, dpo, lees, danas)):
        msg = smtp.wait_for(reader.email)
        text = text_of(msg)
        assert "Assigned to you" in entry(text, mine.id)
        assert f"Assigned to {other.name}" in entry(text, theirs.id)
        assert "Not assigned" in entry(text, nobodys.id)
        assert html_of(msg).count("<strong>assigned to you</strong>") == 1


def test_a_second_run_the_same_day_sends_nothing(db, dpo, filed, smtp, now):
    filed(-1)
    assert send_dpo_digests(now) == 1
    smtp.clear()
    assert send_dpo_digests(now) == 0  # a restarted scheduler, or the CLI after the job
    assert smtp.messages == []
    sent = list(AuditEvent.select().where(AuditEvent.action == ACTION))
    assert [e.subject_ref for e in sent] == [dpo.id] and verify_chain()[0]
    assert send_dpo_digests(now + timedelta(days=1)) == 1  # tomorrow is another day
    assert smtp.wait_for(dpo.email)


def test_only_active_dpos_get_a_digest(db, dpo, filed, make_user, smtp, now):
    for role in (Role.ADMIN, Role.SALES_OPS, Role.SUBJECT, Role.CUSTOMER_ADMIN):
        make_user(role)
    make_user(Role.DPO, email="left@example.com", active=False)
    filed(-1)
    assert send_dpo_digests(now) == 1
    assert [m["To"] for m in smtp.messages] == [dpo.email]


def test_nothing_due_this_week_sends_nothing(db, dpo, filed, smtp, now):
    filed(20)
    filed(-3, status="completed")
    filed(2, status="cancelled")
    assert send_dpo_digests(now) == 0
    assert smtp.messages == []
    assert not AuditEvent.select().where(AuditEvent.action == ACTION).exists()


def test_a_long_backlog_is_cut_short_with_a_link_to_the_queue(db, dpo, make_user, smtp, now):
    person = make_user(Role.SUBJECT)
    PrivacyRequest.insert_many(
        [{"user": person.id, "kind": "objection", "status": "pending_review", "jurisdiction": "GDPR",
          "received_at": now - timedelta(days=40), "due_at": now - timedelta(days=1 + i % 9)} for i in range(130)]
        + [{"user": person.id, "kind": "objection", "status": "pending_review", "jurisdiction": "GDPR",
            "received_at": now, "due_at": now + timedelta(days=3)}] * 3).execute()

    assert send_dpo_digests(now) == 1
    msg = smtp.wait_for(dpo.email)
    text = text_of(msg)
    assert msg["Subject"] == "Privacy requests: 130 overdue, 3 due this week"
    overdue, week = text.split("DUE WITHIN 7 DAYS")
    assert len(linked_ids(overdue)) == 100 and len(linked_ids(week)) == 3
    assert "...and 30 more: http://localhost/dpo/requests?due=overdue" in overdue
    assert "Overdue by 9 days" in entry(text, linked_ids(overdue)[0])  # the most overdue first
    assert "more" not in week
    assert 'href="http://localhost/dpo/requests?due=overdue">…and 30 more' in html_of(msg)


def test_a_refused_mail_does_not_stop_the_others_nor_is_it_sent_again(db, filed, make_user, smtp, now):
    bouncing = make_user(Role.DPO, email="bouncing@example.com")
    dpo = make_user(Role.DPO, email="dana@example.com")
    filed(-1)
    smtp.refuse(bouncing.email)
    assert send_dpo_digests(now) == 2
    assert [m["To"] for m in smtp.messages] == [dpo.email]
    assert sorted(e.subject_ref for e in AuditEvent.select().where(AuditEvent.action == ACTION)) == \
        sorted([dpo.id, bouncing.id])
    assert OutboxMessage.get(OutboxMessage.recipient == bouncing.email).status == "failed"  # on /admin/jobs
    assert send_dpo_digests(now) == 0  # the next run that day mails nobody twice


def test_a_mail_server_down_delays_the_digests_until_it_is_back(db, filed, make_user, smtp, now, mail_down):
    dpos = sorted(make_user(Role.DPO, email=f"{name}@example.com").email for name in ("dana", "dev"))
    filed(-1)
    with mail_down():
        assert send_dpo_digests(now) == 2
        assert send_dpo_digests(now) == 0  # queued is owed no more: the outbox has them
    assert smtp.messages == []
    assert outbox.deliver_due(utcnow() + outbox.RETRY_FIRST) == 2
    assert sorted(m["To"] for m in smtp.messages) == dpos


def test_the_scheduler_sends_the_digest_from_0700_utc(app):
    job = build_scheduler(app).get_job("send_dpo_digest")
    assert isinstance(job.trigger, CronTrigger) and str(job.trigger.timezone) == "UTC"
    assert job.args[:2] == (app, send_dpo_digest) and job.misfire_grace_time == 3600
    day = datetime(2026, 3, 10, tzinfo=timezone.utc)

    def next_run(hour, minute):
        return job.trigger.get_next_fire_time(None, day.replace(hour=hour, minute=minute))
    assert next_run(0, 0) == next_run(6, 59) == day.replace(hour=7)
    assert next_run(8, 10) == day.replace(hour=9)  # a scheduler started late still sends today's
    assert next_run(23, 30) == day.replace(hour=7) + timedelta(days=1)


def test_the_cli_sends_todays_digest_and_the_job_then_sends_nothing(app, runner, dpo, filed, smtp):
    filed(-2)
    result = runner.invoke(args=["dpo", "digest"])
    assert result.exit_code == 0 and "DPO digests sent: 1." in result.output
    assert smtp.wait_for(dpo.email)["Subject"] == "Privacy requests: 1 overdue, 0 due this week"
    assert send_dpo_digest.run(app) == 0
    assert "DPO digests sent: 0." in runner.invoke(args=["dpo", "digest"]).output
    assert len(smtp.messages) == 1


# SQLite deployments run one scheduler; PostgreSQL ones may run replicas.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_runs_at_once_send_one_digest(app, dpo, filed, smtp):
    filed(-1)
    start, sent = threading.Barrier(2), []

    def run():
        start.wait()
        sent.append(send_dpo_digest.run(app))
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sent) == [0, 1] and len(smtp.messages) == 1
