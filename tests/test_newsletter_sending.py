"""Sending a newsletter issue over real SMTP, and unsubscribing from it the way a
mailbox provider does (RFC 8058 one-click) or from the page behind the footer's link."""
import re
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from itsdangerous import URLSafeSerializer

from app.db import database
from app.models import (
    ConsentEvent,
    EmailEngagement,
    IssueDelivery,
    Job,
    NewsletterIssue,
    Purpose,
    PurposeKind,
    Role,
    Unsubscribe,
)
from app.services.consent import ledger
from app.services.consent.preference_links import make_token as preferences_token
from app.services.consent.preference_links import person_for_token
from app.services.consent.suppression import is_suppressed, suppress
from app.services.newsletters import catalogue, sending, unsubscribes
from app.services.platform import jobs, mail
from app.services.platform.errors import ServiceError
from app.services.platform.links import external_url
from tests.conftest import TEST_PASSWORD
from tests.support.browser import assert_accessible, htmx_exchange, sign_in
from tests.support.forms import post_form
from tests.support.smtp import text_of

BODY = ("Hello!\n\nOur spring offer is at https://shop.example.org/spring?x=1&y=2.\n\n"
        "Read more on https://blog.example.org/post <b>now</b>.")
ONE_CLICK = "List-Unsubscribe=One-Click"


@contextmanager
def services(app):
    with app.app_context(), database.connection_context():
        yield


def subscriber(app, make_user, newsletter, email, **fields):
    person = make_user(Role.SUBJECT, email=email, **fields)
    with services(app):
        ledger.set_consent(person, newsletter.purpose, True, ledger.Origin(ledger.ConsentSource.PORTAL, person))
    return person


def allow(app, person, *keys):
    with services(app):
        for key in keys:
            ledger.set_consent(person, ledger.purpose_by_key(key), True,
                                ledger.Origin(ledger.ConsentSource.PORTAL, person))


def send(app, newsletter, sales, subject="Spring is here", body=BODY) -> NewsletterIssue:
    """Compose, send and run the job as the scheduler would."""
    with services(app):
        issue = sending.compose(newsletter, subject, body, sales)
        sending.send_issue(issue, sales)
        jobs.run_pending()
        return NewsletterIssue.get_by_id(issue.id)


def messages_to(smtp, email):
    return [m for m in smtp.messages if m["To"] == email]


def html_of(msg) -> str:
    return msg.get_body(preferencelist=("html",)).get_content()


def raw_header(msg, name) -> str:
    """The header as it travelled: not decoded, so RFC 2047 words would show."""
    return dict(msg.raw_items())[name]


def subscribed(app, person, newsletter) -> bool:
    with services(app):
        return ledger.choice_for(person, newsletter.purpose).granted


def events_of(app, person):
    with services(app):
        return [(e.purpose.key, e.granted, e.source) for e in
                ConsentEvent.select().where(ConsentEvent.user == person.id).order_by(ConsentEvent.id)]


def unsubscribe_path(app, person, newsletter) -> str:
    with services(app):
        return urlsplit(external_url("unsubscribe.page", token=unsubscribes.make_token(person, newsletter))).path


# --- the acceptance test ------------------------------------------------------------

def test_one_click_unsubscribe_from_a_real_email_and_the_next_issue_skips_the_person(
        app, smtp, sales, newsletter, make_user):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    bob = subscriber(app, make_user, newsletter, "bob@example.com")
    issue = send(app, newsletter, sales)
    assert (issue.status, issue.sent_count) == ("sent", 2)

    msg = smtp.wait_for(alice.email)
    with services(app):
        token = unsubscribes.make_token(alice, newsletter)
        url = external_url("unsubscribe.page", token=token)
    assert url == f"http://localhost/u/{token}"
    assert raw_header(msg, "List-Unsubscribe") == (
        f"<{url}>, <mailto:unsubscribe@example.com?subject=unsubscribe-{token}>")
    assert raw_header(msg, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert msg["Subject"] == "Spring is here"

    # What the provider does: POST to the header's HTTPS URI, form-encoded, no cookie.
    https_uri = re.match(r"<([^>]+)>", msg["List-Unsubscribe"]).group(1)
    provider = app.test_client(use_cookies=False)
    response = provider.post(urlsplit(https_uri).path, data=ONE_CLICK,
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and "Location" not in response.headers
    assert "unsubscribed" in response.text and "<html" not in response.text
    assert not subscribed(app, alice, newsletter)
    assert events_of(app, alice)[-1] == (newsletter.purpose.key, False, "one_click")

    again = provider.post(urlsplit(https_uri).path, data=ONE_CLICK, content_type="application/x-www-form-urlencoded")
    assert again.status_code == 200
    assert [e for e in events_of(app, alice) if e[2] == "one_click"] == [(newsletter.purpose.key, False, "one_click")]
    with services(app):
        assert [(u.newsletter_id, u.source) for u in Unsubscribe.select()] == [(newsletter.id, "one_click")]

    smtp.clear()
    second = send(app, newsletter, sales, subject="Summer is here")
    assert second.sent_count == 1
    assert messages_to(smtp, alice.email) == [] and len(messages_to(smtp, bob.email)) == 1


def test_the_footer_has_unsubscribe_manage_preferences_and_our_postal_address(app, smtp, sales, newsletter,
                                                                           make_user):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    send(app, newsletter, sales)
    msg = smtp.wait_for(alice.email)
    with services(app):
        url = external_url("unsubscribe.page", token=unsubscribes.make_token(alice, newsletter))
    html, text = html_of(msg), text_of(msg)
    # The preferences token carries its signing second, so it is read back, not rebuilt:
    # rebuilt a second later on a busy machine, it would differ and prove nothing.
    prefs = re.search(r'<a href="([^"]+)">Manage preferences</a>', html).group(1)
    with services(app):
        assert person_for_token(prefs.rsplit("/", 1)[1]).id == alice.id
        assert prefs.startswith(external_url("preferences.link_page", token="x")[:-1])
    assert f'<a href="{url}">Unsubscribe</a>' in html
    assert f"Unsubscribe: {url}" in text and f"Manage preferences: {prefs}" in text
    assert "1 Example Street" in html and "1 Example Street" in text
    assert "&lt;b&gt;now&lt;/b&gt;" in html  # sales' text is text, never markup


# --- the unsubscribe page -----------------------------------------------------------

def test_opening_the_link_changes_nothing_until_the_person_confirms(app, newsletter, make_user):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    path = unsubscribe_path(app, alice, newsletter)
    before = events_of(app, alice)
    reader = app.test_client()
    page = reader.get(path)  # as a link scanner or a prefetch would
    assert page.status_code == 200 and "Nothing changes until you press the button" in page.text
    assert reader.get(path).status_code == 200
    assert subscribed(app, alice, newsletter) and events_of(app, alice) == before

    # The page's own form: no CSRF token needed (the signed URL is the only authority).
    response = reader.post(path, data={"scope": "newsletter", "reason": "too_many"})
    assert response.status_code == 303 and response.headers["Location"] == path
    assert "you are unsubscribed from Spring news" in reader.get(path).text
    assert not subscribed(app, alice, newsletter)
    assert events_of(app, alice)[-1] == (newsletter.purpose.key, False, "email_link")
    with services(app):
        row = Unsubscribe.get()
        assert (row.newsletter_id, row.reason, row.source) == (newsletter.id, "too_many", "email_link")
        assert (row.occurred_at.hour, row.occurred_at.minute, row.occurred_at.second) == (0, 0, 0)
        assert not is_suppressed(alice.email)  # one newsletter is not an objection to all marketing


def test_a_page_post_without_a_choice_is_asked_again_and_changes_nothing(app, newsletter, make_user):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    response = app.test_client().post(unsubscribe_path(app, alice, newsletter), data={"reason": "other"})
    assert response.status_code == 400 and "Choose what to unsubscribe from" in response.text
    assert subscribed(app, alice, newsletter)


def test_all_marketing_switches_every_marketing_purpose_off_and_suppresses(app, sales, newsletter, make_user):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    with services(app):
        other = catalogue.create_newsletter("Events", "Invitations to our events and webinars.", "", False, sales)
    allow(app, alice, "click_tracking", "open_tracking")
    with services(app):
        ledger.set_consent(alice, other.purpose, True, ledger.Origin(ledger.ConsentSource.PORTAL, alice))
    response = app.test_client().post(unsubscribe_path(app, alice, newsletter),
                                      data={"scope": "all", "reason": "never_signed_up"})
    assert response.status_code == 303
    with services(app):
        marketing = Purpose.select().where(Purpose.kind.in_([PurposeKind.MARKETING.value,
                                                             PurposeKind.TRACKING.value]))
        still_on = [p.key for p in marketing if not p.locked and ledger.choice_for(alice, p).granted]
        assert still_on == []
        assert is_suppressed(alice.email)
        row = Unsubscribe.get()
        assert (row.newsletter_id, row.reason, row.source) == (None, "never_signed_up", "email_link")
    assert {e[2] for e in events_of(app, alice)[-4:]} == {"email_link"}


def test_a_forged_or_foreign_token_is_refused_politely(app, newsletter, make_user):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    with services(app):
        forged = URLSafeSerializer("not-our-secret", salt="newsletter-unsubscribe").dumps(
            {"u": alice.id, "n": newsletter.id})
        foreign = preferences_token(alice)  # signed by us, but for something else
    client = app.test_client(use_cookies=False)
    for token in (forged, foreign, "garbage"):
        page = client.get(f"/u/{token}")
        assert page.status_code == 400 and "This unsubscribe link is not valid" in page.text
        assert client.post(f"/u/{token}", data=ONE_CLICK,
                           content_type="application/x-www-form-urlencoded").status_code == 400
        assert client.post(f"/u/{token}", data={"scope": "all"}).status_code == 400
    assert subscribed(app, alice, newsletter)
    with services(app):
        assert not is_suppressed(alice.email) and Unsubscribe.select().count() == 0


# --- tracking only with consent -----------------------------------------------------

def test_tracked_links_and_the_pixel_only_for_people_who_consented(app, smtp, sales, newsletter, make_user):
    carol = subscriber(app, make_user, newsletter, "carol@example.com")
    dave = subscriber(app, make_user, newsletter, "dave@example.com")
    allow(app, carol, "click_tracking", "open_tracking")
    issue = send(app, newsletter, sales)

    plain = html_of(smtp.wait_for(dave.email))
    assert 'href="https://shop.example.org/spring?x=1&amp;y=2"' in plain
    assert 'href="https://blog.example.org/post"' in plain
    assert "/t/" not in plain and "<img" not in plain

    tracked = html_of(smtp.wait_for(carol.email))
    assert "https://shop.example.org/spring?x=1&amp;y=2</a>" in tracked  # the text still shows where it goes
    assert 'href="https://shop.example.org' not in tracked
    clicks = re.findall(r'href="http://localhost(/t/c/[^"]+)"', tracked)
    pixel = re.search(r'<img src="http://localhost(/t/o/[^"]+)" alt=""', tracked).group(1)
    assert len(clicks) == 2
    assert "/t/" not in text_of(smtp.wait_for(carol.email))  # the plain-text part is never tracked

    client = app.test_client(use_cookies=False)
    followed = client.get(clicks[0])
    assert followed.status_code == 302
    assert followed.headers["Location"] == "https://shop.example.org/spring?x=1&y=2"
    assert client.get(clicks[1]).headers["Location"] == "https://blog.example.org/post"
    opened = client.get(pixel)
    assert opened.status_code == 200 and opened.mimetype == "image/gif"

    with services(app):
        def kinds(person):
            return sorted((e.kind, e.link_url) for e in EmailEngagement.select().where(
                EmailEngagement.user == person.id, EmailEngagement.campaign == f"newsletter-issue-{issue.id}"))
        assert kinds(carol) == [("clicked", "https://blog.example.org/post"),
                                ("clicked", "https://shop.example.org/spring?x=1&y=2"), ("opened", ""), ("sent", "")]
        assert kinds(dave) == [("sent", "")]
        # Only the issue's own links: a validly signed index past them, or a forged token, leads nowhere.
        beyond = sending._tracking_token(issue, carol, 2)
        forged = URLSafeSerializer("not-our-secret", salt="newsletter-tracking").dumps({"i": issue.id, "u": carol.id,
                                                                                         "l": 0})
    assert client.get(f"/t/c/{beyond}").status_code == 404
    assert client.get(f"/t/c/{forged}?next=https://evil.example").status_code == 404
    assert client.get(f"/t/o/{forged}").status_code == 404


def test_a_click_after_tracking_consent_was_withdrawn_is_not_recorded(app, smtp, sales, newsletter, make_user):
    carol = subscriber(app, make_user, newsletter, "carol@example.com")
    allow(app, carol, "click_tracking")
    send(app, newsletter, sales)
    click = re.search(r'href="http://localhost(/t/c/[^"]+)"', html_of(smtp.wait_for(carol.email))).group(1)
    with services(app):
        ledger.set_consent(carol, ledger.purpose_by_key("click_tracking"), False,
                            ledger.Origin(ledger.ConsentSource.PORTAL, carol))
    assert app.test_client().get(click).status_code == 302  # the link still works
    with services(app):
        assert [e.kind for e in EmailEngagement.select().where(EmailEngagement.user == carol.id)] == ["sent"]


# --- who is mailed, once --------------------------------------------------------------

def test_only_consenting_active_unsuppressed_people_are_mailed(app, smtp, sales, newsletter, make_user):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    suppressed = subscriber(app, make_user, newsletter, "suppressed@example.com")
    inactive = subscriber(app, make_user, newsletter, "inactive@example.com", active=False)
    changed_mind = subscriber(app, make_user, newsletter, "changed@example.com")
    make_user(Role.SUBJECT, email="never@example.com")
    with services(app):
        suppress(suppressed.email, "import")
        issue = sending.compose(newsletter, "Spring is here", BODY, sales)
        # Unsubscribed between compose and send:
        ledger.set_consent(changed_mind, newsletter.purpose, False,
                            ledger.Origin(ledger.ConsentSource.PORTAL, changed_mind))
        sending.send_issue(issue, sales)
        jobs.run_pending()
        issue = NewsletterIssue.get_by_id(issue.id)
        assert (issue.status, issue.sent_count) == ("sent", 1)
        assert [d.user_id for d in IssueDelivery.select()] == [alice.id]
        assert [(e.user_id, e.kind) for e in EmailEngagement.select()] == [(alice.id, "sent")]
    assert [m["To"] for m in smtp.messages] == [alice.email]
    assert inactive and not messages_to(smtp, "suppressed@example.com")


def test_a_sent_issue_is_never_sent_again(app, smtp, sales, newsletter, make_user):
    subscriber(app, make_user, newsletter, "alice@example.com")
    issue = send(app, newsletter, sales)
    with services(app):
        with pytest.raises(ServiceError, match="already been sent") as refused:
            sending.send_issue(issue, sales)
        assert refused.value.status == 409
        assert Job.select().count() == 1
        jobs.run_pending()
    assert len(smtp.messages) == 1


class Killed(BaseException):
    """Stands in for SIGKILL: not an Exception, so the job runner does not catch it and
    the job is left `running`, exactly as a dead scheduler leaves it."""


def test_a_sending_job_killed_half_way_resumes_without_mailing_anyone_twice(app, smtp, sales, newsletter,
                                                                            make_user, monkeypatch):
    people = [subscriber(app, make_user, newsletter, f"p{i}@example.com") for i in range(5)]
    real_deliver, handed_over = mail.deliver, []

    def deliver_then_die_on_the_third(msg, mail_url=None, sender=None):
        real_deliver(msg, mail_url, sender)
        handed_over.append(msg["To"])
        if len(handed_over) == 3:  # the worst moment: SMTP took it, our record does not say so yet
            raise Killed()

    monkeypatch.setattr(sending, "deliver", deliver_then_die_on_the_third)
    with services(app):
        issue = sending.compose(newsletter, "Spring is here", BODY, sales)
        issue = sending.send_issue(issue, sales)
        with pytest.raises(Killed):
            jobs.run_pending()
        job = Job.get_by_id(issue.job_id)
        assert (job.status, job.progress_total) == ("running", 5)
    monkeypatch.setattr(sending, "deliver", real_deliver)
    monkeypatch.setattr(jobs, "STALE_AFTER", timedelta(seconds=-1))  # SQLite: its heartbeat counts as stopped
    with services(app):
        assert jobs.run_pending() == 1
        job, issue = Job.get_by_id(issue.job_id), NewsletterIssue.get_by_id(issue.id)
        assert (job.status, job.attempts, job.progress_done) == ("done", 2, job.progress_total)
        # The one in flight at the kill counts as unconfirmed, never as a reason to send again.
        assert (issue.status, issue.sent_count) == ("sent", 4)
    received = sorted(m["To"] for m in smtp.messages)
    assert received == sorted(p.email for p in people)  # everyone exactly once


def test_a_mailbox_that_refuses_does_not_stop_the_others(app, smtp, sales, newsletter, make_user):
    subscriber(app, make_user, newsletter, "alice@example.com")
    subscriber(app, make_user, newsletter, "gone@example.com")
    subscriber(app, make_user, newsletter, "zoe@example.com")
    smtp.refuse("gone@example.com")
    issue = send(app, newsletter, sales)
    assert (issue.status, issue.sent_count) == ("sent", 2)
    assert sorted(m["To"] for m in smtp.messages) == ["alice@example.com", "zoe@example.com"]


# --- the sales pages ----------------------------------------------------------------

def test_sales_compose_preview_and_send_from_the_pages(app, client, login_as, smtp, newsletter, make_user):
    subscriber(app, make_user, newsletter, "alice@example.com")
    login_as(Role.SALES_OPS)
    issues_url = f"/sales/newsletters/{newsletter.id}/issues"
    assert "No issues yet" in client.get(issues_url).text
    assert post_form(client, issues_url, {"subject": "", "body": ""}).status_code == 400
    created = post_form(client, issues_url, {"subject": "Spring is here", "body": BODY})
    assert created.status_code == 303
    detail_url = created.headers["Location"]
    page = client.get(detail_url).text
    assert '<a href="https://shop.example.org/spring?x=1&amp;y=2">' in page  # the preview, with plain links
    assert "About 1 people are subscribed now" in page and "Send now" in page

    send_url = detail_url + "/send"
    assert client.post(send_url).status_code == 400  # no CSRF token: refused
    sent = post_form(client, send_url, token_from=detail_url, headers={"HX-Request": "true"})
    assert sent.status_code == 200 and "<html" not in sent.text
    assert 'hx-trigger="load delay:1s"' in sent.text and "Sending: 0%" in sent.text
    assert post_form(client, send_url, token_from=detail_url).status_code == 409  # not twice

    with services(app):
        jobs.run_pending()
    done = client.get(detail_url, headers={"HX-Request": "true"}).text
    assert "<html" not in done and "Sent to 1 people" in done and "hx-trigger" not in done
    assert "Spring is here" in client.get(issues_url).text
    smtp.wait_for("alice@example.com")


def test_issue_pages_are_for_sales_only(app, client, login_as, newsletter, sales):
    with services(app):
        issue = sending.compose(newsletter, "Spring is here", BODY, sales)
    login_as(Role.SUBJECT)
    for url in (f"/sales/newsletters/{newsletter.id}/issues", f"/sales/issues/{issue.id}"):
        assert client.get(url).status_code == 403
    assert client.post(f"/sales/issues/{issue.id}/send").status_code in (400, 403)
    with services(app):
        assert NewsletterIssue.get_by_id(issue.id).status == "draft"


@pytest.mark.browser
def test_the_journey_in_a_browser_is_accessible(page, app, job_worker, smtp, sales, newsletter, make_user):
    alice = subscriber(app, make_user, newsletter, "alice@example.com")
    sign_in(page, sales.email, TEST_PASSWORD)
    page.goto(f"/sales/newsletters/{newsletter.id}/issues")
    assert_accessible(page)
    page.get_by_label("Subject").fill("Spring is here")
    page.get_by_label("Text (plain text; links starting with https:// become clickable)").fill(BODY)
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("heading", name="Preview").wait_for()
    assert_accessible(page)
    with htmx_exchange(page, "/send"):
        page.get_by_role("button", name="Send now").click()  # htmx; the progress polls until done
    page.get_by_text("Sent to 1 people").wait_for()
    assert_accessible(page)

    msg = smtp.wait_for(alice.email)
    link = re.search(r'<a href="([^"]+)">Unsubscribe</a>', html_of(msg)).group(1)
    page.goto(urlsplit(link).path)
    assert_accessible(page)
    page.get_by_label("All marketing from us", exact=False).check()
    page.get_by_label("Why? (optional)").select_option("too_many")
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_text("you will receive no more marketing emails").wait_for()
    assert_accessible(page)
    assert not subscribed(app, alice, newsletter)
    page.goto("/u/not-a-real-token")
    assert_accessible(page)


# --- Marketing email is the channel; newsletters are topics under it ----------------------

def test_switching_marketing_email_off_stops_the_newsletters_too(app, client, make_user, newsletter, sales, smtp):
    reader = subscriber(app, make_user, newsletter, "reader@example.com")
    allow(app, reader, "marketing_email")
    post_form(client, "/login", {"email": reader.email, "password": TEST_PASSWORD})
    response = post_form(client, "/preferences/marketing_email", {"granted": "0"}, token_from="/preferences",
                         headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "they are off too" in response.text
    assert 'id="purpose-' + newsletter.purpose.key + '"' in response.text and 'hx-swap-oob="true"' in response.text
    assert not subscribed(app, reader, newsletter)
    assert events_of(app, reader)[-2:] == [("marketing_email", False, "portal"),
                                           (newsletter.purpose.key, False, "portal")]
    assert send(app, newsletter, sales).sent_count == 0
    assert messages_to(smtp, "reader@example.com") == []


def test_a_newsletter_switched_on_after_marketing_email_went_off_is_sent(app, make_user, newsletter, sales, smtp):
    """Consent to one topic after the channel was switched off: that later yes stands."""
    reader = subscriber(app, make_user, newsletter, "again@example.com")
    with services(app):
        origin = ledger.Origin(ledger.ConsentSource.PORTAL, reader)
        ledger.set_consent(reader, ledger.purpose_by_key("marketing_email"), False, origin)
        ledger.set_consent(reader, newsletter.purpose, True, origin)
    assert send(app, newsletter, sales).sent_count == 1
    assert len(messages_to(smtp, "again@example.com")) == 1
