"""The scheduler's bookkeeping: each run happens once per fire time even with two
schedulers on one PostgreSQL, a night missed while the scheduler was down is caught
up once at start, and an admin's "Run now" is picked up by the next poll."""
import threading
from datetime import datetime, timedelta

import pytest
from markupsafe import escape

from app.db import database
from app.models import AuditEvent, Role
from app.models.base import utcnow
from app.models.retention import RetentionRun, ScheduledRun
from app.services.platform import schedule
from jobs import catch_up, enforce_retention, resume_unfinished, run_job, run_requested, scheduled_jobs, trigger_of
from tests.support.forms import post_form

NIGHTLY = trigger_of({"trigger": "cron", "hour": 2, "minute": 0})


def test_the_slot_of_a_cron_job_is_its_latest_fire_time_and_of_an_interval_its_window():
    assert schedule.slot_of(NIGHTLY, datetime(2026, 3, 10, 1, 59)) == datetime(2026, 3, 9, 2, 0)
    assert schedule.slot_of(NIGHTLY, datetime(2026, 3, 10, 2, 0, 5)) == datetime(2026, 3, 10, 2, 0)
    every_five = trigger_of({"minutes": 5})
    assert schedule.slot_of(every_five, datetime(2026, 3, 10, 2, 7, 30)) == datetime(2026, 3, 10, 2, 5)


def test_a_run_under_way_is_not_started_again_by_run_now(app):
    with app.app_context(), database.connection_context():
        held = schedule.claim("send_dpo_digest", utcnow())
        try:
            schedule.request_run("send_dpo_digest", ["send_dpo_digest"], None)
            assert schedule.claim("send_dpo_digest", utcnow()) is None  # its claim beats (and holds its lock)
            assert schedule.unfinished() == []
        finally:
            held.finish("ok")
        assert ScheduledRun.get(ScheduledRun.job_id == "send_dpo_digest").outcome == "ok"


def test_a_run_a_dead_scheduler_left_running_is_run_again_whatever_its_slot(app):
    """Its beat stopped a while ago (SIGKILL, out of memory…): owed, not skipped until the
    next fire time. Only the claim's holder writes its outcome."""
    with app.app_context(), database.connection_context():
        old = utcnow() - schedule.STALE_AFTER - timedelta(seconds=1)
        ScheduledRun.create(job_id="enforce_retention", started_at=old, heartbeat_at=old, outcome="running")
        assert [row.job_id for row in schedule.unfinished()] == ["enforce_retention"]
    resume_unfinished(app)
    with app.app_context(), database.connection_context():
        row = ScheduledRun.get(ScheduledRun.job_id == "enforce_retention")
        assert row.outcome == "ok" and row.started_at > old
        assert RetentionRun.select().count() == 1
        assert schedule.unfinished() == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_schedulers_on_one_postgresql_run_each_job_once(app):
    """Two scheduler processes fire the same job at the same moment: the slot goes to one."""
    barrier, outcomes = threading.Barrier(2), []

    def scheduler_replica():
        barrier.wait()
        outcomes.append(run_job(app, enforce_retention, NIGHTLY))

    replicas = [threading.Thread(target=scheduler_replica) for _ in range(2)]
    for t in replicas:
        t.start()
    for t in replicas:
        t.join()
    assert sorted(outcomes) == [False, True]
    with app.app_context(), database.connection_context():
        assert RetentionRun.select().count() == 1
        assert ScheduledRun.get(ScheduledRun.job_id == "enforce_retention").outcome == "ok"
    assert run_job(app, enforce_retention, NIGHTLY) is False  # the same night again: already done


def test_a_night_missed_while_the_scheduler_was_down_is_caught_up_once(app):
    with app.app_context(), database.connection_context():
        ScheduledRun.create(job_id="enforce_retention", started_at=utcnow() - timedelta(days=3), outcome="ok")
    assert "enforce_retention" in catch_up(app)
    assert "enforce_retention" not in catch_up(app)  # a second start does not run it again
    with app.app_context(), database.connection_context():
        assert RetentionRun.select().count() == 1


def test_a_failing_job_is_recorded_as_failed(app, monkeypatch):
    def broken(app):
        raise RuntimeError("mail server unreachable")
    monkeypatch.setattr(enforce_retention, "run", broken)
    with pytest.raises(RuntimeError):
        run_job(app, enforce_retention, NIGHTLY)
    with app.app_context(), database.connection_context():
        row = ScheduledRun.get(ScheduledRun.job_id == "enforce_retention")
        assert (row.outcome, row.detail) == ("failed", "RuntimeError: mail server unreachable")


def test_an_admin_sees_every_job_and_runs_one_now(app, client, login_as):
    admin = login_as(Role.ADMIN)
    page = client.get("/admin/jobs").text
    for job in scheduled_jobs():
        assert str(escape(job["name"])) in page
    assert "Never" in page and "Daily at 02:00 UTC" in page and "Hourly from 07:00 to 23:00 UTC" in page
    assert "Every 2 seconds" in page and "Every 5 minutes" in page
    response = post_form(client, "/admin/jobs/enforce_retention/run", token_from="/admin/jobs",
                         follow_redirects=True)
    assert "will run within a few seconds" in response.text and "Run requested" in response.text
    run_requested(app)  # what the scheduler's two-second poll does
    with app.app_context(), database.connection_context():
        assert RetentionRun.select().count() == 1
        audited = AuditEvent.get(AuditEvent.action == "scheduler.run_requested")
        assert audited.actor_ref == admin.id
    run_requested(app)
    with app.app_context(), database.connection_context():
        assert RetentionRun.select().count() == 1  # asked once, ran once
    page = client.get("/admin/jobs").text
    assert "Succeeded" in page and "Run requested" not in page
    assert post_form(client, "/admin/jobs/no_such_job/run", token_from="/admin/jobs").status_code == 404


def test_a_nightly_run_repeated_after_a_kill_queues_its_job_once(app):
    """A scheduler killed after queueing the sweep or the backup, before recording its run,
    runs it again at the next start: the job already in flight is found, not doubled; and
    a backup job run again after its file was published keeps that file."""
    from app.models import Job
    from app.services.platform import jobs
    from app.services.retention import backups
    from jobs import back_up_database
    for _ in range(2):
        enforce_retention.run(app)
        back_up_database.run(app)
    with app.app_context(), database.connection_context():
        assert RetentionRun.select().count() == 1
        backup_job = Job.get(Job.kind == "backup")
        assert Job.select().where(Job.kind == "backup").count() == 1
        assert jobs.run_pending() == 2
        made = backups.list_backups()
        Job.update(status="queued").where(Job.id == backup_job.id).execute()  # killed before it was marked done
        assert jobs.run_pending() == 1
        assert backups.list_backups() == made and len(made) == 1
