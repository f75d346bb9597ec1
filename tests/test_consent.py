"""The consent ledger and the current state: written together, provable, race-free."""
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db import database
from app.models import AuditEvent, ConsentEvent, ConsentSource, ConsentState, Purpose, Role
from app.services.consent import ledger
from app.services.consent.purposes import update_purpose
from app.services.platform.errors import ServiceError

PORTAL = ledger.Origin(ConsentSource.PORTAL, ip="203.0.113.9", user_agent="pytest")


def purpose(key):
    return Purpose.get(Purpose.key == key)


def choices(user):
    return {c.purpose.key: c.granted for c in ledger.choices_for(user)}


@pytest.fixture
def person(db, make_user):
    return make_user(Role.SUBJECT)


def test_a_new_person_has_every_consent_purpose_off(person):
    now = choices(person)
    consent_keys = [p.key for p in Purpose.select().where(Purpose.legal_basis == "consent")]
    assert not any(now[k] for k in consent_keys)
    assert now["postal_offers"] is False  # legitimate interest, yet off until asked (LEGAL.md)
    assert now["security_alerts"] and now["billing"]  # essential, locked
    assert ConsentEvent.select().count() == 0


def test_a_change_writes_event_state_and_audit_together(person):
    event = ledger.set_consent(person, purpose("click_tracking"), True, PORTAL)
    state = ConsentState.get(ConsentState.user == person.id)
    assert (event.granted, event.notice_version, event.source, event.ip) == (True, 1, "portal", "203.0.113.0")
    assert state.last_event_id == event.id and state.granted
    assert AuditEvent.get(AuditEvent.action == "consent.granted").subject_id == person.id
    assert choices(person)["click_tracking"] is True


def test_the_same_choice_twice_is_recorded_once(person):
    assert ledger.set_consent(person, purpose("sms_marketing"), True, PORTAL)
    assert ledger.set_consent(person, purpose("sms_marketing"), True, PORTAL) is None
    assert ConsentEvent.select().count() == 1


def test_essential_messages_cannot_be_switched_off(person):
    with pytest.raises(ServiceError, match="cannot be switched off"):
        ledger.set_consent(person, purpose("security_alerts"), False, PORTAL)


def test_stop_all_marketing_withdraws_every_marketing_channel(person):
    for key in ("marketing_email", "sms_marketing"):
        ledger.set_consent(person, purpose(key), True, PORTAL)
    withdrawn = ledger.stop_all_marketing(person, PORTAL)
    marketing = [p.key for p in Purpose.select().where(Purpose.kind.in_(["marketing", "tracking"]))]
    assert {e.purpose.key for e in withdrawn} == set(marketing)  # an explicit "no" even where never asked
    assert "click_tracking" in marketing  # tracking profiles people for marketing: it stops too
    assert not any(choices(person)[k] for k in marketing)
    assert ledger.stop_all_marketing(person, PORTAL) == []  # already off: nothing more to record


def test_gpc_leaves_partner_sharing_off_with_a_gpc_event(person):
    ledger.set_consent(person, purpose("partner_sharing"), True, PORTAL)
    gpc = ledger.Origin(ConsentSource.GPC)
    [event] = ledger.honour_gpc(person, gpc)
    assert (event.purpose.key, event.granted, event.source) == ("partner_sharing", False, "gpc")
    assert ledger.honour_gpc(person, gpc) == []


def test_a_material_notice_change_asks_for_confirmation_again(person, make_user):
    tracking = purpose("click_tracking")
    ledger.set_consent(person, tracking, True, PORTAL)
    update_purpose(tracking, name=tracking.name, description="Now also measures reading time.",
                   default_granted=False, material=True, actor=make_user(Role.ADMIN))
    [choice] = [c for c in ledger.choices_for(person) if c.purpose.key == "click_tracking"]
    assert choice.needs_reconfirmation and choice.granted is False  # not assumed
    event = ledger.set_consent(person, purpose("click_tracking"), True, PORTAL)
    assert event.notice_version == 2
    assert choices(person)["click_tracking"] is True


def test_a_consent_purpose_cannot_default_to_on(make_user, db):
    email = purpose("marketing_email")
    with pytest.raises(ServiceError, match="no pre-ticked boxes"):
        update_purpose(email, name=email.name, description=email.description, default_granted=True,
                       material=False, actor=make_user(Role.ADMIN))


def assert_ledger_and_state_agree(user):
    """Every event belongs to a state; each state points at the newest event of its pair
    and says what that event says; the chain of events alternates (no no-op events)."""
    events = list(ConsentEvent.select().where(ConsentEvent.user == user.id).order_by(ConsentEvent.id))
    states = {s.purpose_id: s for s in ConsentState.select().where(ConsentState.user == user.id)}
    assert {e.purpose_id for e in events} == set(states)
    for purpose_id, state in states.items():
        mine = [e for e in events if e.purpose_id == purpose_id]
        assert state.last_event_id == mine[-1].id
        assert (state.granted, state.notice_version, state.source) == (
            mine[-1].granted, mine[-1].notice_version, mine[-1].source)
        assert all(a.granted != b.granted or a.notice_version != b.notice_version for a, b in zip(mine, mine[1:]))


OPTIONAL = ["marketing_email", "click_tracking", "open_tracking", "partner_sharing", "postal_offers"]
step = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(OPTIONAL), st.booleans(), st.sampled_from(list(ConsentSource))),
    st.tuples(st.just("stop_marketing"), st.none(), st.none(), st.none()),
    st.tuples(st.just("gpc"), st.none(), st.none(), st.none()),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, max_size=20))
def test_ledger_and_state_agree_after_any_sequence_of_changes(person, steps):
    ConsentState.delete().where(ConsentState.user == person.id).execute()
    ConsentEvent.delete().where(ConsentEvent.user == person.id).execute()
    for action, key, granted, source in steps:
        if action == "set":
            ledger.set_consent(person, purpose(key), granted, ledger.Origin(source))
        elif action == "stop_marketing":
            ledger.stop_all_marketing(person, PORTAL)
        else:
            ledger.honour_gpc(person, ledger.Origin(ConsentSource.GPC))
    assert_ledger_and_state_agree(person)


def test_concurrent_double_clicks_leave_state_equal_to_the_last_event(person, app):
    tracking = purpose("open_tracking")
    errors = []

    def click(granted):
        try:
            with app.app_context(), database.connection_context():
                for _ in range(5):
                    ledger.set_consent(person, tracking, granted, PORTAL)
                    granted = not granted
        except Exception as e:  # collected: an exception in a thread would otherwise vanish
            errors.append(e)

    threads = [threading.Thread(target=click, args=(i % 2 == 0,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert_ledger_and_state_agree(person)


def test_an_explicit_opt_in_after_gpc_stands_and_the_signal_does_not_flip_it(person):
    gpc = ledger.Origin(ConsentSource.GPC)
    assert len(ledger.honour_gpc(person, gpc)) == 1  # sharing withdrawn, with a gpc event
    ledger.set_consent(person, purpose("partner_sharing"), True, PORTAL)  # then the person opts in
    assert ledger.honour_gpc(person, gpc) == []  # the later explicit choice stands
    assert choices(person)["partner_sharing"] is True


def test_gpc_still_overrides_a_yes_recorded_before_the_signal(person):
    ledger.set_consent(person, purpose("partner_sharing"), True, PORTAL)
    [event] = ledger.honour_gpc(person, ledger.Origin(ConsentSource.GPC))
    assert event.source == "gpc" and choices(person)["partner_sharing"] is False


def test_rewording_keeps_every_notice_and_only_a_material_change_asks_again(person, make_user, app):
    from app.models import PurposeNotice
    from app.services.consent.receipts import consent_receipt
    admin = make_user(Role.ADMIN)
    tracking = purpose("click_tracking")
    original = tracking.description
    ledger.set_consent(person, tracking, True, PORTAL)
    update_purpose(tracking, name=tracking.name, description="Same meaning, clearer words.",
                   default_granted=False, material=False, actor=admin)
    assert purpose("click_tracking").notice_version == 2
    assert choices(person)["click_tracking"] is True  # a rewording asks nobody again
    update_purpose(purpose("click_tracking"), name=tracking.name, description="Now also reading time.",
                   default_granted=False, material=True, actor=admin)
    assert choices(person)["click_tracking"] is False  # a material change is not assumed
    assert [n.text for n in PurposeNotice.select().where(PurposeNotice.purpose == tracking.id)
            .order_by(PurposeNotice.version)] == [original, "Same meaning, clearer words.", "Now also reading time."]
    with app.test_request_context():
        receipt = consent_receipt(person, "http://localhost/preferences")
    [entry] = [p for p in receipt["purposes"] if p["purposeId"] == "click_tracking"]
    assert entry["events"][0]["noticeText"] == original  # what they agreed to, word for word
