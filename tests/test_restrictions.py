"""Restriction of processing (GDPR Art. 18): a restricted person's data is stored and
not used. Each place that would use it has its own test here: the newsletter send,
open and click recording, the integration sync, the consent API (partners, trackers
and analytics ask it before acting) and the retention sweep. Restriction starts
automatically while a correction or an objection is pending, and the person is
emailed before a restriction is lifted."""
import re
from contextlib import contextmanager
from datetime import timedelta

import pytest

from app.db import database
from app.models import (
    CallLog, EmailEngagement, OutboxStatus, PrivacyRequest, RequestEvent, RequestKind, Restriction, Role,
)
from app.models.base import utcnow
from app.services.consent import ledger
from app.services.platform import outbox
from app.services.platform.errors import ServiceError
from app.services.retention import policies
from app.services.rights import dpo, restrictions
from app.services.rights.requests import cancel_request, file_request
from tests.support.forms import post_form
from tests.support.smtp import text_of
from tests.test_consent_api import ask, new_key
from tests.test_integrations import alice as alice  # noqa: F401  (the fixture: alice with contacts at the provider)
from tests.test_integrations import connect, leads_of, run_jobs, sync_now
from tests.test_newsletter_sending import allow, messages_to, send, subscriber


@contextmanager
def services(app):
    with app.app_context(), database.connection_context():
        yield


def restrict(app, person, actor):
    """The person asks for a restriction and the DPO approves it."""
    with services(app):
        request = file_request(person, RequestKind.RESTRICTION, "I dispute how you use my data.", lambda t: t,
                               notify=False)
        return dpo.approve(request.id, actor)


def restriction_of(app, person) -> Restriction | None:
    with services(app):
        return Restriction.active().where(Restriction.user == person.id).first()


def subjects_to(smtp, email) -> list[str]:
    return [m["Subject"] for m in messages_to(smtp, email)]


@pytest.fixture
def staff(make_user):
    return make_user(Role.DPO)


# --- what a restriction stops ---------------------------------------------------------

def test_an_approved_restriction_skips_the_person_in_the_next_newsletter_send(
        app, smtp, sales, newsletter, make_user, staff):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    subscriber(app, make_user, newsletter, "bob@example.com")
    approved = restrict(app, alice, staff)
    assert approved.status == "completed" and restriction_of(app, alice).reason == "request_approved"
    assert "Your data is now restricted: we store it but do not use it" in text_of(smtp.wait_for(alice.email))

    issue = send(app, newsletter, sales)
    assert issue.sent_count == 1 and messages_to(smtp, "bob@example.com")
    assert "Spring is here" not in subjects_to(smtp, alice.email)
    with services(app):
        assert ledger.choice_for(alice, newsletter.purpose).granted  # stored as it was, only not used

    restriction = restriction_of(app, alice)
    with services(app):
        restrictions.lift(restriction.id, "The dispute about your data is settled.", staff)
    notice = [m for m in messages_to(smtp, alice.email) if "lifting the restriction" in m["Subject"]]
    assert notice and "The dispute about your data is settled." in text_of(notice[0])
    send(app, newsletter, sales, subject="Summer is here")
    assert "Summer is here" in subjects_to(smtp, alice.email)  # lifted: used again


def test_opens_and_clicks_of_a_restricted_person_are_not_recorded(app, client, smtp, sales, newsletter, make_user,
                                                                   staff):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    allow(app, alice, "click_tracking", "open_tracking")
    send(app, newsletter, sales)
    html = smtp.wait_for(alice.email).get_body(preferencelist=("html",)).get_content()
    pixel = re.search(r'src="http://[^/]+(/t/o/[^"]+)"', html).group(1)
    link = re.search(r'href="http://[^/]+(/t/c/[^"]+)"', html).group(1)
    restrict(app, alice, staff)

    assert client.get(pixel).status_code == 200
    assert client.get(link).status_code == 302  # the person still reaches the link
    with services(app):
        kinds = [e.kind for e in EmailEngagement.select().where(EmailEngagement.user == alice.id)]
    assert kinds == ["sent"]


def test_the_sync_skips_a_restricted_person(app, client, provider, alice, staff):  # noqa: F811
    import jobs.sync_integrations
    connect(client, provider, alice.email)
    run_jobs(app)
    assert len(leads_of(app, alice)) == 3
    provider.add_contact(alice.email, "Eve Evans", email="eve@example.org")
    sync_now(app, alice)  # queued before the restriction: the job then does nothing
    restrict(app, alice, staff)

    run_jobs(app)
    assert jobs.sync_integrations.run(app) == 0  # the periodic sync leaves them out
    assert run_jobs(app) == 0
    assert "Eve Evans" not in [lead.name for lead in leads_of(app, alice)]

    restriction = restriction_of(app, alice)
    with services(app):
        restrictions.lift(restriction.id, "The dispute about your data is settled.", staff)
    assert jobs.sync_integrations.run(app) == 1
    run_jobs(app)
    assert "Eve Evans" in [lead.name for lead in leads_of(app, alice)]


def test_the_consent_api_answers_restricted_and_refuses_sharing_tracking_and_analytics(app, client, make_user,
                                                                                        staff):
    key = new_key(make_user)
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    allow(app, alice, "partner_sharing", "product_analytics", "click_tracking", "marketing_email")
    before = ask(client, key, alice.email).json
    assert before["restricted"] is False and before["purposes"]["partner_sharing"]["granted"] is True

    restrict(app, alice, staff)
    after = ask(client, key, alice.email).json
    assert after["restricted"] is True
    for key_ in ("partner_sharing", "product_analytics", "click_tracking", "marketing_email", "call_analysis"):
        assert after["purposes"][key_]["granted"] is False, key_
    for essential in ("security_alerts", "account_notices", "billing"):
        assert after["purposes"][essential]["granted"] is True, essential
    assert after["purposes"]["partner_sharing"]["source"] == "portal"  # the choice itself is kept


def test_the_retention_sweep_neither_anonymises_nor_deletes_a_restricted_persons_rows(app, make_user, staff):
    alice, bob = make_user(Role.SUBJECT), make_user(Role.SUBJECT)
    now = utcnow()
    with services(app):
        period = timedelta(days=policies.policy("Call logs").row.days + 1)
        old = {p.id: CallLog.create(owner=p.id, number="+44 20 7946 0000", direction="inbound", caller_id="A",
                                    called_at=now - period).id for p in (alice, bob)}
    restrict(app, alice, staff)
    with services(app):
        for action in ("anonymise", "delete"):
            policies.update_policy("Call logs", policies.policy("Call logs").row.days, action, ["number"], "",
                                   True, staff)
            policies.sweep(policies.start_run("cli", queued=False), now=now)
            kept = CallLog.get_or_none(CallLog.id == old[alice.id])
            assert kept is not None and kept.owner_id == alice.id and kept.number == "+44 20 7946 0000", action
        assert CallLog.get_or_none(CallLog.id == old[bob.id]) is None  # anonymised, then deleted

        restrictions.lift(Restriction.get(Restriction.user == alice.id).id, "The dispute is settled now.", staff)
        policies.sweep(policies.start_run("cli", queued=False), now=now)
        assert CallLog.get_or_none(CallLog.id == old[alice.id]) is None  # the next sweep catches up


# --- automatic restriction while pending --------------------------------------------

def test_a_correction_restricts_until_it_is_carried_out_and_its_email_says_so_first(app, smtp, make_user, staff):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    with services(app):
        request = file_request(alice, RequestKind.RECTIFICATION, "My surname is Smyth.", lambda t: t, notify=False)
        assert restrictions.is_restricted(alice)
        assert restrictions.restrictions_of(alice)[0].reason == "rectification_pending"
        dpo.approve(request.id, staff)
        assert restrictions.is_restricted(alice)  # approved, not yet corrected: still contested
        dpo.complete(request.id, staff)
        assert not restrictions.is_restricted(alice)
        lifted = Restriction.get(Restriction.request == request.id)
        notes = [e.note for e in RequestEvent.select().where(RequestEvent.request == request.id)]
    done = [m for m in messages_to(smtp, alice.email) if "Your request is done" in m["Subject"]]
    assert restrictions.ENDS_WITH_DECISION in text_of(done[0])
    assert lifted.lift_notice_sent_at is not None and lifted.lifted_at >= lifted.lift_notice_sent_at
    assert restrictions.WHILE_PENDING in notes and any("decision email told the person" in n for n in notes)


def test_until_the_decision_email_is_delivered_the_restriction_stays(app, make_user, staff, smtp, mail_down):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    with services(app):
        request = file_request(alice, RequestKind.RECTIFICATION, "My surname is Smyth.", lambda t: t, notify=False)
        with mail_down():
            denied = dpo.deny(request.id, "We checked the register: the spelling on file is right.", staff)
        assert denied.told is False and restrictions.is_restricted(alice)
        assert outbox.deliver_due(utcnow() + outbox.RETRY_FIRST) == 1  # the server is back
        assert not restrictions.is_restricted(alice)
    assert restrictions.ENDS_WITH_DECISION in text_of(smtp.wait_for(alice.email))


def test_a_decision_email_refused_for_good_leaves_the_restriction(app, make_user, staff, smtp):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    smtp.refuse(alice.email)
    with services(app):
        request = file_request(alice, RequestKind.RECTIFICATION, "My surname is Smyth.", lambda t: t, notify=False)
        denied = dpo.deny(request.id, "We checked the register: the spelling on file is right.", staff)
        assert denied.mail_status is OutboxStatus.FAILED and restrictions.is_restricted(alice)
        notes = [e.note for e in RequestEvent.select().where(RequestEvent.request == request.id)]
    assert any("could not be sent: tell the person another way" in n and "restriction stays" in n for n in notes)


def test_cancelling_a_pending_objection_ends_its_restriction(app, make_user):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    with services(app):
        request = file_request(alice, RequestKind.OBJECTION, "", lambda t: t, notify=False,
                               processing="call_analysis")
        assert restrictions.restrictions_of(alice)[0].reason == "objection_pending"
        cancel_request(alice, request.id)
        assert not restrictions.is_restricted(alice)


def test_a_restriction_request_itself_waits_for_the_dpo(app, make_user):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    with services(app):
        file_request(alice, RequestKind.RESTRICTION, "Please", lambda t: t, notify=False)
        assert not restrictions.is_restricted(alice)


# --- lifting: the person is told first ------------------------------------------------

def test_a_lift_waits_for_its_notice_to_be_delivered(app, make_user, staff, smtp, mail_down):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    restrict(app, alice, staff)
    restriction = restriction_of(app, alice)
    with services(app):
        with mail_down():
            queued = restrictions.lift(restriction.id, "The dispute about your data is settled.", staff)
        assert queued.notice is OutboxStatus.PENDING and restrictions.is_restricted(alice)
        with pytest.raises(ServiceError, match="already on its way"):  # no second notice meanwhile
            restrictions.lift(restriction.id, "The dispute about your data is settled.", staff)
        smtp.clear()
        assert outbox.deliver_due(utcnow() + outbox.RETRY_FIRST) == 1
        lifted = Restriction.get_by_id(restriction.id)
        assert not restrictions.is_restricted(alice) and lifted.lifted_by == staff.email
        assert lifted.lift_notice_sent_at is not None
    assert [m["Subject"] for m in smtp.messages] == ["We are lifting the restriction on your data"]


def test_a_lift_whose_notice_is_refused_leaves_the_person_restricted(app, make_user, staff, smtp):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    restrict(app, alice, staff)
    smtp.refuse(alice.email)
    restriction = restriction_of(app, alice)
    with services(app):
        with pytest.raises(ServiceError, match="must be told first"):
            restrictions.lift(restriction.id, "The dispute about your data is settled.", staff)
        assert restrictions.is_restricted(alice)
        assert Restriction.get_by_id(restriction.id).lift_reason == ""  # a new lift may be asked for


def test_the_dpo_sees_who_is_restricted_and_why_and_lifts_after_a_confirmation(app, client, login_as, smtp,
                                                                              make_user):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    with services(app):
        objection = file_request(alice, RequestKind.OBJECTION, "", lambda t: t, notify=False,
                                 processing="ai_improvement")
    login_as(Role.DPO)
    page = client.get("/dpo/restrictions").text
    assert "alice@example.com" in page and "An objection is being weighed" in page
    assert f'href="/dpo/requests/{objection.id}"' in page
    assert "Restrictions" in client.get("/dpo/").text  # in the DPO's navigation

    restriction = restriction_of(app, alice)
    path = f"/dpo/restrictions/{restriction.id}/lift"
    confirm = client.get(path).text
    assert "we email alice@example.com that the restriction ends" in confirm
    assert restriction_of(app, alice) is not None  # the confirmation page changed nothing
    short = post_form(client, path, {"reason": "done"}, token_from=path)
    assert short.status_code == 400 and "Write the reason out" in short.text
    lifted = post_form(client, path, {"reason": "You withdrew the objection by phone."}, token_from=path,
                       follow_redirects=True)
    assert "was emailed that the restriction ends, and it was lifted" in lifted.text
    assert "Nobody is restricted." in lifted.text
    assert "You withdrew the objection by phone." in text_of(smtp.wait_for(alice.email))
    with services(app):
        notes = [e.note for e in RequestEvent.select().where(RequestEvent.request == objection.id)]
    assert any("emailed that it ends (GDPR Art. 18(3))" in n for n in notes)
    assert client.get(path).status_code == 404  # lifted already


def test_people_other_than_staff_cannot_see_or_lift_restrictions(app, client, login_as, make_user, staff):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    restrict(app, alice, staff)
    restriction = restriction_of(app, alice)
    login_as(Role.SUBJECT)
    assert client.get("/dpo/restrictions").status_code == 403
    assert client.get(f"/dpo/restrictions/{restriction.id}/lift").status_code == 403
    refused = post_form(client, f"/dpo/restrictions/{restriction.id}/lift", {"reason": "I lift my own, please."},
                        token_from="/requests/")
    assert refused.status_code == 403 and restriction_of(app, alice) is not None


def test_the_request_page_shows_the_restriction(app, client, login_as, make_user):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    with services(app):
        request = file_request(alice, RequestKind.RECTIFICATION, "My surname is Smyth.", lambda t: t, notify=False)
    login_as(Role.DPO)
    page = client.get(f"/dpo/requests/{request.id}").text
    assert "A correction is pending (accuracy contested) since" in page
    with services(app):
        assert PrivacyRequest.get_by_id(request.id).status == "pending_review"


def test_a_lead_about_a_restricted_person_is_not_pushed_to_the_provider(app, client, provider, alice, staff,  # noqa: F811
                                                                         make_user):
    """Restriction covers the rows about the person that customers keep, not only their
    account: a customer's two-way sync copies their other typed contacts out, not this one."""
    from app.models import Lead
    dana = make_user(Role.SUBJECT, email="dana@example.org")
    with services(app):
        Lead.create(owner=alice.id, name="Dana Okafor", email="Dana@Example.org")
        Lead.create(owner=alice.id, name="Frank Fields", email="frank@example.org")
    restrict(app, dana, staff)
    connect(client, provider, alice.email, direction="two_way")
    run_jobs(app)
    pushed = [c["name"] for c in provider.contacts_of(alice.email)]
    assert "Frank Fields" in pushed and "Dana Okafor" not in pushed

    restriction = restriction_of(app, dana)
    with services(app):
        restrictions.lift(restriction.id, "The dispute about your data is settled.", staff)
    sync_now(app, alice)
    run_jobs(app)
    assert "Dana Okafor" in [c["name"] for c in provider.contacts_of(alice.email)]
