"""The scheduler process (`flask jobs run`): one BlockingScheduler, jobs with explicit
ids and max_instances=1. Each job module is a thin wrapper around a service.

A SCHEDULE entry's arguments are APScheduler's: interval fields ({"minutes": 5}) by
default, or cron fields with "trigger": "cron"; job options such as
misfire_grace_time may sit beside either.

Every run goes through app.services.platform.schedule: it runs once per fire time however
many schedulers share the database, its outcome is kept for /admin/jobs, a cron run
missed while no scheduler was up is caught up once at start, and "Run now" from
/admin/jobs is picked up by the job that runs every two seconds."""
from __future__ import annotations

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from app.db import database
from app.models.base import utcnow
from app.services.platform import schedule
from jobs import (
    deliver_outbox,
    end_cooling_off,
    enforce_retention,
    expire_newsletter_sign_ups,
    purge_expired_exports,
    purge_sign_in_links,
    refresh_statistics,
    run_pending_jobs,
    send_dpo_digest,
    sync_integrations,
)

SCHEDULE = (
    # (module, trigger arguments, name)
    (run_pending_jobs, {"seconds": 2}, "Run queued jobs, and resume killed ones"),
    (deliver_outbox, {"seconds": 10}, "Deliver outbox mail not sent at once, retrying for 3 days"),
    (end_cooling_off, {"minutes": 5}, "Send erasures past their cooling-off to the privacy team"),
    (purge_sign_in_links, {"hours": 1}, "Delete expired sign-in links"),
    (purge_expired_exports, {"hours": 1}, "Delete export archives (people's and companies') past their 7 days"),
    (refresh_statistics, {"hours": 6}, "Refresh SQLite's query-planner statistics"),
    (expire_newsletter_sign_ups, {"hours": 1}, "Forget newsletter sign-ups not confirmed within 30 days"),
    (sync_integrations, {"minutes": 15}, "Sync every connected integration (Google Contacts…)"),
    # 07:00 UTC, then hourly until 23:00. The service mails each DPO at most once a
    # day, so the later runs only catch up a scheduler started after 07:00 and retry a
    # DPO whose mail failed. misfire_grace_time cannot do the catching up: jobs live
    # in memory, and a scheduler started at 08:00 plans the next run for tomorrow 07:00.
    # It does keep a run that a busy thread pool delayed (APScheduler's default: 1 s).
    (send_dpo_digest, {"trigger": "cron", "hour": "7-23", "minute": 0, "misfire_grace_time": 3600},
     "Email each DPO the requests overdue or due within 7 days"),
    # 02:00 UTC, when the app is quietest; a night the scheduler was down is caught up
    # once when it starts (catch_up), and a run delayed however long still runs.
    (enforce_retention, {"trigger": "cron", "hour": 2, "minute": 0, "misfire_grace_time": None},
     "Sweep data past its retention period (every enabled policy), and old backups"),
)
_TRIGGER_OPTIONS = {"misfire_grace_time"}


def job_id(module) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def trigger_of(when: dict):
    """The APScheduler trigger a SCHEDULE entry describes (UTC)."""
    fields = {k: v for k, v in when.items() if k not in _TRIGGER_OPTIONS and k != "trigger"}
    if when.get("trigger") == "cron":
        return CronTrigger(timezone="UTC", **fields)
    return IntervalTrigger(timezone="UTC", **fields)


def scheduled_jobs() -> list[dict]:
    """What /admin/jobs lists: id, name, trigger."""
    return [{"id": job_id(m), "name": name, "trigger": trigger_of(when), "module": m,
             "cadence": schedule.cadence(when)} for m, when, name in SCHEDULE]


def run_job(app: Flask, module, trigger, slot=None) -> bool:
    """Run one scheduled job for its slot (now's, unless given); False if another
    scheduler has it."""
    with app.app_context(), database.connection_context():
        slot = slot or schedule.slot_of(trigger, utcnow())
        claimed = schedule.claim(job_id(module), slot)
    if not claimed:
        return False
    try:
        result = module.run(app)
    except Exception as e:
        _finish(app, module, "failed", f"{type(e).__name__}: {e}")
        raise
    _finish(app, module, "ok", "" if result is None else str(result))
    if module is run_pending_jobs:
        run_requested(app)
    return True


def _finish(app: Flask, module, outcome: str, detail: str) -> None:
    with app.app_context(), database.connection_context():
        schedule.finish(job_id(module), outcome, detail)


def run_requested(app: Flask) -> None:
    """Jobs an admin asked to run now (/admin/jobs)."""
    with app.app_context(), database.connection_context():
        asked = schedule.requested()
    by_id = {j["id"]: j for j in scheduled_jobs()}
    for row in asked:
        job = by_id.get(row.job_id)
        if job and job["module"] is not run_pending_jobs:
            run_job(app, job["module"], job["trigger"], slot=row.requested_at)


def catch_up(app: Flask) -> list[str]:
    """Cron runs missed while no scheduler was up: each run once, now."""
    ran = []
    for job in scheduled_jobs():
        with app.app_context(), database.connection_context():
            slot = schedule.missed(job["id"], job["trigger"], utcnow())
        if slot and run_job(app, job["module"], job["trigger"], slot):
            ran.append(job["id"])
    return ran


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for module, when, name in SCHEDULE:
        trigger = trigger_of(when)
        options = {k: v for k, v in when.items() if k in _TRIGGER_OPTIONS}
        scheduler.add_job(run_job, trigger, args=[app, module, trigger], id=job_id(module), name=name, **options)
    return scheduler
