"""Bookkeeping of the scheduled jobs (jobs.SCHEDULE): the last outcome of each, for
/admin/jobs; at most one run per fire time however many scheduler replicas share the
database; the catch-up of a run missed while the scheduler was down; and "Run now"
requests from the admin page, which the scheduler picks up within seconds.

A fire time is the "slot" a run belongs to: the trigger's latest fire time for cron
jobs; for interval jobs, half an interval ago (a run that started since then, on
any replica, is this one). Claiming a slot is one transaction that
reads and writes the job's ScheduledRun row, serialised by an advisory lock on
PostgreSQL and by the single writer on SQLite: a replica that comes second sees
the slot taken and skips."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from app.db import database, is_postgres
from app.models.base import utcnow
from app.models.retention import ScheduledRun
from app.services.platform import audit
from app.services.platform.errors import ServiceError

_LOCK_SPACE = 0x53434844  # 'SCHD'
STILL_RUNNING = timedelta(hours=1)  # a run marked running for longer died without saying so


def _lock_key(job_id: str) -> int:
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:4], "big", signed=True)


def slot_of(trigger, now: datetime) -> datetime:
    """The fire time a run at `now` (naive UTC) belongs to."""
    if isinstance(trigger, IntervalTrigger):
        return now - trigger.interval / 2
    return last_fire_time(trigger, now)


def last_fire_time(trigger: CronTrigger, now: datetime) -> datetime:
    """The latest fire time at or before `now` (looking back up to 8 days)."""
    aware_now = now.replace(tzinfo=timezone.utc)
    fire = trigger.get_next_fire_time(None, aware_now - timedelta(days=8))
    latest = fire
    while fire is not None and fire <= aware_now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return latest.astimezone(timezone.utc).replace(tzinfo=None)


def next_fire_time(trigger, now: datetime, last_started: datetime | None) -> datetime | None:
    """When the job next runs: a cron job at its next fire time; an interval job one
    interval after its last run (None before it first ran: the scheduler's start
    decides)."""
    if isinstance(trigger, IntervalTrigger):
        return last_started + trigger.interval if last_started else None
    fire = trigger.get_next_fire_time(None, now.replace(tzinfo=timezone.utc))
    return fire.astimezone(timezone.utc).replace(tzinfo=None) if fire else None


def cadence(when: dict) -> str:
    """A SCHEDULE entry's timing in words."""
    if when.get("trigger") == "cron":
        hour, minute = str(when.get("hour", "*")), int(when.get("minute", 0))
        if "-" in hour:
            first, last = hour.split("-")
            return f"Hourly from {int(first):02}:{minute:02} to {int(last):02}:{minute:02} UTC"
        return f"Daily at {int(hour):02}:{minute:02} UTC"
    (unit, n), = [(k, v) for k, v in when.items() if k in ("seconds", "minutes", "hours", "days")]
    return f"Every {n} {unit[:-1] if n == 1 else unit}"


def claim(job_id: str, slot: datetime) -> bool:
    """Take `slot` for this process, unless another run of the job already has it."""
    with database.atomic():
        if is_postgres():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_SPACE, _lock_key(job_id)))
        row = ScheduledRun.get_or_none(ScheduledRun.job_id == job_id)
        if row and row.started_at and row.started_at >= slot:
            return False
        if row and row.outcome == "running" and row.started_at and row.started_at > utcnow() - STILL_RUNNING:
            return False  # running now (a "Run now" must not start it a second time)
        fields = dict(started_at=max(slot, utcnow()), finished_at=None, outcome="running", detail="")
        if row:
            ScheduledRun.update(**fields).where(ScheduledRun.id == row.id).execute()
        else:
            ScheduledRun.create(job_id=job_id, **fields)
    return True


def finish(job_id: str, outcome: str, detail: str) -> None:
    ScheduledRun.update(outcome=outcome, detail=detail[:500], finished_at=utcnow()).where(
        ScheduledRun.job_id == job_id).execute()


def missed(job_id: str, trigger, now: datetime) -> datetime | None:
    """For a cron job: the fire time it missed while no scheduler ran, if any."""
    if not isinstance(trigger, CronTrigger):
        return None
    slot = last_fire_time(trigger, now)
    row = ScheduledRun.get_or_none(ScheduledRun.job_id == job_id)
    return slot if row is None or row.started_at is None or row.started_at < slot else None


def request_run(job_id: str, known: list[str], actor) -> None:
    if job_id not in known:
        raise ServiceError("There is no such scheduled job.", 404)
    with database.atomic():
        updated = ScheduledRun.update(requested_at=utcnow()).where(ScheduledRun.job_id == job_id).execute()
        if not updated:
            ScheduledRun.create(job_id=job_id, requested_at=utcnow())
        audit.record(audit.Event("scheduler.run_requested", actor=actor, details={"job": job_id}))


def requested() -> list[ScheduledRun]:
    """Runs asked for from /admin/jobs and not started since."""
    return list(ScheduledRun.select().where(
        ScheduledRun.requested_at.is_null(False),
        ScheduledRun.started_at.is_null() | (ScheduledRun.started_at < ScheduledRun.requested_at)))


def last_outcomes() -> dict[str, ScheduledRun]:
    return {row.job_id: row for row in ScheduledRun.select()}
