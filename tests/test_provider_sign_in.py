"""Sign in with Google (OpenID Connect) against the real provider on loopback: only a
verified address of an existing end-user account signs in; everything else is
refused without saying which accounts exist."""
from urllib.parse import urlsplit

import requests

from app.db import database
from app.models import AuditEvent, Role
from tests.support.forms import post_form


def sign_in_with_google(client, provider, email):
    provider.auto_approve(email)
    response = post_form(client, "/login/with/google", token_from="/login")
    assert response.status_code == 302, response.text
    assert "code_challenge" in response.headers["Location"] and "nonce=" in response.headers["Location"]
    answer = requests.get(response.headers["Location"], allow_redirects=False, timeout=10)
    callback = urlsplit(answer.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}", follow_redirects=True)


def test_a_verified_address_of_an_end_user_signs_in(app, client, provider, make_user):
    alice = make_user(Role.SUBJECT, email="alice@example.com")
    provider.add_user("alice@example.com", "Alice")
    assert "Sign in with Google" in client.get("/login").text
    page = sign_in_with_google(client, provider, "alice@example.com")
    assert client.get("/portal/").status_code == 200, page.text
    with app.app_context(), database.connection_context():
        event = AuditEvent.select().where(AuditEvent.action == "login.succeeded").get()
        assert event.subject_ref == alice.id and '"oidc:google"' in event.details


def test_an_unverified_address_is_refused(app, client, provider, make_user):
    make_user(Role.SUBJECT, email="alice@example.com")
    provider.add_user("alice@example.com", "Alice", email_verified=False)
    page = sign_in_with_google(client, provider, "alice@example.com")
    assert "did not confirm that the email address is yours" in page.text
    assert client.get("/portal/").status_code == 302  # still signed out


def test_no_account_and_a_staff_account_get_the_same_refusal(app, client, provider, make_user):
    make_user(Role.DPO, email="dpo@example.com")
    provider.add_user("dpo@example.com", "Dana")
    provider.add_user("stranger@example.com", "Sam")
    for email in ("dpo@example.com", "stranger@example.com"):
        page = sign_in_with_google(client, provider, email)
        assert "No account here can sign in with that Google account" in page.text
        assert client.get("/dpo/").status_code == 302


def test_without_a_configured_client_there_is_no_button(client):
    assert "Sign in with Google" not in client.get("/login").text
    response = post_form(client, "/login/with/google", token_from="/login", follow_redirects=True)
    assert "not available here" in response.text


def test_the_first_sign_in_binds_the_account_to_that_google_account(app, client, provider, make_user):
    make_user(Role.SUBJECT, email="alice@example.com")
    provider.add_user("alice@example.com", "Alice")
    sign_in_with_google(client, provider, "alice@example.com")
    assert client.get("/portal/").status_code == 200
    other = app.test_client()
    provider.add_user("alice@example.com", "Someone Else")  # the address handed to another Google account
    page = sign_in_with_google(other, provider, "alice@example.com")
    assert "No account here can sign in with that Google account" in page.text
    assert other.get("/portal/").status_code == 302
