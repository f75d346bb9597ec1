"""The scheduler process (`flask jobs run`): one BlockingScheduler, jobs with explicit
ids and max_instances=1. Each job module is a thin wrapper around a service."""
from __future__ import annotations

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from jobs import purge_sign_in_links


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    scheduler.add_job(purge_sign_in_links.run, "interval", hours=1, args=[app],
                      id="purge_sign_in_links", name="Delete expired sign-in links")
    return scheduler
