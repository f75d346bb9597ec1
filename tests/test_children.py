"""Children: the age of digital consent, a parent's consent for a child, and a
parent's report of a child's data (an expedited erasure in the DPO queue)."""
import re
from datetime import date, timedelta

import pytest

from app.db import database
from app.models import ConsentEvent, PrivacyRequest, Profile, Role, SubscriberImport, User
from app.models.base import utcnow
from app.models.consent import ConsentSource
from app.services.accounts.api_keys import consent_status
from app.services.consent import age, children, ledger
from app.services.platform import jobs
from app.services.platform.errors import ServiceError
from app.services.rights import child_reports
from tests.support.forms import post_form
from tests.support.smtp import text_of

PARENT_LINK = re.compile(r"http://localhost(/parent-consent/\S+)")
REPORT_LINK = re.compile(r"http://localhost(/report-a-child/confirm/\S+)")


def born_years_ago(years: int, days: int = 10) -> date:
    today = utcnow().date()
    return today.replace(year=today.year - years) - timedelta(days=days)


def make_child(make_user, years=14, country="DE", email=None, **fields):
    child = make_user(Role.SUBJECT, email=email or f"child{years}{country.lower()}@example.com", **fields)
    with database.connection_context():
        Profile.create(user=child, country=country, birth_date=born_years_ago(years))
    return child


# --- the age rules -----------------------------------------------------------------

def test_the_age_of_consent_is_16_by_default_and_the_countrys_own_where_it_sets_one(db):
    assert age.consent_age("DE") == 16 and age.consent_age("") == 16 and age.consent_age(None) == 16
    assert age.consent_age("GB") == 13 and age.consent_age("us") == 13
    assert age.consent_age("FR") == 15 and age.consent_age("IT") == 14
    assert age.consent_age("IN") == 18  # DPDP Act s.9: everyone under 18


def test_the_configured_default_age_applies_where_no_country_rule_does(app, db):
    app.config["CHILD_CONSENT_AGE"] = "13"
    assert age.consent_age("NL") == 13 and age.consent_age("GB") == 13 and age.consent_age("IN") == 18


def test_a_declared_age_grows_by_a_year_every_year(db):
    today = date(2026, 6, 1)
    profile = Profile(declared_age=14, declared_age_on=date(2024, 5, 1))
    assert age.age_of(profile, today) == 16
    assert age.age_of(Profile(), today) is None  # nothing told: treated as an adult
    assert age.age_of(Profile(birth_date=date(2010, 6, 2)), today) == 15


def test_an_age_cell_is_a_date_or_a_number_of_years_and_anything_else_says_why(db):
    assert age.parse_age("2012-02-29").birth_date == date(2012, 2, 29)
    assert age.parse_age(" 15 ").declared_age == 15
    assert age.parse_age("") is None
    for bad, says in (("30/04/2010", "not a date like 2010-04-30"), ("2010-02-30", "not a date"),
                      ("3000-01-01", "in the future"), ("150", "not an age in years")):
        with pytest.raises(ServiceError, match=says):
            age.parse_age(bad)


# --- consent below the age of consent ----------------------------------------------------

def test_a_child_cannot_give_consent_and_the_api_reports_it_refused(db, make_user):
    child = make_child(make_user, 14, "DE")
    marketing = ledger.purpose_by_key("marketing_email")
    with pytest.raises(ServiceError, match="consent of a parent or guardian") as refused:
        ledger.set_consent(child, marketing, True, ledger.Origin(ConsentSource.PORTAL, actor=child))
    assert refused.value.status == 403
    answer = consent_status(child.email)["purposes"]
    assert answer["marketing_email"]["granted"] is False
    assert answer["marketing_email"]["parental_consent_required"] is True
    assert answer["security_alerts"]["granted"] is True  # essential mail is no consent


def test_a_consent_recorded_before_the_age_was_known_stops_counting(db, make_user):
    person = make_user(Role.SUBJECT, email="young@example.com")
    marketing = ledger.purpose_by_key("marketing_email")
    ledger.set_consent(person, marketing, True, ledger.Origin(ConsentSource.PORTAL, actor=person))
    assert ledger.choice_for(person, marketing).granted
    age.record_birth_date(person, born_years_ago(12))
    assert not ledger.choice_for(person, marketing).granted
    assert consent_status(person.email)["purposes"]["marketing_email"]["granted"] is False


def test_a_13_year_old_in_the_uk_decides_alone_and_one_in_germany_does_not(db, make_user):
    uk, de = make_child(make_user, 13, "GB"), make_child(make_user, 13, "DE")
    analytics = ledger.purpose_by_key("product_analytics")
    assert ledger.toggle(uk, analytics, True, ledger.Origin(ConsentSource.PORTAL, actor=uk)).granted
    with pytest.raises(ServiceError):
        ledger.toggle(de, analytics, True, ledger.Origin(ConsentSource.PORTAL, actor=de))


def test_a_parents_consent_from_the_emailed_link_is_in_the_ledger_with_their_address(app, client, make_user, smtp):
    child = make_child(make_user, 14, "DE", email="kid@example.com", name="Kim")
    with app.test_request_context(), database.connection_context():
        children.ask_parent(child, ledger.purpose_by_key("marketing_email"), "Mum@Example.com",
                            lambda token: f"http://localhost/parent-consent/{token}")
    mail = text_of(smtp.wait_for("mum@example.com"))
    assert "Kim" in mail and "Marketing email" in mail
    path = PARENT_LINK.search(mail).group(1)
    page = client.get(path)
    assert page.status_code == 200 and "I am their parent or guardian and I agree" in page.text
    with database.connection_context():
        assert not ledger.choice_for(child, ledger.purpose_by_key("marketing_email")).granted  # a GET changes nothing
    assert post_form(client, path).status_code == 200
    with database.connection_context():
        marketing = ledger.purpose_by_key("marketing_email")
        assert ledger.choice_for(child, marketing).granted
        event = ConsentEvent.select().where(ConsentEvent.user == child.id).order_by(ConsentEvent.id.desc()).get()
        assert (event.source, event.actor_label, event.granted) == ("parent", "mum@example.com", True)
        # The child may still withdraw; a later yes of their own does not count.
        ledger.toggle(child, marketing, False, ledger.Origin(ConsentSource.PORTAL, actor=child))
        with pytest.raises(ServiceError):
            ledger.toggle(child, marketing, True, ledger.Origin(ConsentSource.PORTAL, actor=child))


def test_a_forged_parent_link_is_refused_and_an_adult_cannot_ask_a_parent(app, client, make_user):
    assert client.get("/parent-consent/forged").status_code == 400
    adult = make_user(Role.SUBJECT)
    with app.test_request_context(), database.connection_context():
        with pytest.raises(ServiceError, match="decide this yourself"):
            children.ask_parent(adult, ledger.purpose_by_key("marketing_email"), "p@example.com", str)


def test_the_childs_preferences_page_explains_and_offers_to_ask_a_parent(client, login_as, smtp):
    child = login_as(Role.SUBJECT, email="pupil@example.com")
    with database.connection_context():
        Profile.create(user=child, country="FR", birth_date=born_years_ago(12))
    page = client.get("/preferences").text
    assert "stays off until a parent or guardian agrees" in page
    assert 'href="/preferences/ask-parent/marketing_email"' in page
    assert "/preferences/ask-parent/security_alerts" not in page  # essential: nobody's consent
    ask = client.get("/preferences/ask-parent/marketing_email")
    assert "Below 15, the law lets only a parent" in ask.text
    bad = post_form(client, "/preferences/ask-parent/marketing_email", {"parent_email": "pupil@example.com"})
    assert bad.status_code == 400 and "not yours" in bad.text
    sent = post_form(client, "/preferences/ask-parent/marketing_email", {"parent_email": "dad@example.com"})
    assert sent.status_code == 303
    assert "/parent-consent/" in text_of(smtp.wait_for("dad@example.com"))


def test_the_portal_asks_for_the_date_of_birth_until_it_is_given(client, login_as):
    person = login_as(Role.SUBJECT)
    assert "How old are you?" in client.get("/portal/").text
    future = post_form(client, "/about-you/birth-date", {"birth_date": "2999-01-01"}, token_from="/portal/")
    assert future.status_code == 303
    assert "in the future" in client.get("/portal/").text
    saved = post_form(client, "/about-you/birth-date", {"birth_date": "1990-04-30"}, token_from="/portal/")
    assert saved.status_code == 303
    assert "How old are you?" not in client.get("/portal/").text
    with database.connection_context():
        assert Profile.get(Profile.user == person.id).birth_date == date(1990, 4, 30)


# --- a parent's report -------------------------------------------------------------------

def _report(client, child_email, parent="parent@example.com"):
    return post_form(client, "/report-a-child", {"parent_email": parent, "relationship": "parent",
                                                 "child_email": child_email, "details": "She is 12."})


def test_the_report_form_answers_the_same_whether_or_not_the_child_is_known(client, make_user, smtp):
    make_child(make_user, 12, "DE", email="known.child@example.com")
    known = _report(client, "known.child@example.com", "one@example.com")
    unknown = _report(client, "nobody@example.com", "two@example.com")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"]
    assert client.get(known.headers["Location"]).text == client.get(unknown.headers["Location"]).text
    # Each parent gets the same confirmation mail, and nothing is filed before they confirm.
    for parent in ("one@example.com", "two@example.com"):
        assert "/report-a-child/confirm/" in text_of(smtp.wait_for(parent))
    with database.connection_context():
        assert PrivacyRequest.select().count() == 0


def test_the_report_form_needs_its_csrf_token_and_says_what_is_wrong(client):
    assert client.post("/report-a-child", data={"parent_email": "p@example.com", "relationship": "parent",
                                                "child_email": "c@example.com"}).status_code == 400
    bad = post_form(client, "/report-a-child", {"parent_email": "p@example.com", "child_email": "not-an-email"})
    assert bad.status_code == 400
    assert "Enter an email address like name@example.com." in bad.text
    assert "Say whether you are the child&#39;s parent or guardian." in bad.text


def test_a_confirmed_report_is_an_expedited_erasure_first_in_the_dpo_queue(client, make_user, smtp, login_as):
    child = make_child(make_user, 12, "DE", email="reported@example.com")
    with database.connection_context():
        later = PrivacyRequest.create(user=make_user(Role.SUBJECT), kind="restriction", status="pending_review",
                                      jurisdiction="GDPR", received_at=utcnow(), due_at=utcnow() + timedelta(days=2))
    _report(client, "reported@example.com")
    path = REPORT_LINK.search(text_of(smtp.wait_for("parent@example.com"))).group(1)
    assert "reported@example.com" in client.get(path).text
    assert "with our privacy team" in post_form(client, path).text
    post_form(client, path)  # a second click files nothing more
    with database.connection_context():
        request = PrivacyRequest.get(PrivacyRequest.user == child.id)
        assert PrivacyRequest.select().where(PrivacyRequest.user == child.id).count() == 1
        assert (request.kind, request.status, request.channel) == ("deletion", "pending_review", "parent_report")
        assert request.cooling_off_until is None
        assert timedelta(days=6) < request.due_at - request.received_at <= timedelta(days=7)
        assert "parent@example.com" in request.events[0].actor_label
    login_as(Role.DPO)
    queue = client.get("/dpo/requests").text
    assert "Reports about children: handle these first" in queue
    assert queue.index(f"#{request.id} Erase my data") < queue.index(f"#{later.id} ")
    assert "Parent's report: a child" in queue
    detail = client.get(f"/dpo/requests/{request.id}").text
    assert "report about a child" in detail


def test_a_report_takes_over_the_childs_own_erasure_in_cooling_off(db, make_user):
    child = make_child(make_user, 12, "DE", email="cooling@example.com")
    now = utcnow()
    own = PrivacyRequest.create(user=child, kind="deletion", status="cooling_off", jurisdiction="GDPR",
                                received_at=now, due_at=now + timedelta(days=30), confirmed_at=now,
                                cooling_off_until=now + timedelta(days=14))
    token = child_reports.REPORT_LINK.make({"parent_email": "p@example.com", "child_email": "cooling@example.com",
                                            "relationship": "guardian", "details": ""})
    moved = child_reports.confirm_report(token)
    assert moved.id == own.id and moved.status == "pending_review" and moved.channel == "parent_report"
    assert moved.due_at <= now + timedelta(days=7)


def test_a_report_about_an_unknown_address_files_nothing(db):
    token = child_reports.REPORT_LINK.make({"parent_email": "p@example.com", "child_email": "ghost@example.com",
                                            "relationship": "parent", "details": ""})
    assert child_reports.confirm_report(token) is None
    assert PrivacyRequest.select().count() == 0


def test_a_forged_report_link_is_refused(client):
    response = client.get("/report-a-child/confirm/forged")
    assert response.status_code == 400 and "not valid" in response.text


def test_the_privacy_notice_and_the_footer_link_the_report_form(client):
    notice = client.get("/privacy").text
    assert notice.count('href="/report-a-child"') >= 2  # the children section and the footer
    assert client.get("/report-a-child").status_code == 200


# --- imports --------------------------------------------------------------------------------

def test_an_import_keeps_birth_dates_skips_children_and_rejects_bad_dates_by_line(db, make_user):
    import io

    from app.services.newsletters import catalogue, subscriber_import
    staff = make_user(Role.SALES_OPS)
    newsletter = catalogue.create_newsletter("Teen news", "News about our products, once a month.", "News", False, staff)
    data = "\n".join([
        "email,consent_evidence,birth_date",
        f"adult@example.com,Fair,{born_years_ago(30).isoformat()}",
        f"child@example.com,Fair,{born_years_ago(12).isoformat()}",
        "declared@example.com,Fair,17",
        "young@example.com,Fair,9",
        "bad@example.com,Fair,30/04/2010",
        "nodate@example.com,Fair,",
    ]).encode() + b"\n"
    imp = subscriber_import.receive_upload(newsletter, io.BytesIO(data), "s.csv", staff)
    mapping = imp.mapping_dict()
    assert mapping["birth"] == 2  # guessed from the header
    preview = subscriber_import.plan_import(imp, mapping["email"], mapping["evidence"], mapping["name"],
                                            mapping["birth"])
    assert preview["counts"]["child"] == 2 and preview["counts"]["import"] == 3
    assert [r[:2] for r in preview["rejected"]] == [
        [6, "birth date “30/04/2010” is not a date like 2010-04-30, nor an age in years"]]
    subscriber_import.start_import(SubscriberImport.get_by_id(imp.id), staff)
    jobs.run_pending()
    assert User.by_email("child@example.com") is None  # nothing stored of a skipped child
    adult = Profile.get(Profile.user == User.by_email("adult@example.com").id)
    assert adult.birth_date == born_years_ago(30)
    declared = Profile.get(Profile.user == User.by_email("declared@example.com").id)
    assert (declared.declared_age, declared.declared_age_on) == (17, utcnow().date())
    assert not Profile.select().where(Profile.user == User.by_email("nodate@example.com").id).exists()


def test_the_dpos_approval_of_a_report_erases_the_childs_account(app, db, make_user, smtp):
    from app.services.rights import dpo
    child = make_child(make_user, 12, "DE", email="erase.me@example.com")
    token = child_reports.REPORT_LINK.make({"parent_email": "p@example.com", "child_email": "erase.me@example.com",
                                            "relationship": "parent", "details": ""})
    request = child_reports.confirm_report(token)
    with app.test_request_context():
        dpo.approve(request.id, make_user(Role.DPO))
        jobs.run_pending()
    assert PrivacyRequest.get_by_id(request.id).status == "completed"
    assert User.by_email("erase.me@example.com") is None
    assert not Profile.select().where(Profile.user == child.id).exists()
