"""The job runner. A job is a row: the page that asked for it polls its progress, and
the scheduler process claims and runs it.

Exactly one scheduler runs a job. A claim is a guarded update of the row (status and
attempts as read), kept alive by a heartbeat thread (app.services.platform.heartbeat)
while the handler runs. A running job whose beat stopped for STALE_AFTER was left by a
scheduler that died and is claimed again, on both backends; on PostgreSQL a running job
also holds a session advisory lock, which the server drops at once when its process
dies. A claim another scheduler took over is noticed at the old holder's next heartbeat,
and it stops at its next safe point (`ClaimLost`) instead of working alongside.

A killed job's handler runs again from the start, so handlers are written to be re-run:
they overwrite, never append twice. When the scheduler stops (SIGTERM), a handler stops
at its next safe point, a call to `Progress` (`Interrupted`), and its job is queued
again without counting the attempt.

`Workers` are the scheduler's threads that claim and run jobs: a long job holds one of
them, never the others, so queued jobs of other kinds still start meanwhile."""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Callable

from flask import Flask, current_app

from app.db import database, is_postgres
from app.models import Job, JobStatus, User
from app.models.base import utcnow
from app.services.platform import heartbeat
from app.services.platform.heartbeat import Heartbeat

HANDLERS: dict[str, Callable[[Job, "Progress"], None]] = {}
STALE_AFTER = heartbeat.STALE_AFTER  # a running job silent this long was left by a dead scheduler
MAX_ATTEMPTS = 5
RETRY_BACKOFF = timedelta(minutes=5)  # a failed job is tried again after attempts x this
HEARTBEAT_SECONDS = 2  # a running job's beat, with its progress for the page that polls it
WORKERS = 3  # threads of `flask jobs run` that run jobs
POLL_SECONDS = 2  # an idle worker looks for queued jobs this often
_LOCK_SPACE = 0x4A4F4253  # 'JOBS': the first key of every job's advisory lock
# Test seam, for tests/test_scheduler_restarts.py only (never set it in production): JSON
# {"file": path, "after": {kind: steps}} makes a job of each kind named wait at its first
# safe point with at least that many steps done, for as long as the file exists, so that a
# test can kill or stop the scheduler at a known point half-way through every kind of job.
PAUSE_ENV = "PCC_TEST_PAUSE_JOBS"
_log = logging.getLogger(__name__)


class Stopped(BaseException):
    """Raised at a handler's safe point. Not an Exception: handlers let it through."""


class Interrupted(Stopped):
    """The scheduler is stopping: the job goes back to the queue."""


class ClaimLost(Stopped):
    """Another scheduler took the job over (this one was taken for dead): stop, write nothing."""


def handler(kind: str):
    """Register the function that does the work of jobs of `kind`."""
    def register(fn):
        HANDLERS[kind] = fn
        return fn
    return register


class Progress:
    """What a handler reports, kept in memory and written with the job's heartbeat, by a
    thread on a connection of its own: a write from the handler's own connection while
    it reads (an export streams rows from an open cursor) would hold SQLite's write lock
    until the cursor closes. Each call is a safe point, where the handler may be stopped
    (`Interrupted`, `ClaimLost`), its work so far kept or rolled back whole."""

    def __init__(self, job: Job, stopping: threading.Event | None = None):
        self.job, self._mine = job, _mine(job)
        self._stopping = stopping or threading.Event()
        self._heart = Heartbeat(self._beat, f"job-{job.id}-heartbeat", every=HEARTBEAT_SECONDS)
        self._pause = _pause_of(job.kind)

    def __enter__(self) -> "Progress":
        self._heart.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._heart.__exit__(*exc)

    def total(self, n: int) -> None:
        self.job.progress_total, self.job.progress_done = n, 0
        self._heart.soon()
        self.checkpoint()

    def advance(self, n: int = 1) -> None:
        self.job.progress_done += n
        self.checkpoint()

    def checkpoint(self) -> None:
        """A safe point for handlers with nothing to count."""
        if self._pause and self.job.progress_done >= self._pause[0]:
            self._hold(self._pause[1])
        if self._heart.lost.is_set():
            raise ClaimLost()
        if self._stopping.is_set():
            raise Interrupted()

    def _beat(self) -> bool:
        return Job.update(progress_done=self.job.progress_done, progress_total=self.job.progress_total,
                          heartbeat_at=utcnow()).where(self._mine).execute() > 0

    def _hold(self, file: Path) -> None:
        self._pause = None  # once per run
        self._heart.soon()  # the test sees how far it got
        while file.exists() and not self._stopping.is_set():
            time.sleep(0.05)


def _pause_of(kind: str) -> tuple[int, Path] | None:
    seam = json.loads(os.environ.get(PAUSE_ENV) or "{}")
    steps = seam.get("after", {}).get(kind)
    return None if steps is None else (steps, Path(seam["file"]))


def enqueue(kind: str, user: User | None = None) -> Job:
    if kind not in HANDLERS:
        raise ValueError(f"no handler for job kind {kind!r}")
    return Job.create(kind=kind, user=user)


def run_pending(max_jobs: int | None = None) -> int:
    """Claim and run jobs here, one after the other, until none is left (or `max_jobs`
    ran). Returns how many ran. (`flask jobs run` uses Workers instead.)"""
    ran = 0
    while max_jobs is None or ran < max_jobs:
        job = claim_next()
        if job is None:
            break
        run(job)
        ran += 1
    return ran


def _candidates(skip_kinds=()):
    waiting = Job.status == JobStatus.QUEUED.value
    running = Job.status == JobStatus.RUNNING.value
    if not is_postgres():  # PostgreSQL also asks the lock, which knows a killed process at once
        running &= _silent()
    query = Job.select().where(waiting | running | _retryable()).order_by(Job.id)
    return query.where(Job.kind.not_in(list(skip_kinds))) if skip_kinds else query


def _silent():
    return Job.heartbeat_at.is_null() | (Job.heartbeat_at < utcnow() - STALE_AFTER)


def _retryable():
    """Failed jobs are tried again (a mail server down, a disk full…), waiting longer
    after each attempt, up to MAX_ATTEMPTS."""
    due = Job.finished_at < utcnow() - RETRY_BACKOFF  # the longer waits are checked in claim_next
    return (Job.status == JobStatus.FAILED.value) & (Job.attempts < MAX_ATTEMPTS) & due


def _is_silent(job: Job) -> bool:
    return job.heartbeat_at is None or job.heartbeat_at < utcnow() - STALE_AFTER


def claim_next(skip_kinds=()) -> Job | None:
    """Claim the oldest job ready to run (none of `skip_kinds`) for this thread's connection."""
    now = utcnow()
    # Read in full first, and write in a transaction of its own: on SQLite a write made
    # while this connection's read is still open, after another writer committed, fails
    # at once ("database is locked"); a transaction takes the write lock up front.
    for job in list(_candidates(skip_kinds)):
        if job.status == JobStatus.FAILED.value and job.finished_at > now - RETRY_BACKOFF * job.attempts:
            continue  # not yet: back off longer after each attempt
        if is_postgres() and not _lock(job):
            continue  # another scheduler is running it
        try:
            with database.atomic():
                claimed = _take(job)
        except BaseException:
            if is_postgres():
                _unlock(job.id)
            raise
        if claimed:
            return Job.get_by_id(job.id)
        if is_postgres():
            _unlock(job.id)
    return None


def _lock(job: Job) -> bool:
    """PostgreSQL: this job's advisory lock, unless a live scheduler holds it. A holder
    whose claim went silent (its host cut off, its session left open) is ended first."""
    if _try_lock(job.id):
        return True
    silent = job.status == JobStatus.RUNNING.value and _is_silent(job)
    return silent and heartbeat.end_silent_holder(_LOCK_SPACE, job.id) and _try_lock(job.id)


def _take(job: Job) -> bool:
    """The guarded update: of two schedulers taking the same job, exactly one changes the
    row. A running job killed MAX_ATTEMPTS times is given up, not started again."""
    same = (Job.id == job.id) & (Job.status == job.status) & (Job.attempts == job.attempts)
    if job.status == JobStatus.RUNNING.value and job.attempts >= MAX_ATTEMPTS:
        Job.update(status=JobStatus.FAILED.value, error="Interrupted", finished_at=utcnow()).where(same).execute()
        return False
    return bool(Job.update(status=JobStatus.RUNNING.value, attempts=Job.attempts + 1, started_at=utcnow(),
                           heartbeat_at=utcnow(), error=None).where(same).execute())


def _mine(job: Job):
    """The row while it is still this claim: not once another scheduler took it over."""
    return (Job.id == job.id) & (Job.attempts == job.attempts) & (Job.status == JobStatus.RUNNING.value)


def run(job: Job, stopping: threading.Event | None = None) -> None:
    """Run a claimed job's handler, beating meanwhile, and record how it ended. Once
    `stopping` is set, the handler stops at its next safe point and the job is queued
    again."""
    mine = _mine(job)
    try:
        with Progress(job, stopping) as progress:
            HANDLERS[job.kind](job, progress)
    except Interrupted:
        hand_back(job)
    except ClaimLost:
        _log.warning("job %s (%s) was taken over by another scheduler; this one stopped", job.id, job.kind)
    except Exception as e:  # the job records why; the scheduler carries on with the next
        current_app.logger.exception("job %s (%s) failed", job.id, job.kind)
        # The type only: messages can carry paths or data, and people see their jobs.
        Job.update(status=JobStatus.FAILED.value, error=type(e).__name__, finished_at=utcnow()).where(mine).execute()
    else:
        Job.update(status=JobStatus.DONE.value, finished_at=utcnow(), heartbeat_at=utcnow(),
                   progress_total=job.progress_total, progress_done=job.progress_total).where(mine).execute()
    finally:
        if is_postgres():
            _unlock(job.id)


def hand_back(job: Job) -> bool:
    """Queue a claimed job again, its attempt not counted: the scheduler stopped."""
    return bool(Job.update(status=JobStatus.QUEUED.value, attempts=Job.attempts - 1, heartbeat_at=None)
                .where(_mine(job)).execute())


def release_orphans() -> int:
    """Make every running job claimable at once. Only for the one scheduler of an SQLite
    database, as it starts (app.services.platform.schedule.only_scheduler): any job
    still running was left by one that died, and need not wait out STALE_AFTER."""
    return Job.update(heartbeat_at=None).where(Job.status == JobStatus.RUNNING.value).execute()


def _try_lock(job_id: int) -> bool:
    return database.execute_sql("SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_SPACE, job_id)).fetchone()[0]


def _unlock(job_id: int) -> None:
    database.execute_sql("SELECT pg_advisory_unlock(%s, %s)", (_LOCK_SPACE, job_id))


class Workers:
    """The threads of `flask jobs run` that claim and run queued jobs, each on a
    connection of its own. A long job holds one thread; no kind may hold them all, so
    jobs of other kinds still start meanwhile."""

    def __init__(self, app: Flask, stopping: threading.Event, size: int = WORKERS):
        self.app, self.stopping, self.size = app, stopping, size
        self._lock, self._wake = threading.Lock(), threading.Condition()
        self._running: dict[int, Job] = {}  # this process's jobs under way
        self._threads = [threading.Thread(target=self._loop, name=f"job-worker-{i + 1}", daemon=True)
                         for i in range(size)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wake(self) -> int:
        """Look for queued jobs now (the scheduler's two-second tick). Returns how many run."""
        with self._wake:
            self._wake.notify_all()
        return len(self.running())

    def running(self) -> list[Job]:
        with self._lock:
            return list(self._running.values())

    def stop(self, deadline: float) -> list[Job]:
        """Stop claiming; let each handler reach its next safe point, where its job goes
        back to the queue. Returns the jobs still running at `deadline` (monotonic)."""
        self.stopping.set()
        self.wake()
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.running()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                ran = self._run_one()
            except Exception:  # the database away for a moment: try again at the next poll
                _log.exception("job worker: could not claim a job")
                ran = False
            if not ran:
                with self._wake:
                    self._wake.wait(POLL_SECONDS)

    def _run_one(self) -> bool:
        with self.app.app_context(), database.connection_context():
            with self._lock:  # claims one at a time, so the count per kind holds
                if self.stopping.is_set():
                    return False
                job = claim_next(skip_kinds=self._full_kinds())
                if job is None:
                    return False
                self._running[job.id] = job
            try:
                run(job, self.stopping)
            finally:
                with self._lock:
                    del self._running[job.id]
        return True

    def _full_kinds(self) -> set[str]:
        most = max(1, self.size - 1)  # one thread always left for the other kinds
        kinds = [job.kind for job in self._running.values()]
        return {kind for kind in kinds if kinds.count(kind) >= most}
