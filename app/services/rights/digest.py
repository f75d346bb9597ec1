"""The DPO's daily digest: one email per active DPO listing the open requests that are
overdue or due within 7 days, so that no legal deadline passes unnoticed.

At most one digest per DPO per UTC day: each one is written to the outbox with an audit
event, in one transaction, and a DPO who already has one today is skipped, so the job
can run again (a restarted scheduler, the CLI) without mailing anyone twice. A mail
server that is down delays the digest (the outbox retries it), it does not send it twice."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import peewee

from app.db import database, is_postgres
from app.models import AuditEvent, PrivacyRequest, Role, User
from app.models.base import utcnow
from app.services.platform import audit
from app.services.platform.links import external_url
from app.services.platform.outbox import queue_email
from app.services.rights.deadlines import days_left
from app.services.rights.dpo import OPEN_VALUES, due_window

ACTION = "dpo.digest_sent"
LISTED = 100  # per section: a backlog of 100,000 requests still makes a readable email
_LOCK_ID = 0x44494753  # 'DIGS': one digest run at a time across PostgreSQL sessions


@dataclass(frozen=True)
class Section:
    """One part of the digest: the first LISTED requests, each with its link, and
    how many there are in all (the rest are behind `queue_link`)."""
    total: int
    rows: list = field(default_factory=list)  # (PrivacyRequest, absolute link)
    queue_link: str = ""

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


def send_dpo_digests(now: datetime | None = None) -> int:
    """Email every active DPO who has had no digest today; return how many were queued.
    Nothing is sent when no open request is overdue or due within 7 days."""
    now = now or utcnow()
    with _one_run_at_a_time():
        recipients = [dpo for dpo in _active_dpos() if not _sent_today(dpo, now)]
        if not recipients:
            return 0  # checked first: later runs of the day cost no request query
        overdue = _section(due_window("overdue", now), "overdue")  # the queue's own filters
        week = _section(due_window("week", now), "week")
        if not overdue.total and not week.total:
            return 0
        return sum(_send(dpo, overdue, week, now) for dpo in recipients)


def digest_subject(overdue: Section, week: Section) -> str:
    return f"Privacy requests: {overdue.total} overdue, {week.total} due this week"


@contextmanager
def _one_run_at_a_time():
    """Two runs at once (scheduler replicas, or `flask dpo digest` during the scheduled
    run) would both see "not sent today": the second waits for the first, then finds
    the digests recorded. SQLite deployments have one scheduler."""
    if not is_postgres():
        yield
        return
    database.execute_sql("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        yield
    finally:
        database.execute_sql("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


def _active_dpos() -> list[User]:
    return list(User.select().where(User.role == Role.DPO.value, User.active).order_by(User.id))


def _start_of_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)  # times are naive UTC


def _sent_today(dpo: User, now: datetime) -> bool:
    return (AuditEvent.select().where(AuditEvent.action == ACTION, AuditEvent.subject_ref == dpo.id,
                                      AuditEvent.occurred_at >= _start_of_day(now)).exists())


def _section(due: peewee.Expression, queue_filter: str) -> Section:
    """Open requests due in a window, soonest first: a count, and the first LISTED."""
    where = PrivacyRequest.status.in_(OPEN_VALUES) & due
    total = PrivacyRequest.select().where(where).count()
    if not total:
        return Section(0)
    assignee = User.alias()
    listed = (PrivacyRequest.select(PrivacyRequest, assignee)
              .join(assignee, peewee.JOIN.LEFT_OUTER, on=(PrivacyRequest.assignee == assignee.id))
              .where(where).order_by(PrivacyRequest.due_at, PrivacyRequest.id).limit(LISTED))
    rows = [(r, external_url("dpo.request_detail", request_id=r.id)) for r in listed]
    return Section(total, rows, external_url("dpo.request_queue", due=queue_filter))


def _send(dpo: User, overdue: Section, week: Section, now: datetime) -> bool:
    """The digest to the outbox and its audit event, together: recorded once, delivered
    by the outbox (retried while the mail server is down). It expires after a day, when
    the next one is due."""
    with database.atomic():
        queue_email(dpo.email, digest_subject(overdue, week), "dpo_digest", expires_at=now + timedelta(days=1),
                    dpo=dpo, overdue=overdue, week=week, now=now, days_left=days_left)
        audit.record(audit.Event(ACTION, subject=dpo, details={
            "date": now.date().isoformat(), "overdue": overdue.total, "due_this_week": week.total}))
    return True
