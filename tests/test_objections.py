"""Objection (GDPR Art. 21) per processing: the person chooses what they object to;
direct marketing stops at once (absolute); the others wait for the DPO, whose
approval stops exactly that processing and whose refusal needs compelling grounds.
The decision email and the timeline say what stopped."""
import re
from contextlib import contextmanager

import pytest

from app.db import database
from app.models import ConsentEvent, PrivacyRequest, RequestEvent, RequestKind, Role
from app.services.consent import ledger
from app.services.consent.suppression import is_suppressed
from app.services.rights import dpo, objections, restrictions
from app.services.rights.requests import file_request
from tests.support.forms import post_form
from tests.support.smtp import text_of
from tests.test_consent_api import ask, new_key
from tests.test_newsletter_sending import allow, messages_to

CALLS_STOPPED = "Analysis of recorded calls stopped; your marketing choices are unchanged."


@contextmanager
def services(app):
    with app.app_context(), database.connection_context():
        yield


@pytest.fixture
def alice(login_as):
    """Signed in to the client (fresh login: she may file requests)."""
    return login_as(Role.SUBJECT, email="alice@example.com")


def object_to(client, processing, details=""):
    return post_form(client, "/requests/", {"kind": "objection", "processing": processing, "details": details},
                     token_from="/requests/")


def the_objection(app, person) -> PrivacyRequest:
    with services(app):
        return (PrivacyRequest.select().where(PrivacyRequest.user == person.id,
                                              PrivacyRequest.kind == RequestKind.OBJECTION.value)
                .order_by(PrivacyRequest.id.desc()).first())


def timeline(app, request) -> list[str]:
    with services(app):
        return [e.note for e in RequestEvent.select().where(RequestEvent.request == request.id)
                .order_by(RequestEvent.id)]


def test_the_form_offers_each_processing_as_a_radio_and_requires_a_choice(app, client, alice):
    page = client.get("/requests/").text
    assert "<legend>If you object: what do you object to?</legend>" in page
    for label in ("Direct marketing by any channel", "Profiling: analysis of how you use our product",
                  "Analysis of recorded calls", "Improving AI models with your service data",
                  "Sharing your details with reselling partners", "Something else we do on legitimate interest"):
        assert label in page, label
    assert len(re.findall(r'<input[^>]*name="processing"[^>]*type="radio"', page)) >= 6

    missing = post_form(client, "/requests/", {"kind": "objection"}, token_from="/requests/")
    assert missing.status_code == 400 and "Choose what you object to." in missing.text
    unknown = object_to(client, "mind_reading")
    assert unknown.status_code == 400 and "Choose what you object to from the list." in unknown.text
    vague = object_to(client, "other")
    assert vague.status_code == 400 and "Say in the details which processing you object to" in vague.text
    assert the_objection(app, alice) is None
    # Other kinds need no choice.
    assert post_form(client, "/requests/", {"kind": "restriction"}, token_from="/requests/").status_code == 303


def test_an_objection_to_direct_marketing_takes_effect_at_once(app, client, smtp, alice):
    allow(app, alice, "marketing_email", "sms_marketing", "click_tracking", "call_analysis")
    response = object_to(client, "direct_marketing")
    assert response.status_code == 303
    request = the_objection(app, alice)
    assert request.status == "completed" and request.processing == "direct_marketing"
    with services(app):
        choices = {c.purpose.key: c.granted for c in ledger.choices_for(alice)}
        assert is_suppressed(alice.email) and not restrictions.is_restricted(alice)  # nothing left to weigh
    assert not choices["marketing_email"] and not choices["sms_marketing"] and not choices["click_tracking"]
    assert choices["call_analysis"] and choices["billing"]  # not marketing: untouched
    assert objections.MARKETING.stopped in timeline(app, request)
    mail = text_of(smtp.wait_for(alice.email))
    assert "carried out at once" in mail and "All direct marketing from us" in mail
    assert "Objection recorded and carried out" in client.get("/requests/").text


def test_an_approved_objection_to_call_analysis_stops_it_and_leaves_marketing_alone(app, client, smtp, alice,
                                                                                     make_user):
    key = new_key(make_user)
    allow(app, alice, "marketing_email", "call_analysis", "ai_improvement")
    object_to(client, "call_analysis", "I never agreed to be coached on my calls.")
    request = the_objection(app, alice)
    assert request.status == "pending_review"
    with services(app):
        assert restrictions.is_restricted(alice)  # while the DPO weighs it
    assert ask(client, key, alice.email).json["purposes"]["call_analysis"]["granted"] is False

    staff = make_user(Role.DPO)
    with services(app):
        approved = dpo.approve(request.id, staff)
        withdrawal = (ConsentEvent.select().join(ConsentEvent.purpose.rel_model)
                      .where(ConsentEvent.user == alice.id).order_by(ConsentEvent.id.desc()).first())
        assert not restrictions.is_restricted(alice)
    assert approved.status == "completed"
    assert (withdrawal.purpose.key, withdrawal.granted, withdrawal.source, withdrawal.actor_id) == (
        "call_analysis", False, "staff", staff.id)

    answer = ask(client, key, alice.email).json
    assert answer["restricted"] is False
    assert answer["purposes"]["call_analysis"].items() >= {"granted": False, "objected": True}.items()
    assert answer["purposes"]["marketing_email"]["granted"] is True  # exactly that processing stopped
    assert answer["purposes"]["ai_improvement"].items() >= {"granted": True, "objected": False}.items()
    assert CALLS_STOPPED in timeline(app, request)
    decided = [m for m in messages_to(smtp, alice.email) if "approved" in m["Subject"]]
    assert CALLS_STOPPED in text_of(decided[0]) and restrictions.ENDS_WITH_DECISION in text_of(decided[0])


def test_the_persons_own_later_yes_ends_the_objection(app, client, alice, make_user):
    key = new_key(make_user)
    object_to(client, "partner_sharing", "")
    request, staff = the_objection(app, alice), make_user(Role.DPO)
    with services(app):
        dpo.approve(request.id, staff)
    assert ask(client, key, alice.email).json["purposes"]["partner_sharing"]["objected"] is True
    allow(app, alice, "partner_sharing")
    assert ask(client, key, alice.email).json["purposes"]["partner_sharing"].items() >= {"granted": True,
                                                                                       "objected": False}.items()


def test_refusing_an_objection_needs_compelling_grounds_kept_on_the_request(app, client, login_as, smtp,
                                                                           make_user):
    person = make_user(Role.SUBJECT, email="bob@example.com")
    with services(app):
        request = file_request(person, RequestKind.OBJECTION, "", lambda t: t, notify=False,
                               processing="product_analytics")
    login_as(Role.DPO)
    path = f"/dpo/requests/{request.id}"
    page = client.get(path).text
    assert "Profiling: analysis of how you use our product" in page and "Compelling legitimate grounds" in page
    reason = "We have compelling legitimate grounds that override your interests (GDPR Art. 21(1))."
    without = post_form(client, f"{path}/deny", {"reason": reason}, token_from=path)
    assert without.status_code == 400 and "compelling legitimate grounds that override" in without.text
    with services(app):
        assert PrivacyRequest.get_by_id(request.id).status == "pending_review"

    grounds = "Usage analytics are needed to detect account takeover across our fleet."
    post_form(client, f"{path}/deny", {"reason": reason, "grounds": grounds}, token_from=path)
    with services(app):
        denied = PrivacyRequest.get_by_id(request.id)
        assert not restrictions.is_restricted(person)
    assert (denied.status, denied.compelling_grounds) == ("denied", grounds)
    assert any(grounds in note for note in timeline(app, denied))
    mail = text_of(smtp.wait_for("bob@example.com"))
    assert grounds in mail and "supervisory authority" in mail
    assert grounds in client.get(path).text


def test_something_else_is_approved_then_carried_out_by_the_privacy_team(app, client, alice, make_user):
    object_to(client, "other", "Stop using my location check-ins for route planning.")
    request = the_objection(app, alice)
    staff = make_user(Role.DPO)
    with services(app):
        assert dpo.approve(request.id, staff).status == "approved"
        assert restrictions.is_restricted(alice)  # until the privacy team has stopped it
        assert dpo.complete(request.id, staff).status == "completed"
        assert not restrictions.is_restricted(alice)


def test_objections_to_different_processing_are_separate_requests(app, client, alice):
    object_to(client, "call_analysis")
    object_to(client, "ai_improvement")
    object_to(client, "call_analysis")  # the same one again: the open one stands
    with services(app):
        kinds = sorted(p for (p,) in PrivacyRequest.select(PrivacyRequest.processing)
                       .where(PrivacyRequest.user == alice.id).tuples())
    assert kinds == ["ai_improvement", "call_analysis"]
    page = client.get("/requests/").text
    assert "You object to: Analysis of recorded calls" in page


def test_an_objection_filed_before_the_choice_existed_is_carried_out_as_direct_marketing(app, make_user):
    person, staff = make_user(Role.SUBJECT), make_user(Role.DPO)
    with services(app):
        request = file_request(person, RequestKind.RESTRICTION, "", lambda t: t, notify=False)
        PrivacyRequest.update(kind="objection").where(PrivacyRequest.id == request.id).execute()
        dpo.approve(request.id, staff)
        assert is_suppressed(person.email)
        assert objections.MARKETING.stopped in [e.note for e in RequestEvent.select()
                                                .where(RequestEvent.request == request.id)]
