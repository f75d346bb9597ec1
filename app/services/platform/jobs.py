"""The job runner. A job is a row: the page that asked for it polls its progress, and
the scheduler process claims and runs it.

Claiming is safe with several schedulers: on PostgreSQL each running job holds a
session advisory lock, released by PostgreSQL itself when the process dies; on SQLite
(one scheduler) a running job whose heartbeat stopped is taken as dead. Either way a
killed job is claimed again and its handler runs again from the start, so handlers are
written to be re-run: they overwrite, never append twice."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Callable

from flask import current_app

from app.db import database, is_postgres
from app.models import Job, JobStatus, User
from app.models.base import utcnow

HANDLERS: dict[str, Callable[[Job, "Progress"], None]] = {}
STALE_AFTER = timedelta(seconds=30)  # SQLite: a running job silent this long was killed
MAX_ATTEMPTS = 5
RETRY_BACKOFF = timedelta(minutes=5)  # a failed job is tried again after attempts x this
HEARTBEAT_SECONDS = 2
_LOCK_SPACE = 0x4A4F4253  # 'JOBS': the first key of every job's advisory lock


def handler(kind: str):
    """Register the function that does the work of jobs of `kind`."""
    def register(fn):
        HANDLERS[kind] = fn
        return fn
    return register


class Progress:
    """What a handler reports; also the job's heartbeat. Writes are throttled."""

    def __init__(self, job: Job):
        self.job, self._last_write = job, None

    def total(self, n: int) -> None:
        self.job.progress_total, self.job.progress_done = n, 0
        self._write(force=True)

    def advance(self, n: int = 1) -> None:
        self.job.progress_done += n
        self._write()

    def _write(self, force: bool = False) -> None:
        # time.monotonic is cheap enough to ask on every row an export streams.
        if force or self._last_write is None or time.monotonic() - self._last_write >= HEARTBEAT_SECONDS:
            Job.update(progress_done=self.job.progress_done, progress_total=self.job.progress_total,
                       heartbeat_at=utcnow()).where(Job.id == self.job.id).execute()
            self._last_write = time.monotonic()


def enqueue(kind: str, user: User | None = None) -> Job:
    if kind not in HANDLERS:
        raise ValueError(f"no handler for job kind {kind!r}")
    return Job.create(kind=kind, user=user)


def run_pending(max_jobs: int | None = None) -> int:
    """Claim and run jobs until none is left (or `max_jobs` ran). Returns how many ran."""
    ran = 0
    while max_jobs is None or ran < max_jobs:
        job = claim_next()
        if job is None:
            break
        _run(job)
        ran += 1
    return ran


def _candidates():
    waiting = Job.status == JobStatus.QUEUED.value
    running = Job.status == JobStatus.RUNNING.value
    if not is_postgres():  # PostgreSQL asks the lock instead of the clock
        running &= (Job.heartbeat_at.is_null() | (Job.heartbeat_at < utcnow() - STALE_AFTER))
    return Job.select().where(waiting | running | _retryable()).order_by(Job.id)


def _retryable():
    """Failed jobs are tried again (a mail server down, a disk full…), waiting longer
    after each attempt, up to MAX_ATTEMPTS."""
    due = Job.finished_at < utcnow() - RETRY_BACKOFF  # the longer waits are checked in claim_next
    return (Job.status == JobStatus.FAILED.value) & (Job.attempts < MAX_ATTEMPTS) & due


def claim_next() -> Job | None:
    now = utcnow()
    for job in _candidates():
        if job.status == JobStatus.FAILED.value and job.finished_at > now - RETRY_BACKOFF * job.attempts:
            continue  # not yet: back off longer after each attempt
        if is_postgres() and not _try_lock(job.id):
            continue  # another scheduler is running it
        try:
            # Guarded by what we read, attempts included: of two schedulers taking the
            # same dead job, exactly one succeeds.
            claimed = (Job.update(status=JobStatus.RUNNING.value, attempts=Job.attempts + 1, started_at=utcnow(),
                                  heartbeat_at=utcnow(), error=None)
                       .where(Job.id == job.id, Job.status == job.status, Job.attempts == job.attempts).execute())
        except BaseException:
            if is_postgres():
                _unlock(job.id)
            raise
        if claimed:
            return Job.get_by_id(job.id)
        if is_postgres():
            _unlock(job.id)
    return None


def _run(job: Job) -> None:
    mine = (Job.id == job.id) & (Job.attempts == job.attempts)  # not if another scheduler took it over
    try:
        HANDLERS[job.kind](job, Progress(job))
    except Exception as e:  # the job records why; the scheduler carries on with the next
        current_app.logger.exception("job %s (%s) failed", job.id, job.kind)
        # The type only: messages can carry paths or data, and people see their jobs.
        Job.update(status=JobStatus.FAILED.value, error=type(e).__name__, finished_at=utcnow()).where(mine).execute()
    else:
        Job.update(status=JobStatus.DONE.value, finished_at=utcnow(), heartbeat_at=utcnow(),
                   progress_done=Job.progress_total).where(mine).execute()
    finally:
        if is_postgres():
            _unlock(job.id)


def _try_lock(job_id: int) -> bool:
    return database.execute_sql("SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_SPACE, job_id)).fetchone()[0]


def _unlock(job_id: int) -> None:
    database.execute_sql("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_SPACE, job_id))

