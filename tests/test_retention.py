"""Retention sweeps with a frozen clock: exactly the rows past their period go (or
are anonymised), legal holds and disabled policies are respected, withdrawn consent
takes its data with it, and a killed sweep resumes with the right totals."""
import json
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import peewee
import pytest

from app.db import database
from app.models import (
    AuditEvent,
    CallLog,
    ConsentState,
    EmailEngagement,
    LocationCheckin,
    PrivacyRequest,
    RequestKind,
    Role,
    UsageEvent,
)
from app.models.base import utcnow
from app.models.retention import RetentionRun
from app.services.consent import ledger
from app.services.platform import jobs
from app.services.platform.errors import ServiceError
from app.services.retention import policies
from app.services.rights import personal_data

NOW = utcnow().replace(microsecond=0)
SECOND = timedelta(seconds=1)


@contextmanager
def services(app):
    with app.app_context(), database.connection_context():
        yield


@pytest.fixture
def dpo(make_user):
    return make_user(Role.DPO)


def call(person, age: timedelta, number="+44 20 7946 0000") -> int:
    return CallLog.create(owner=person.id, number=number, direction="inbound", caller_id="Alice",
                          duration_seconds=60, called_at=NOW - age).id


def sweep(now=NOW, only=None):
    return policies.sweep(policies.start_run("cli", only=only, queued=False), now=now)


def test_rows_one_second_past_their_period_go_and_one_second_before_stay(app, make_user):
    alice = make_user(Role.SUBJECT)
    with services(app):
        period = timedelta(days=policies.policy("Call logs").row.days)
        old, young = call(alice, period + SECOND), call(alice, period - SECOND)
        usage_old = UsageEvent.create(user=alice.id, path="/pricing", occurred_at=NOW - timedelta(days=396)).id
        run = sweep()
        assert [c.id for c in CallLog.select()] == [young] and old != young
        assert not UsageEvent.select().where(UsageEvent.id == usage_old).exists()
        assert run.status == "done" and run.counts_dict == {"Call logs": 1, "Usage and navigation": 1}
        assert sweep().total == 0  # idempotent: nothing left to act on


def test_anonymised_rows_keep_only_what_the_policy_allows(app, make_user, dpo):
    alice = make_user(Role.SUBJECT)
    with services(app):
        policies.update_policy("Call logs", 30, "anonymise", ["number"], "Keep call statistics.", True, dpo)
        old = call(alice, timedelta(days=31))
        when = CallLog.get_by_id(old).called_at
        run = sweep()
        row = CallLog.get_by_id(old)
        assert row.owner_id is None  # no longer anyone's
        assert (row.number, row.caller_id, row.duration_seconds, row.direction) == ("", "Alice", 60, "inbound")
        assert row.called_at == when.replace(day=1, hour=0, minute=0, second=0)  # the month, not the moment
        assert run.counts_dict == {"Call logs": 1}
        assert sweep().counts_dict == {}  # already anonymised: not acted on twice
        assert not personal_data.rows_of(CallLog.personal_data, alice).exists()  # gone from her data


def test_anonymised_check_ins_keep_coordinates_rounded_to_about_ten_kilometres(app, make_user, dpo):
    alice = make_user(Role.SUBJECT)
    with services(app):
        policies.update_policy("Location check-ins", 30, "anonymise", ["activity"], "", True, dpo)
        checkin = LocationCheckin.create(owner=alice.id, latitude=Decimal("51.501364"), longitude=Decimal("-0.141890"),
                                         activity="visit", recorded_at=NOW - timedelta(days=40))
        sweep()
        row = LocationCheckin.get_by_id(checkin.id)
        assert (row.owner_id, row.activity) == (None, "")
        assert (float(row.latitude), float(row.longitude)) == (51.5, -0.1)


def test_a_request_holding_data_is_kept_while_its_hold_runs(app, make_user):
    alice = make_user(Role.SUBJECT)
    with services(app):
        holds = [{"category": "Call logs", "reason": "Evidence in a pending dispute (Art. 17(3)(e)).",
                  "until": (NOW.date() + timedelta(days=1000)).isoformat()}]
        request = PrivacyRequest.create(user=alice.id, kind=RequestKind.DELETION.value, status="completed",
                                        due_at=NOW, completed_at=NOW - timedelta(days=800), legal_holds=json.dumps(holds))
        held = call(alice, timedelta(days=800))
        sweep()
        sweep()
        assert PrivacyRequest.select().where(PrivacyRequest.id == request.id).exists()
        assert CallLog.select().where(CallLog.id == held).exists()


def test_a_run_that_fails_says_so(app, monkeypatch):
    def broken():
        raise peewee.OperationalError("canceling statement due to statement timeout")
    with services(app):
        run = policies.start_run("cli", queued=False)
        monkeypatch.setattr(policies, "policies", broken)
        with pytest.raises(peewee.OperationalError):
            policies.sweep(run)
        failed = RetentionRun.get_by_id(run.id)
        assert failed.status == "failed" and "statement timeout" in failed.errors and failed.finished_at


def test_a_legal_hold_keeps_the_category_until_it_ends(app, make_user):
    alice, bob = make_user(Role.SUBJECT), make_user(Role.SUBJECT)
    with services(app):
        holds = [{"category": "Call logs", "reason": "Evidence in a pending dispute (Art. 17(3)(e)).",
                  "until": (NOW.date() + timedelta(days=10)).isoformat()}]
        PrivacyRequest.create(user=alice.id, kind=RequestKind.DELETION.value, status="completed",
                              due_at=NOW, legal_holds=json.dumps(holds))
        held, gone = call(alice, timedelta(days=800)), call(bob, timedelta(days=800))
        sweep()
        assert [c.id for c in CallLog.select()] == [held] and held != gone
        policies.sweep(policies.start_run("cli", queued=False), now=NOW + timedelta(days=11))
        assert not CallLog.select().exists()  # the hold ended


def test_a_disabled_policy_acts_on_nothing_and_the_preview_counts_what_would_go(app, make_user, dpo):
    alice = make_user(Role.SUBJECT)
    with services(app):
        call(alice, timedelta(days=800))
        call(alice, timedelta(days=1))
        row = next(r for r in policies.preview(NOW) if r["policy"].category == "Call logs")
        assert row["expired"] == 1 and len(row["sample"]) == 1
        policies.update_policy("Call logs", 730, "delete", [], "", False, dpo)
        sweep()
        assert CallLog.select().count() == 2


def test_withdrawn_tracking_consent_takes_its_engagement_rows_with_it(app, make_user):
    alice = make_user(Role.SUBJECT)
    with services(app):
        origin = ledger.Origin(ledger.ConsentSource.PORTAL, alice)
        opens = ledger.purpose_by_key("open_tracking")
        ledger.set_consent(alice, opens, True, origin)
        for kind in ("sent", "opened", "clicked"):
            EmailEngagement.create(user=alice.id, kind=kind, campaign="spring", occurred_at=NOW)
        ledger.set_consent(alice, opens, False, origin)
        run = sweep()
        assert sorted(e.kind for e in EmailEngagement.select()) == ["clicked", "sent"]
        assert run.counts_dict == {"Email engagement": 1}
        assert ConsentState.select().count() == 1


def test_withdrawn_consent_is_honoured_even_when_the_policy_is_paused(app, make_user, dpo):
    alice = make_user(Role.SUBJECT)
    with services(app):
        policies.update_policy("Usage and navigation", 395, "delete", [], "", False, dpo)
        analytics = ledger.purpose_by_key("product_analytics")
        ledger.set_consent(alice, analytics, True, ledger.Origin(ledger.ConsentSource.PORTAL, alice))
        UsageEvent.create(user=alice.id, path="/pricing", occurred_at=NOW)
        ledger.set_consent(alice, analytics, False, ledger.Origin(ledger.ConsentSource.PORTAL, alice))
        assert sweep().counts_dict == {"Usage and navigation": 1}


def test_a_policy_change_is_validated_and_audited(app, dpo):
    with services(app):
        with pytest.raises(ServiceError, match="between 1 and"):
            policies.update_policy("Call logs", 0, "delete", [], "", True, dpo)
        with pytest.raises(ServiceError, match="cannot be anonymised"):
            policies.update_policy("Devices and push tokens", 30, "anonymise", [], "", True, dpo)
        with pytest.raises(ServiceError, match="between 730 and 3,650 days .the law requires"):
            policies.update_policy("Privacy requests", 365, "delete", [], "", True, dpo)
        policies.update_policy("Call logs", 365, "delete", [], "Shorter, as agreed with the works council.",
                                True, dpo)
        event = AuditEvent.select().where(AuditEvent.action == "retention.policy_changed").get()
        details = json.loads(event.details)
        assert (details["before"]["days"], details["after"]["days"], event.actor_ref) == (730, 365, dpo.id)


class Killed(BaseException):
    """Stands for the process dying (SIGKILL): nothing below catches it."""


def test_a_sweep_killed_half_way_resumes_without_acting_twice_and_totals_are_right(app, make_user, monkeypatch):
    alice = make_user(Role.SUBJECT)
    monkeypatch.setattr(policies, "batch_size", lambda: 10)
    with services(app):
        CallLog.insert_many([{"owner": alice.id, "number": "1", "direction": "in",
                              "called_at": NOW - timedelta(days=800)} for _ in range(35)]).execute()
        run = policies.start_run("schedule")
        real_delete, batches = CallLog.delete, []

        def die_after_two_batches():
            batches.append(1)
            if len(batches) == 3:
                raise Killed()
            return real_delete()
        monkeypatch.setattr(CallLog, "delete", die_after_two_batches)
        with pytest.raises(Killed):
            jobs.run_pending()
        assert CallLog.select().count() == 15
        assert RetentionRun.get_by_id(run.id).counts_dict == {"Call logs": 20}
    monkeypatch.setattr(CallLog, "delete", real_delete)
    monkeypatch.setattr(jobs, "STALE_AFTER", timedelta(seconds=-1))
    with services(app):
        assert jobs.run_pending() == 1
        done = RetentionRun.get_by_id(run.id)
        assert (done.status, done.counts_dict) == ("done", {"Call logs": 35})
        assert not CallLog.select().exists()


def test_closing_a_request_starts_its_24_months(app, make_user):
    from app.services.rights.requests import cancel_request, file_request
    alice = make_user(Role.SUBJECT)
    with services(app):
        request = file_request(alice, RequestKind.RECTIFICATION, "My surname is misspelt.", lambda t: t,
                               notify=False)
        cancelled = cancel_request(alice, request.id)
        assert cancelled.completed_at is not None
        assert policies.sweep(policies.start_run("cli", queued=False),
                               now=cancelled.completed_at + timedelta(days=731)).counts_dict == {"Privacy requests": 1}


def test_the_cli_previews_and_runs(app, runner, make_user):
    alice = make_user(Role.SUBJECT)
    with services(app):
        call(alice, timedelta(days=800))
    preview = runner.invoke(args=["retention", "preview"])
    assert preview.exit_code == 0 and "Call logs" in preview.output and "1 expired" in preview.output.replace(
        "       1", " 1")
    dry = runner.invoke(args=["retention", "run", "--dry-run", "--policy", "Call logs"])
    assert dry.exit_code == 0
    with services(app):
        assert CallLog.select().count() == 1
    done = runner.invoke(args=["retention", "run", "--policy", "Call logs"])
    assert done.exit_code == 0 and "1 rows acted on" in done.output, done.output
    unknown = runner.invoke(args=["retention", "run", "--policy", "Nope"])
    assert unknown.exit_code != 0 and "no retention policy" in unknown.output
    with services(app):
        assert not CallLog.select().exists()

