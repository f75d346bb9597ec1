"""The scheduler process (`flask jobs run`, SchedulerProcess): APScheduler's periodic
jobs with explicit ids and max_instances=1, and the job workers that run queued jobs.
Each job module is a thin wrapper around a service.

A SCHEDULE entry's arguments are APScheduler's: interval fields ({"minutes": 5}) by
default, or cron fields with "trigger": "cron"; job options such as
misfire_grace_time may sit beside either.

Every run goes through app.services.platform.schedule: it runs once per fire time however
many schedulers share the database, its outcome is kept for /admin/jobs, a cron run
missed while no scheduler was up is caught up once at start, and the job that runs every
two seconds wakes the workers, starts the runs asked for with "Run now" on /admin/jobs,
and runs again any run a scheduler left half-way (killed, or stopped by SIGTERM)."""
from __future__ import annotations

import threading
import time

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from app.db import database
from app.models.base import utcnow
from app.services.platform import jobs as job_queue
from app.services.platform import schedule
from jobs import (
    back_up_database,
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
    (run_pending_jobs, {"seconds": 2}, "Start queued jobs, and resume killed ones"),
    (deliver_outbox, {"seconds": 10}, "Deliver outbox mail not sent at once, retrying for 3 days"),
    (end_cooling_off, {"minutes": 5}, "Send erasures past their cooling-off to the privacy team"),
    (purge_sign_in_links, {"hours": 1}, "Delete expired sign-in links"),
    (purge_expired_exports, {"hours": 1}, "Delete export archives (people's and companies') past their 7 days"),
    (refresh_statistics, {"hours": 6}, "Refresh SQLite's query-planner statistics"),
    (expire_newsletter_sign_ups, {"hours": 1}, "Forget newsletter sign-ups not confirmed within 30 days"),
    (sync_integrations, {"minutes": 15}, "Sync every connected integration (Google Contacts…)"),
    # 07:00 UTC, then hourly until 23:00. The service mails each DPO at most once a
    # day, so the later runs only catch up a scheduler started after 07:00 (a digest
    # whose mail failed is retried by the outbox). misfire_grace_time cannot do the catching up: jobs live
    # in memory, and a scheduler started at 08:00 plans the next run for tomorrow 07:00.
    # It does keep a run that a busy thread pool delayed (APScheduler's default: 1 s).
    (send_dpo_digest, {"trigger": "cron", "hour": "7-23", "minute": 0, "misfire_grace_time": 3600},
     "Email each DPO the requests overdue or due within 7 days"),
    # 02:00 UTC, when the app is quietest; a night the scheduler was down is caught up
    # once when it starts (catch_up), and a run delayed however long still runs.
    (enforce_retention, {"trigger": "cron", "hour": 2, "minute": 0, "misfire_grace_time": None},
     "Sweep data past its retention period (every enabled policy), and old backups"),
    # 01:00 UTC, before the sweep; caught up at start like the sweep. The backup itself
    # is a job: resumed if the scheduler dies half-way.
    (back_up_database, {"trigger": "cron", "hour": 1, "minute": 0, "misfire_grace_time": None},
     "Back up the database (encrypted, into the instance folder's backups/)"),
)
_TRIGGER_OPTIONS = {"misfire_grace_time"}
STOP_GRACE = 8  # seconds from SIGTERM to exit: under the 10 s of `docker stop` before its SIGKILL


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


def run_job(app: Flask, module, trigger, slot=None, process: "SchedulerProcess | None" = None) -> bool:
    """Run one scheduled job for its slot (now's, unless given); False if another
    scheduler has it, or it is under way. The claim beats while the job runs. In the
    scheduler process, the follow-up runs the two-second job finds (asked for on
    /admin/jobs, or left unfinished) are handed to the scheduler's threads; elsewhere
    they run here, one after the other."""
    with app.app_context():
        slot = slot or schedule.slot_of(trigger, utcnow())
        claim = schedule.claim(job_id(module), slot)
    if claim is None:
        return False
    if process:
        process.hold(claim)
    try:
        result = module.run(app)
    except Exception as e:
        claim.finish("failed", f"{type(e).__name__}: {e}")
        raise
    except BaseException:
        claim.finish(schedule.STOPPED, "Stopped half-way; it runs again.")
        raise
    else:
        claim.finish("ok", "" if result is None else str(result))
    finally:
        if process:
            process.release(claim)
    if module is run_pending_jobs:
        start = process.soon if process else None
        run_requested(app, start)
        resume_unfinished(app, start)
    return True


def _run_here(app: Flask):
    return lambda module, trigger, slot: run_job(app, module, trigger, slot)


def run_requested(app: Flask, start=None) -> None:
    """Jobs an admin asked to run now (/admin/jobs)."""
    with app.app_context(), database.connection_context():
        asked = schedule.requested()
    _start_each(app, [(row.job_id, row.requested_at) for row in asked], start)


def resume_unfinished(app: Flask, start=None) -> None:
    """Runs a scheduler left half-way, killed or stopped: each again, now."""
    with app.app_context(), database.connection_context():
        left = schedule.unfinished()
    _start_each(app, [(row.job_id, row.started_at) for row in left], start)


def _start_each(app: Flask, runs: list[tuple[str, object]], start) -> None:
    start = start or _run_here(app)
    by_id = {j["id"]: j for j in scheduled_jobs()}
    for job_name, slot in runs:
        job = by_id.get(job_name)
        if job and job["module"] is not run_pending_jobs:
            start(job["module"], job["trigger"], slot)


def catch_up(app: Flask, start=None) -> list[str]:
    """Cron runs missed while no scheduler was up: each run once, now (or handed to
    `start`)."""
    start = start or _run_here(app)
    ran = []
    for job in scheduled_jobs():
        with app.app_context(), database.connection_context():
            slot = schedule.missed(job["id"], job["trigger"], utcnow())
        if slot and start(job["module"], job["trigger"], slot):
            ran.append(job["id"])
    return ran


def build_scheduler(app: Flask, process: "SchedulerProcess | None" = None) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for module, when, name in SCHEDULE:
        trigger = trigger_of(when)
        options = {k: v for k, v in when.items() if k in _TRIGGER_OPTIONS}
        scheduler.add_job(run_job, trigger, args=[app, module, trigger], kwargs={"process": process},
                          id=job_id(module), name=name, **options)
    return scheduler


class SchedulerProcess:
    """`flask jobs run`: the periodic jobs (APScheduler's threads), the job workers
    (app.services.platform.jobs.Workers), and a clean stop on SIGTERM or SIGINT.

    Stopping: no new claims; each running handler stops at its next safe point and its
    job goes back to the queue, its attempt not counted; a scheduled run still going
    after STOP_GRACE seconds is marked stopped, so that the next start runs it again.
    Then the process exits, within STOP_GRACE seconds of the signal."""

    def __init__(self, app: Flask, workers: int = job_queue.WORKERS):
        self.app, self.stopping = app, threading.Event()
        self.workers = job_queue.Workers(app, self.stopping, workers)
        self.scheduler = build_scheduler(app, self)
        self._claims: set[schedule.RunClaim] = set()  # the scheduled runs under way here
        self._claims_changed = threading.Condition()
        self._lock_file = None
        app.extensions["job_workers"] = self.workers  # what run_pending_jobs wakes

    def start(self) -> list[str]:
        """Start the workers and the periodic jobs; returns the runs caught up."""
        with self.app.app_context(), database.connection_context():
            self._lock_file = schedule.only_scheduler()  # SQLite: refuses a second scheduler
            if self._lock_file:  # the only scheduler: whatever is running, a dead one left
                job_queue.release_orphans()
                schedule.stop_orphans()
        self.workers.start()
        self.scheduler.start()
        return catch_up(self.app, self.soon)

    def soon(self, module, trigger, slot) -> bool:
        """Run a scheduled job now, in the scheduler's threads (never twice at once)."""
        if self.stopping.is_set() or any(c.job_id == job_id(module) for c in self._held()):
            return False  # under way here already (its beat may just be late)
        self.scheduler.add_job(run_job, "date", args=[self.app, module, trigger, slot], kwargs={"process": self},
                               id=f"{job_id(module)}:now", replace_existing=True, misfire_grace_time=None)
        return True

    def hold(self, claim: schedule.RunClaim) -> None:
        with self._claims_changed:
            self._claims.add(claim)

    def release(self, claim: schedule.RunClaim) -> None:
        with self._claims_changed:
            self._claims.discard(claim)
            self._claims_changed.notify_all()

    def stop(self, grace: float = STOP_GRACE) -> bool:
        """Wind down (see the class); True if everything stopped in time, False if
        threads are still at work and the caller must end the process."""
        deadline = time.monotonic() + grace
        self.stopping.set()
        self.scheduler.shutdown(wait=False)
        left_jobs = self.workers.stop(deadline)
        with self._claims_changed:
            self._claims_changed.wait_for(lambda: not self._claims, max(0.0, deadline - time.monotonic()))
        for claim in self._held():
            claim.finish(schedule.STOPPED, "The scheduler stopped during this run; it runs again.", wait=1)
        with self.app.app_context(), database.connection_context():
            for job in left_jobs:
                job_queue.hand_back(job)
        return not (left_jobs or self._held())

    def _held(self) -> list[schedule.RunClaim]:
        with self._claims_changed:
            return list(self._claims)
