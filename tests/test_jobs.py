"""The job runner: progress, failures, retries, claims and heartbeats. Schedulers killed
or stopped half-way through real jobs: tests/test_scheduler_restarts.py."""
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from app.db import database
from app.models import Job
from app.services.platform import jobs

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def counting_job():
    calls = []

    @jobs.handler("test.count")
    def count(job, progress):
        progress.total(3)
        for _ in range(3):
            calls.append(job.id)
            progress.advance()
    yield calls
    jobs.HANDLERS.pop("test.count")


def test_a_job_runs_and_reports_its_progress(db, counting_job):
    job = jobs.enqueue("test.count")
    assert jobs.run_pending() == 1
    job = Job.get_by_id(job.id)
    assert (job.status, job.progress_done, job.progress_total, job.attempts) == ("done", 3, 3, 1)
    assert job.percent == 100 and job.finished
    assert jobs.run_pending() == 0  # nothing left


def test_a_failing_job_records_why_and_the_next_one_still_runs(db, counting_job):
    @jobs.handler("test.broken")
    def broken(job, progress):
        raise RuntimeError("disk full")
    try:
        bad, good = jobs.enqueue("test.broken"), jobs.enqueue("test.count")
        assert jobs.run_pending() == 2
    finally:
        jobs.HANDLERS.pop("test.broken")
    assert Job.get_by_id(bad.id).error == "RuntimeError"  # the type only: people see their jobs
    assert Job.get_by_id(good.id).status == "done"


def test_an_unknown_kind_is_refused(db):
    with pytest.raises(ValueError, match="no handler"):
        jobs.enqueue("no.such.kind")


def test_a_failed_job_is_retried_with_backoff_then_given_up(db, monkeypatch):
    attempts = []

    @jobs.handler("test.flaky")
    def flaky(job, progress):
        attempts.append(job.attempts)
        if len(attempts) < 3:
            raise ConnectionError("mail server down")
    try:
        job = jobs.enqueue("test.flaky")
        assert jobs.run_pending() == 1 and Job.get_by_id(job.id).status == "failed"
        assert jobs.run_pending() == 0  # too early to try again
        monkeypatch.setattr(jobs, "RETRY_BACKOFF", timedelta(seconds=-1))
        assert jobs.run_pending() == 2  # fails once more, then succeeds
        assert Job.get_by_id(job.id).status == "done" and attempts == [1, 2, 3]
    finally:
        jobs.HANDLERS.pop("test.flaky")
    jobs.HANDLERS["test.broken_for_good"] = lambda job, progress: 1 / 0
    try:
        always = jobs.enqueue("test.broken_for_good")
        jobs.run_pending()
    finally:
        jobs.HANDLERS.pop("test.broken_for_good")
    assert Job.get_by_id(always.id).attempts == jobs.MAX_ATTEMPTS


def test_every_process_knows_every_job_handler(tmp_path):
    """The CLI and the web app queue jobs too: a fresh interpreter that only creates the
    app must know the handlers (a `flask requests approve` once failed without this)."""
    code = ("from app import create_app; create_app({'TESTING': True, 'INSTANCE_PATH': %r}); "
            "from app.services.platform.jobs import HANDLERS; print(sorted(HANDLERS))" % str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['backup', 'customer_export', 'erasure', 'erasure_notice', 'export', 'integration_disconnect', 'integration_sync', 'newsletter_issue', 'retention', 'revoke_grants', 'subscriber_import']"


def test_two_schedulers_never_run_the_same_job(app, database_url, counting_job):
    """PostgreSQL: a job whose advisory lock another scheduler holds is skipped. (On
    SQLite there is one scheduler by design; the guarded claim covers the rest.)"""
    from app.db import is_postgres, open_database
    with app.app_context(), database.connection_context():
        job = jobs.enqueue("test.count")
        if not is_postgres():
            other_claim = jobs.claim_next()
            assert other_claim.id == job.id and jobs.claim_next() is None  # a running job is not taken twice
            return
    other = open_database(database_url)  # the other scheduler's own connection
    other.connect()
    try:
        other.execute_sql("SELECT pg_advisory_lock(%s, %s)", (jobs._LOCK_SPACE, job.id))
        with app.app_context(), database.connection_context():
            assert jobs.run_pending() == 0  # held elsewhere: not ours to run
        other.execute_sql("SELECT pg_advisory_unlock(%s, %s)", (jobs._LOCK_SPACE, job.id))
        with app.app_context(), database.connection_context():
            assert jobs.run_pending() == 1
    finally:
        other.close_all()


def claimed_elsewhere(job: Job, heartbeat_at) -> None:
    """The row as another scheduler's claim leaves it."""
    Job.update(status="running", attempts=1, heartbeat_at=heartbeat_at).where(Job.id == job.id).execute()


def test_a_running_job_is_claimed_again_once_its_heartbeat_is_silent_and_not_before(app, database_url, counting_job):
    """On PostgreSQL the other scheduler's session also holds the job's lock, as one whose
    host was cut off would: once its heartbeat is silent, that session is ended, so it
    can write nothing more, and the job is taken over."""
    from app.db import is_postgres, open_database
    from app.models.base import utcnow
    other = open_database(database_url)
    try:
        with app.app_context(), database.connection_context():
            job = jobs.enqueue("test.count")
            claimed_elsewhere(job, utcnow())
            if is_postgres():
                other.connect()
                other.execute_sql("SELECT pg_advisory_lock(%s, %s)", (jobs._LOCK_SPACE, job.id))
            assert jobs.claim_next() is None  # beating: alive
            Job.update(heartbeat_at=utcnow() - jobs.STALE_AFTER - timedelta(seconds=1)).where(Job.id == job.id).execute()
            assert jobs.run_pending() == 1  # silent: taken over
            assert (Job.get_by_id(job.id).status, Job.get_by_id(job.id).attempts) == ("done", 2)
            if is_postgres():
                with pytest.raises(Exception):
                    other.execute_sql("SELECT 1")  # its session was ended
    finally:
        other.close_all()


def test_a_job_that_died_with_its_scheduler_five_times_is_given_up(db, counting_job):
    """A job that kills the scheduler each time (out of memory, say) must not do it forever."""
    from app.models.base import utcnow
    job = jobs.enqueue("test.count")
    Job.update(status="running", attempts=jobs.MAX_ATTEMPTS, heartbeat_at=utcnow() - timedelta(hours=1)).where(
        Job.id == job.id).execute()
    assert jobs.run_pending() == 0 and counting_job == []
    assert (Job.get_by_id(job.id).status, Job.get_by_id(job.id).error) == ("failed", "Interrupted")


def test_a_scheduler_whose_job_was_taken_over_stops_at_its_next_safe_point(app, monkeypatch):
    """Thought dead and taken over (it froze, say), it finds out at its next heartbeat and
    stops there, leaving the row to the scheduler that has it now."""
    import threading
    monkeypatch.setattr(jobs, "HEARTBEAT_SECONDS", 0.05)
    steps, running = [], threading.Event()

    @jobs.handler("test.endless")
    def endless(job, progress):
        running.set()
        while len(steps) < 10_000:
            steps.append(1)
            progress.advance()
            threading.Event().wait(0.01)

    def scheduler():
        with app.app_context(), database.connection_context():
            jobs.run(jobs.claim_next())
    try:
        with app.app_context(), database.connection_context():
            job = jobs.enqueue("test.endless")
        worker = threading.Thread(target=scheduler)
        worker.start()
        assert running.wait(30)
        with app.app_context(), database.connection_context():
            Job.update(attempts=Job.attempts + 1).where(Job.id == job.id).execute()  # the other scheduler's claim
        worker.join(30)
        assert not worker.is_alive() and len(steps) < 10_000
        with app.app_context(), database.connection_context():
            assert (Job.get_by_id(job.id).status, Job.get_by_id(job.id).attempts) == ("running", 2)  # left alone
    finally:
        jobs.HANDLERS.pop("test.endless")
