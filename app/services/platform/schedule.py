"""Bookkeeping of the scheduled jobs (jobs.SCHEDULE): the last outcome of each, for
/admin/jobs; at most one run per fire time however many scheduler replicas share the
database; the catch-up of a run missed while the scheduler was down; and "Run now"
requests from the admin page, which the scheduler picks up within seconds.

A fire time is the "slot" a run belongs to: the trigger's latest fire time for cron
jobs; for interval jobs, half an interval ago (a run that started since then, on
any replica, is this one). Claiming a slot is one transaction that
reads and writes the job's ScheduledRun row, serialised by an advisory lock on
PostgreSQL and by the single writer on SQLite: a replica that comes second sees
the slot taken and skips.

A run under way beats (app.services.platform.heartbeat). One left running by a
scheduler that died (its beat silent for STALE_AFTER, or on PostgreSQL its lock free),
or stopped half-way by SIGTERM ("stopped"), is owed: the next claim runs it again,
whatever its slot, instead of waiting for the next fire time. On SQLite one scheduler
runs at a time (`only_scheduler`), so the one starting knows every run left running
is an orphan."""
from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
from datetime import datetime, timedelta, timezone

import peewee
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from app.db import database, is_postgres
from app.models.base import utcnow
from app.models.retention import ScheduledRun
from app.services.platform import audit, heartbeat
from app.services.platform.errors import ServiceError
from app.services.platform.heartbeat import BEAT_EVERY

_LOCK_SPACE = 0x53434844  # 'SCHD'
STALE_AFTER = heartbeat.STALE_AFTER  # a run silent this long was left by a dead scheduler
RUNNING, STOPPED = "running", "stopped"  # outcomes besides "ok" and "failed"
_log = logging.getLogger(__name__)


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


class RunClaim:
    """One scheduled run, held by this process from `take` to `finish`. A thread with a
    connection of its own claims it, beats every BEAT_EVERY seconds and writes its
    outcome; on PostgreSQL that connection also holds the job's advisory lock, so the
    claim ends the moment the process dies. Only the holder writes the outcome: the row's
    started_at is its token."""

    def __init__(self, job_id: str, slot: datetime):
        self.job_id, self.slot = job_id, slot
        self.token: datetime | None = None
        self._taken, self._done = threading.Event(), threading.Event()
        self._outcome = (STOPPED, "")
        self._thread = threading.Thread(target=self._hold, name=f"scheduled-{job_id}", daemon=True)

    def take(self) -> bool:
        """Claim the slot, unless another run of the job has it or is under way."""
        self._thread.start()
        self._taken.wait()
        return self.token is not None

    def finish(self, outcome: str, detail: str = "", wait: float | None = None) -> None:
        """Record how the run ended (the first call counts) and let the claim go;
        `wait` bounds how long to wait for the record to be written."""
        if not self._done.is_set():
            self._outcome = (outcome, detail)
            self._done.set()
        self._thread.join(wait)

    def _hold(self) -> None:
        locked = False
        try:
            database.connect(reuse_if_open=True)
            locked = is_postgres() and _lock(self.job_id)
            if locked or not is_postgres():
                self.token = _claim_row(self.job_id, self.slot)
            self._taken.set()
            if self.token is None:
                return
            while not self._done.wait(BEAT_EVERY):
                if not _beat(self.job_id, self.token):
                    return  # taken over: this process was thought dead
            _finish_row(self.job_id, self.token, *self._outcome)
        except Exception:
            _log.exception("scheduled run %s: its claim failed", self.job_id)
        finally:
            self._taken.set()
            _let_go(self.job_id, locked)


def _let_go(job_id: str, locked: bool) -> None:
    """Back to the pool without the lock; a connection that cannot unlock is closed."""
    try:
        if locked:
            _unlock(job_id)
    except Exception:
        database.manual_close()
    database.close()


def claim(job_id: str, slot: datetime) -> RunClaim | None:
    """Take `slot` for this process (a RunClaim, to finish), unless another run of the
    job already has it or is under way."""
    held = RunClaim(job_id, slot)
    return held if held.take() else None


def _lock(job_id: str) -> bool:
    """PostgreSQL: the job's session lock, unless a live scheduler holds it; a holder
    whose run went silent is ended first (app.services.platform.heartbeat)."""
    if _try_lock(job_id):
        return True
    row = ScheduledRun.get_or_none(ScheduledRun.job_id == job_id)
    return (row is not None and row.outcome == RUNNING and _is_silent(row)
            and heartbeat.end_silent_holder(_LOCK_SPACE, _lock_key(job_id)) and _try_lock(job_id))


def _try_lock(job_id: str) -> bool:
    return database.execute_sql("SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_SPACE, _lock_key(job_id))).fetchone()[0]


def _unlock(job_id: str) -> None:
    database.execute_sql("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_SPACE, _lock_key(job_id)))


def _is_silent(row: ScheduledRun) -> bool:
    last = row.heartbeat_at or row.started_at
    return last is None or last < utcnow() - STALE_AFTER


def _claim_row(job_id: str, slot: datetime) -> datetime | None:
    """One transaction (serialised by the lock on PostgreSQL, by the single writer on
    SQLite): the claim's token, or None if the slot is taken. A run left running by a
    dead scheduler, or stopped, is owed: it runs again whatever the slot."""
    with database.atomic():
        row = ScheduledRun.get_or_none(ScheduledRun.job_id == job_id)
        if row and row.outcome == RUNNING and not is_postgres() and not _is_silent(row):
            return None  # under way (on PostgreSQL the lock said its holder is gone)
        owed = row is not None and row.outcome in (RUNNING, STOPPED)
        if row and not owed and row.started_at and row.started_at >= slot:
            return None
        now = utcnow()
        fields = dict(started_at=max(slot, now), heartbeat_at=now, finished_at=None, outcome=RUNNING, detail="")
        if row:
            ScheduledRun.update(**fields).where(ScheduledRun.id == row.id).execute()
        else:
            ScheduledRun.create(job_id=job_id, **fields)
    return fields["started_at"]


def _beat(job_id: str, token: datetime) -> bool:
    """False once the claim is no longer ours; a beat the database refused (busy for a
    moment) is skipped, the next one tries again."""
    try:
        return ScheduledRun.update(heartbeat_at=utcnow()).where(*_held(job_id, token)).execute() > 0
    except peewee.DatabaseError as e:
        _log.warning("scheduled run %s: heartbeat not written (%s)", job_id, e)
        return True


def _finish_row(job_id: str, token: datetime, outcome: str, detail: str) -> None:
    ScheduledRun.update(outcome=outcome, detail=detail[:500], finished_at=utcnow(), heartbeat_at=utcnow()).where(
        *_held(job_id, token)).execute()


def _held(job_id: str, token: datetime):
    return ScheduledRun.job_id == job_id, ScheduledRun.started_at == token, ScheduledRun.outcome == RUNNING


def unfinished() -> list[ScheduledRun]:
    """Runs stopped half-way, or left running by a scheduler that died: to run again."""
    rows = ScheduledRun.select().where(ScheduledRun.outcome.in_([RUNNING, STOPPED]))
    return [row for row in rows if row.outcome == STOPPED or _holder_gone(row)]


def _holder_gone(row: ScheduledRun) -> bool:
    if _is_silent(row):
        return True
    if not is_postgres() or not _try_lock(row.job_id):
        return False
    _unlock(row.job_id)  # free: its holder's session ended with its process
    return True


def stop_orphans() -> int:
    """Mark every run left running as stopped, to run again. Only for the one scheduler
    of an SQLite database, as it starts (`only_scheduler`)."""
    return ScheduledRun.update(outcome=STOPPED, detail="The scheduler died during this run.").where(
        ScheduledRun.outcome == RUNNING).execute()


def only_scheduler():
    """SQLite: the lock file beside the database that the one scheduler holds while it
    runs; returned open (keep it), or ServiceError if another scheduler holds it.
    PostgreSQL: None, as replicas are welcome there."""
    if is_postgres():
        return None
    lock = open(f"{database.obj.database}-scheduler.lock", "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ServiceError("Another scheduler is running on this SQLite database: one at a time "
                           "(several need PostgreSQL).", 409)
    return lock


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
