"""The scheduler process (`flask jobs run`): one BlockingScheduler, jobs with explicit
ids and max_instances=1. Each job module is a thin wrapper around a service.

A SCHEDULE entry's arguments are APScheduler's: interval fields ({"minutes": 5}) by
default, or cron fields with "trigger": "cron"; job options such as
misfire_grace_time may sit beside either."""
from __future__ import annotations

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from jobs import (
    end_cooling_off, expire_newsletter_sign_ups, purge_expired_exports, purge_sign_in_links, refresh_statistics, run_pending_jobs, send_dpo_digest,
)

SCHEDULE = (
    # (module, trigger arguments, name)
    (run_pending_jobs, {"seconds": 2}, "Run queued jobs, and resume killed ones"),
    (end_cooling_off, {"minutes": 5}, "Send erasures past their cooling-off to the privacy team"),
    (purge_sign_in_links, {"hours": 1}, "Delete expired sign-in links"),
    (purge_expired_exports, {"hours": 1}, "Delete export archives past their 7 days"),
    (refresh_statistics, {"hours": 6}, "Refresh SQLite's query-planner statistics"),
    (expire_newsletter_sign_ups, {"hours": 1}, "Forget newsletter sign-ups not confirmed within 30 days"),
    # 07:00 UTC, then hourly until 23:00. The service mails each DPO at most once a
    # day, so the later runs only catch up a scheduler started after 07:00 and retry a
    # DPO whose mail failed. misfire_grace_time cannot do the catching up: jobs live
    # in memory, and a scheduler started at 08:00 plans the next run for tomorrow 07:00.
    # It does keep a run that a busy thread pool delayed (APScheduler's default: 1 s).
    (send_dpo_digest, {"trigger": "cron", "hour": "7-23", "minute": 0, "misfire_grace_time": 3600},
     "Email each DPO the requests overdue or due within 7 days"),
)


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for module, when, name in SCHEDULE:
        job_id = module.__name__.rsplit(".", 1)[-1]
        trigger_args = dict(when)
        trigger = trigger_args.pop("trigger", "interval")
        scheduler.add_job(module.run, trigger, args=[app], id=job_id, name=name, **trigger_args)
    return scheduler
