"""Newsletters: sales creates them, people confirm their own sign-up (double opt-in),
the suppression list holds against staff, and each subscriber carries the proof."""
import re
from datetime import timedelta

import pytest

from app.db import database
from app.models import ConsentEvent, Newsletter, PendingSubscription, Role, User
from app.models.base import utcnow
from app.services.consent.suppression import is_suppressed, suppress
from app.services.newsletters import catalogue
from tests.support.forms import post_form
from tests.support.smtp import text_of

CONFIRM = re.compile(r"http://localhost(/newsletters/confirm/\S+)")
WEEKLY = {"name": "Product updates", "description": "A short email each month about what is new in the CRM.",
          "topic": "Product", "double_opt_in": "y"}


@pytest.fixture
def newsletter(client, login_as):
    login_as(Role.SALES_OPS)
    response = post_form(client, "/sales/newsletters/new", WEEKLY)
    assert response.status_code == 303
    with database.connection_context():
        return Newsletter.select().order_by(Newsletter.id.desc()).first()


def sign_up(client, newsletter, email, evidence="Signed up at the trade fair, 3 May."):
    return post_form(client, f"/sales/newsletters/{newsletter.id}/subscribers", {"email": email, "evidence": evidence},
                     token_from=f"/sales/newsletters/{newsletter.id}")


def test_a_new_newsletter_is_offered_on_everyones_preferences_page(app, client, newsletter, make_user):
    listing = client.get("/sales/newsletters").text
    assert "Product updates" in listing and "double" in listing
    person = make_user(Role.SUBJECT, email="reader@example.com")
    reader = app.test_client()
    post_form(reader, "/login", {"email": person.email, "password": "correct horse battery staple"})
    page = reader.get("/preferences").text
    assert "Product updates" in page and "A short email each month" in page


def test_staff_start_a_sign_up_and_only_the_person_completes_it(app, client, newsletter, smtp):
    smtp.clear()
    assert sign_up(client, newsletter, "Fair.Visitor@Example.com").status_code == 303
    pending = client.get(f"/sales/newsletters/{newsletter.id}?status=pending").text
    assert "fair.visitor@example.com" in pending and "trade fair" in pending
    link = CONFIRM.search(text_of(smtp.wait_for("fair.visitor@example.com"))).group(1)

    stranger = app.test_client()  # the link alone, as from the mailbox; no login
    shown = stranger.get(link)
    assert shown.status_code == 200 and "Yes, subscribe me" in shown.text
    with database.connection_context():
        assert not ConsentEvent.select().where(ConsentEvent.purpose == newsletter.purpose_id).exists()  # GET: nothing
    assert "You are subscribed" in post_form(stranger, link).text
    assert "already subscribed" in stranger.get(link).text  # a second click changes nothing

    with database.connection_context():
        [event] = ConsentEvent.select().where(ConsentEvent.purpose == newsletter.purpose_id)
        assert event.granted and event.source == "email_link" and event.notice_version == 1
        assert not PendingSubscription.select().exists()
    subscribed = client.get(f"/sales/newsletters/{newsletter.id}").text
    assert "fair.visitor@example.com" in subscribed and "email link" in subscribed  # the proof, with its version


def test_staff_cannot_sign_up_a_suppressed_address(app, client, newsletter, smtp):
    with app.test_request_context():
        suppress("opted.out@example.com", "unsubscribed")
    smtp.clear()
    refused = sign_up(client, newsletter, "opted.out@example.com")
    assert refused.status_code == 400 and "suppression list" in refused.text
    assert smtp.messages == []


def test_the_persons_own_yes_lifts_their_suppression(app, client, newsletter, make_user):
    person = make_user(Role.SUBJECT, email="came.back@example.com")
    with app.test_request_context():
        suppress(person.email, "unsubscribed")
    reader = app.test_client()
    post_form(reader, "/login", {"email": person.email, "password": "correct horse battery staple"})
    with database.connection_context():
        key = Newsletter.get_by_id(newsletter.id).purpose.key
    post_form(reader, f"/preferences/{key}", {"granted": "1"}, token_from="/preferences")
    with app.test_request_context():
        assert not is_suppressed(person.email)


def test_bad_addresses_and_links_are_refused_politely(app, client, newsletter):
    assert "Enter a valid email address" in sign_up(client, newsletter, "not-an-address").text
    assert client.get("/newsletters/confirm/forged").status_code == 400


def test_an_unconfirmed_sign_up_expires_after_30_days(app, client, newsletter, smtp, monkeypatch):
    sign_up(client, newsletter, "slow@example.com")
    link = CONFIRM.search(text_of(smtp.wait_for("slow@example.com"))).group(1)
    with app.app_context(), database.connection_context():
        assert catalogue.expire_pending(utcnow() + timedelta(days=29)) == 0
        assert catalogue.expire_pending(utcnow() + timedelta(days=31)) == 1
    gone = app.test_client().get(link)
    assert gone.status_code == 410 and "withdrawn or has expired" in gone.text


def test_new_wording_is_a_new_notice_version_and_archiving_withdraws_the_offer(app, client, newsletter, make_user):
    path = f"/sales/newsletters/{newsletter.id}"
    post_form(client, f"{path}/edit", {**WEEKLY, "description": "A short email every two weeks about the CRM."})
    assert "Notice version 2" in client.get(path).text
    post_form(client, f"{path}/archive", token_from=path)
    archived = client.get(path).text
    assert "archived" in archived and "Add a subscriber" not in archived
    assert "Product updates" not in client.get("/sales/newsletters").text
    person = make_user(Role.SUBJECT, email="late.reader@example.com")
    reader = app.test_client()
    post_form(reader, "/login", {"email": person.email, "password": "correct horse battery staple"})
    assert "Product updates" not in reader.get("/preferences").text


def test_subscribers_page_by_keyset(app, client, newsletter):
    from app.models.consent import ConsentSource
    from app.services.consent.ledger import Origin, set_consent
    with database.connection_context():
        purpose = Newsletter.get_by_id(newsletter.id).purpose
        for i in range(55):
            person = User.create(email=f"reader{i:02d}@example.com", role="subject", name="")
            set_consent(person, purpose, True, Origin(ConsentSource.IMPORT))
    first = client.get(f"/sales/newsletters/{newsletter.id}").text
    after = re.search(r"after=(\d+)", first).group(1)
    second = client.get(f"/sales/newsletters/{newsletter.id}?after={after}", headers={"HX-Request": "true"}).text
    assert first.count("@example.com</td>") == 50 and second.count("@example.com</td>") == 5
    assert "<html" not in second
    assert client.get(f"/sales/newsletters/{newsletter.id}?q=reader07").text.count("@example.com</td>") == 1


def test_stopping_all_marketing_also_covers_newsletters_created_later(app, client, login_as, make_user):
    person = make_user(Role.SUBJECT, email="objector@example.com")
    reader = app.test_client()
    post_form(reader, "/login", {"email": person.email, "password": "correct horse battery staple"})
    post_form(reader, "/preferences/stop-marketing", token_from="/preferences")
    login_as(Role.SALES_OPS)
    post_form(client, "/sales/newsletters/new", WEEKLY)
    with database.connection_context():
        later = Newsletter.select().order_by(Newsletter.id.desc()).first()
    refused = sign_up(client, later, person.email)
    assert refused.status_code == 400 and "suppression list" in refused.text
