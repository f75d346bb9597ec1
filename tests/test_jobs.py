"""The job runner: progress, failures, and a scheduler killed half-way."""
import os
import signal
import subprocess
import sys
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from app.db import database
from app.models import DataExport, Job, Lead, Role
from app.services.platform import jobs
from app.services.rights import exports

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


WORKER = """
import sys, time
from app import create_app
from app.db import database
import app.services.rights.exports
from app.services.platform import jobs
app = create_app()
with app.app_context(), database.connection_context():
    jobs.run_pending()
"""


def kill_worker_once(app, started, settle: float = 0.0) -> None:
    """Run a scheduler in another process and SIGKILL it once `started()` says its job
    is under way (after `settle` seconds more)."""
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "INSTANCE_PATH": app.instance_path,
           "SECRET_KEY": app.config["SECRET_KEY"], "MAIL_URL": app.config["MAIL_URL"], "BASE_URL": "http://localhost"}
    worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with database.connection_context():
                if started():
                    break
            assert worker.poll() is None, "the worker finished before it could be killed"
            time.sleep(0.01)
        else:
            raise AssertionError("the job never started")
        time.sleep(settle)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait()


def test_an_export_killed_half_way_is_resumed_and_finishes_once(app, make_user, monkeypatch):
    person = make_user(Role.SUBJECT)
    with app.app_context(), database.connection_context():
        for start in range(0, 150_000, 5000):  # enough rows that the export takes a while
            Lead.insert_many([{"owner": person.id, "name": f"Lead {i}", "email": f"l{i}@example.com"}
                              for i in range(start, start + 5000)]).execute()
        export = exports.request_export(person)
    kill_worker_once(app, lambda: Job.get_by_id(export.job_id).status == "running", settle=0.15)
    with app.app_context(), database.connection_context():
        assert Job.get_by_id(export.job_id).status == "running"  # left behind by the dead worker
        monkeypatch.setattr(jobs, "STALE_AFTER", timedelta(seconds=-1))  # SQLite: its heartbeat counts as stopped
        assert jobs.run_pending() == 1
        job = Job.get_by_id(export.job_id)
        export = DataExport.get_by_id(export.id)
        assert (job.status, job.attempts, job.error) == ("done", 2, None)
    folder = Path(app.instance_path) / "exports"
    assert sorted(p.name for p in folder.iterdir()) == [export.file_name]  # one archive, no leftovers
    with zipfile.ZipFile(folder / export.file_name) as archive:
        with archive.open("lead.csv") as leads:
            assert sum(1 for _ in leads) == 150_001  # header + every lead, once


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


def test_an_erasure_killed_half_way_resumes_and_finishes_once(app, make_user, monkeypatch, smtp):
    import json as _json

    from app.models import PrivacyRequest
    from app.models.base import utcnow
    from app.services.rights.requests import approve_request
    person = make_user(Role.SUBJECT, email="doomed@example.com")
    with app.app_context(), database.connection_context():
        for start in range(0, 150_000, 5000):
            Lead.insert_many([{"owner": person.id, "name": f"Lead {i}", "email": f"l{i}@example.com"}
                              for i in range(start, start + 5000)]).execute()
        request = PrivacyRequest.create(user=person, kind="deletion", status="pending_review",
                                        received_at=utcnow(), due_at=utcnow())
        approve_request(request.id)
    kill_worker_once(app, lambda: PrivacyRequest.get_by_id(request.id).status == "in_progress")
    with app.app_context(), database.connection_context():
        assert PrivacyRequest.get_by_id(request.id).status == "in_progress"  # left half-done by the dead worker
        monkeypatch.setattr(jobs, "STALE_AFTER", timedelta(seconds=-1))
        jobs.run_pending()
        request = PrivacyRequest.get_by_id(request.id)
        done = [d["category"] for d in _json.loads(request.report)["done"]]
        assert request.status == "completed" and len(done) == len(set(done))  # every category once
        assert Lead.select().where(Lead.owner == person.id).count() == 0
    assert len([m for m in smtp.messages if m["Subject"] == "Your data has been erased"]) == 1
