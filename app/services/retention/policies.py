"""Retention the scheduler enforces. Each registry category with a retention rule
(app.models.registry.RetentionRule) has one policy the DPO can change: how many days
after the rule's clock a row is kept, and whether it is then deleted or anonymised
(chosen text fields blanked, the rest kept for statistics). Rows that exist only
because of a consent go as soon as their person withdraws it.

A sweep works in small batches, each its own transaction that also records the
run's counts, so the app stays responsive, a killed sweep resumes where it stopped
(what it removed is gone, what it anonymised no longer matches) and its totals stay
right. People under a DPO's legal hold (an erasure approved in part) keep the held
categories until the hold ends."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import peewee
from peewee import fn

from app.db import database, is_postgres
from app.models import REGISTRY, ConsentState, Job, JobStatus, PrivacyRequest, Purpose, User
from app.models.base import utcnow
from app.models.registry import PersonalData
from app.models.restrictions import Restriction
from app.models.retention import RetentionPolicy, RetentionRun
from app.services.platform import audit, jobs
from app.services.platform.errors import ServiceError
from app.services.platform.weekly import WeekCount, fold_into_weeks, week_starts
from app.services.retention import backups
from app.services.rights.erasure import ANONYMISERS

ACTIONS = {"delete": "Delete", "anonymise": "Anonymise"}
# Ids per transaction. SQLite has one writer: a batch of 10,000 holds it for some
# 15 ms, so a preference toggle waits at most that long. PostgreSQL writers do not
# wait for each other; its batches only keep transactions short (200,000 rows: some
# 80 ms), and fewer of them cost less: against 50,000, the sweep went from 1.3-1.8x
# to 1.3x the bare DELETE (tests/benchmarks/bench_retention.py).
SQLITE_BATCH, POSTGRES_BATCH = 10_000, 200_000
MAX_DAYS = 3650
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class Policy:
    """A policy with its registry entry, as the pages and the sweep need them."""
    row: RetentionPolicy
    entry: PersonalData

    @property
    def rule(self):
        return self.entry.retention_rule

    @property
    def category(self) -> str:
        return self.entry.category


def swept_entries() -> list[PersonalData]:
    return sorted((e for e in REGISTRY.values() if e.retention_rule), key=lambda e: e.category)


def ensure_policies() -> int:
    """Seed a policy for every category with a rule, from the registry's defaults."""
    existing = {p.category for p in RetentionPolicy.select(RetentionPolicy.category)}
    created = 0
    for entry in swept_entries():
        if entry.category not in existing:
            rule = entry.retention_rule
            try:
                with database.atomic():
                    RetentionPolicy.create(category=entry.category, days=rule.days, action=rule.action,
                                           blank_fields=json.dumps(list(rule.blankable)),
                                           note=f"Registry default: {entry.retention}")
                created += 1
            except peewee.IntegrityError:
                pass  # seeded at the same moment by another process (the scheduler, the web app)
    return created


def policies() -> list[Policy]:
    ensure_policies()
    rows = {p.category: p for p in RetentionPolicy.select()}
    return [Policy(rows[e.category], e) for e in swept_entries()]


def policy(category: str) -> Policy:
    found = [p for p in policies() if p.category == category]
    if not found:
        raise ServiceError("There is no retention policy for that category.", 404)
    return found[0]


def update_policy(category: str, days: int, action: str, blank_fields: list[str], note: str, enabled: bool,
                  actor: User) -> Policy:
    current = policy(category)
    _validate(current, days, action, blank_fields)
    before = _described(current.row)
    blank = [f for f in current.rule.blankable if f in blank_fields]
    with database.atomic():
        RetentionPolicy.update(days=days, action=action, blank_fields=json.dumps(blank), note=note.strip()[:2000],
                               enabled=enabled, updated_at=utcnow(), updated_by=actor.id).where(
            RetentionPolicy.id == current.row.id).execute()
        changed = policy(category)
        audit.record(audit.Event("retention.policy_changed", actor=actor, details={
            "category": category, "before": before, "after": _described(changed.row)}))
    return changed


def _validate(current: Policy, days: int, action: str, blank_fields: list[str]) -> None:
    shortest = current.rule.min_days
    if not shortest <= days <= MAX_DAYS:
        why = " (the law requires keeping it that long)" if shortest > 1 else ""
        raise ServiceError(f"Keep rows between {shortest:,} and {MAX_DAYS:,} days{why}.")
    if action not in ACTIONS:
        raise ServiceError("Choose to delete or to anonymise.")
    if action == "anonymise" and not current.rule.blankable:
        raise ServiceError(f"{current.category} cannot be anonymised: every field of it names the person. "
                           "Choose delete.")


def _described(row: RetentionPolicy) -> dict:
    return {"days": row.days, "action": row.action, "blank_fields": row.blanked, "enabled": row.enabled,
            "note": row.note}


# --- what a sweep acts on ------------------------------------------------------------

def cutoff(p: Policy, now: datetime) -> datetime:
    return now - timedelta(days=p.row.days)


def held_people(category: str, today: date) -> list[int]:
    """People whose erasure was approved in part with `category` kept, until the hold ends."""
    held = []
    for user_id, holds in (PrivacyRequest.select(PrivacyRequest.user, PrivacyRequest.legal_holds)
                           .where(PrivacyRequest.legal_holds.is_null(False)).tuples()):
        if any(h["category"] == category and date.fromisoformat(h["until"]) >= today for h in json.loads(holds)):
            held.append(user_id)
    return held


def _person_column(p: Policy) -> peewee.Field:
    return getattr(p.entry.model, p.entry.person)


def expired(p: Policy, now: datetime) -> peewee.ModelSelect:
    """Rows past their period that the policy's action still has to act on."""
    return p.entry.model.select(p.entry.model.id).where(_expired_where(p, now))


def withdrawn(p: Policy, now: datetime) -> peewee.ModelSelect | None:
    """Rows that exist only under a consent their person has withdrawn: always deleted."""
    where = _withdrawn_where(p, now)
    return None if where is None else p.entry.model.select(p.entry.model.id).where(where)


def _expired_where(p: Policy, now: datetime):
    model = p.entry.model
    clock = getattr(model, p.rule.clock)
    condition = clock.is_null(False) & (clock < cutoff(p, now))
    if p.row.action == "anonymise":
        condition &= _person_column(p).is_null(False)  # not anonymised yet
    if model is PrivacyRequest:  # a request that holds data under a legal hold stays while the hold does
        holding = _requests_holding(now.date())
        if holding:
            condition &= model.id.not_in(holding)
    return _not_held(p, condition, now)


def _requests_holding(today: date) -> list[int]:
    return [request_id for request_id, holds in
            PrivacyRequest.select(PrivacyRequest.id, PrivacyRequest.legal_holds)
            .where(PrivacyRequest.legal_holds.is_null(False)).tuples()
            if any(date.fromisoformat(h["until"]) >= today for h in json.loads(holds))]


def _withdrawn_where(p: Policy, now: datetime):
    model = p.entry.model
    parts = []
    for purpose_key, only in p.rule.withdrawn_consent:
        said_no = (ConsentState.select(ConsentState.user).join(Purpose)
                   .where(Purpose.key == purpose_key, ConsentState.granted == False))  # noqa: E712
        condition = _person_column(p).in_(said_no)
        if only:
            condition &= getattr(model, only[0]) == only[1]
        parts.append(condition)
    return _not_held(p, _any(parts), now) if parts else None


def _any(conditions: list):
    return peewee.reduce(lambda a, b: a | b, conditions)


def _not_held(p: Policy, condition, now: datetime):
    """Leave alone the rows of people under a legal hold, and of people whose data is
    restricted (Art. 18). A restriction means "store only": their rows are neither
    anonymised nor deleted, not even at the end of the retention period or after a
    withdrawn consent, since a restriction is asked for precisely to keep data as it
    is (for a legal claim, or instead of its erasure: Art. 18(1)(b)-(c)). The sweep
    after the restriction is lifted catches up with them."""
    held = held_people(p.category, now.date())
    person = _person_column(p)
    condition &= person.is_null() | person.not_in(Restriction.restricted_people())  # NULL: already anonymised
    return condition & _person_column(p).not_in(held) if held else condition


def preview(now: datetime | None = None) -> list[dict]:
    """For each enabled policy: how many rows the next sweep would act on, and a sample."""
    now = now or utcnow()
    out = []
    for p in policies():
        due = expired(p, now)
        gone = withdrawn(p, now)
        clock = getattr(p.entry.model, p.rule.clock)
        sample = [value for (value,) in due.select(clock).order_by(clock).limit(SAMPLE_SIZE).tuples()]
        out.append({"policy": p, "expired": due.count(), "withdrawn": gone.count() if gone is not None else 0,
                    "sample": sample, "cutoff": cutoff(p, now)})
    return out


# Erasing a staff member keeps their policies and runs, without their name.
ANONYMISERS[RetentionPolicy] = lambda user: RetentionPolicy.update(updated_by=None).where(
    RetentionPolicy.updated_by == user.id).execute()
ANONYMISERS[RetentionRun] = lambda user: RetentionRun.update(started_by=None).where(
    RetentionRun.started_by == user.id).execute()


# --- runs ----------------------------------------------------------------------------

def start_run(trigger: str, actor: User | None = None, only: str | None = None, queued: bool = True) -> RetentionRun:
    """A new run; `queued` hands it to the job runner (with progress), otherwise the
    caller sweeps it in its own process (the CLI)."""
    if only is not None:
        policy(only)  # 404 for an unknown category
    with database.atomic():
        if trigger == "schedule" and (current := _scheduled_in_flight()):
            return current  # the nightly run queued again by a scheduler killed before it noted it
        job = jobs.enqueue("retention") if queued else None
        run = RetentionRun.create(job=job.id if job else None, trigger=trigger,
                                  started_by=actor.id if actor else None, only_category=only)
        audit.record(audit.Event("retention.run_started", actor=actor, details={
            "run_id": run.id, "trigger": trigger, "only": only}))
        return run


def _scheduled_in_flight() -> RetentionRun | None:
    return (RetentionRun.select().join(Job, on=(RetentionRun.job == Job.id))
            .where(RetentionRun.trigger == "schedule",
                   Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])).first())


def runs(limit: int = 50) -> list[RetentionRun]:
    return list(RetentionRun.select().order_by(RetentionRun.id.desc()).limit(limit))


def get_run(run_id: int) -> RetentionRun:
    run = RetentionRun.get_or_none(RetentionRun.id == run_id)
    if run is None:
        raise ServiceError("There is no such run.", 404)
    return run


@jobs.handler("retention")
def run_job(job: Job, progress: jobs.Progress) -> None:
    sweep(RetentionRun.get(RetentionRun.job == job.id), progress)


def sweep(run: RetentionRun, progress: jobs.Progress | None = None, now: datetime | None = None) -> RetentionRun:
    """Act on every enabled policy (or only `run.only_category`). Data under a
    withdrawn consent goes even when its policy is paused: a withdrawal is the
    person's, not the DPO's to tune. Re-running a killed run continues it: counts
    are read back and only what is left is acted on."""
    now = now or utcnow()
    RetentionRun.update(status="running", started_at=run.started_at or utcnow()).where(
        RetentionRun.id == run.id).execute()
    try:
        chosen = [p for p in policies() if run.only_category in (None, p.category)]
        if progress:
            progress.total(sum(_left(p, now) for p in chosen))
        counts, errors = get_run(run.id).counts_dict, []
        for p in chosen:
            try:
                _sweep_policy(run, p, now, counts, progress)
            except peewee.DatabaseError as e:  # one policy failing must not stop the others
                errors.append(f"{p.category}: {e}")
        if run.only_category is None:
            _purge_backups(now, errors)
    except Exception as e:
        RetentionRun.update(status="failed", errors=f"{type(e).__name__}: {e}", finished_at=utcnow()).where(
            RetentionRun.id == run.id).execute()
        raise
    RetentionRun.update(status="failed" if errors else "done", errors="\n".join(errors), finished_at=utcnow()).where(
        RetentionRun.id == run.id).execute()
    audit.record(audit.Event("retention.swept", details={"run_id": run.id, "counts": counts, "errors": len(errors)}))
    return get_run(run.id)


def _left(p: Policy, now: datetime) -> int:
    gone = withdrawn(p, now)
    return (expired(p, now).count() if p.row.enabled else 0) + (gone.count() if gone is not None else 0)


def _sweep_policy(run: RetentionRun, p: Policy, now: datetime, counts: dict, progress) -> None:
    steps = [(_expired_where(p, now), p.row.action)] if p.row.enabled else []
    gone = _withdrawn_where(p, now)
    if gone is not None:
        steps.append((gone, "delete"))
    for where, action in steps:
        _act_in_id_ranges(run, p, where, action, counts, progress)


def _act_in_id_ranges(run: RetentionRun, p: Policy, where, action: str, counts: dict, progress) -> None:
    """Walk the ids of the rows to act on in ranges of batch_size(), one statement and one
    transaction per range. Ranges, not "the next batch of matching rows": a scan for the
    next ones would step over every row already deleted (PostgreSQL keeps them in its
    indexes until vacuum), which made the sweep quadratic."""
    model, size = p.entry.model, batch_size()
    low, high = model.select(fn.MIN(model.id), fn.MAX(model.id)).where(where).scalar(as_tuple=True)
    if low is None:
        return
    for start in range(low, high + 1, size):
        in_range = where & (model.id >= start) & (model.id < start + size)
        with database.atomic():
            if action == "delete":
                done = model.delete().where(in_range).execute()
            else:
                done = model.update(_anonymised(p)).where(in_range).execute()
            if done:
                counts[p.category] = counts.get(p.category, 0) + done
                RetentionRun.update(counts=json.dumps(counts)).where(RetentionRun.id == run.id).execute()
        if progress and done:
            progress.advance(done)
        if not is_postgres():
            # Let a writer woken by our commit take the lock before our next batch
            # does: the kernel does not queue flock waiters in order.
            os.sched_yield()


def _anonymised(p: Policy) -> dict:
    """What an anonymised row becomes: no person, the month instead of the moment,
    rounded coordinates, and the chosen text fields blank."""
    model = p.entry.model
    clock = getattr(model, p.rule.clock)
    month = fn.date_trunc("month", clock) if is_postgres() else fn.strftime("%Y-%m-01 00:00:00", clock)
    changes = {_person_column(p): None, clock: month}
    changes.update({getattr(model, f): fn.ROUND(getattr(model, f), 1) for f in p.rule.rounded})
    changes.update({getattr(model, f): "" for f in p.row.blanked})
    return changes


def batch_size() -> int:
    return POSTGRES_BATCH if is_postgres() else SQLITE_BATCH


def _purge_backups(now: datetime, errors: list[str]) -> None:
    """Encrypted snapshots older than 90 days go with the nightly sweep."""
    try:
        backups.purge_old_backups(now)
    except OSError as e:
        errors.append(f"Backups: {e}")


def removed_per_week(now: datetime | None = None) -> list[WeekCount]:
    """Rows acted on per week, from the finished runs (for the history chart)."""
    mondays = week_starts(now or utcnow())
    since = datetime.combine(mondays[0], datetime.min.time())
    finished = RetentionRun.select().where(RetentionRun.finished_at >= since)
    return fold_into_weeks(((run.finished_at.date(), run.total) for run in finished), mondays)


def last_run() -> RetentionRun | None:
    return RetentionRun.select().order_by(RetentionRun.id.desc()).first()


def totals(rows: list[dict]) -> dict:
    return {"expired": sum(r["expired"] for r in rows), "withdrawn": sum(r["withdrawn"] for r in rows)}
