"""The scheduler process (`flask jobs run`): one BlockingScheduler, jobs with explicit
ids and max_instances=1. Each job module is a thin wrapper around a service."""
from __future__ import annotations

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from jobs import end_cooling_off, purge_expired_exports, purge_sign_in_links, run_pending_jobs

SCHEDULE = (
    # (module, trigger arguments, name)
    (run_pending_jobs, {"seconds": 2}, "Run queued jobs, and resume killed ones"),
    (end_cooling_off, {"minutes": 5}, "Send erasures past their cooling-off to the privacy team"),
    (purge_sign_in_links, {"hours": 1}, "Delete expired sign-in links"),
    (purge_expired_exports, {"hours": 1}, "Delete export archives past their 7 days"),
)


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for module, every, name in SCHEDULE:
        job_id = module.__name__.rsplit(".", 1)[-1]
        scheduler.add_job(module.run, "interval", args=[app], id=job_id, name=name, **every)
    return scheduler
