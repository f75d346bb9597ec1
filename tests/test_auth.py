"""Signing in: passwords, one-time email links, TOTP for staff, rate limits."""
import re
import time
from datetime import timedelta

import pyotp
import pytest

from app.db import database
from app.models import AuditEvent, Role, SignInLink, User
from app.models.base import utcnow
from app.services.platform import outbox
from tests.conftest import TEST_PASSWORD, TEST_TOTP_SECRET
from tests.support.forms import post_form
from tests.support.smtp import text_of

LINK = re.compile(r"http://localhost(/login/email/[^\s]+)")


def ask_for_link(client, smtp, email: str) -> str:
    response = post_form(client, "/login/email", {"email": email})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/login/email/sent")
    return LINK.search(text_of(smtp.wait_for(email))).group(1)


def use_link(client, path: str):
    return post_form(client, path, token_from=path)


def test_password_login_lands_on_the_role_home(client, make_user):
    user = make_user(Role.SUBJECT)
    response = post_form(client, "/login", {"email": user.email.upper(), "password": TEST_PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/portal/"
    assert "My privacy" in client.get("/portal/").text


def test_wrong_password_says_so_and_is_audited(client, make_user):
    user = make_user(Role.SUBJECT)
    response = post_form(client, "/login", {"email": user.email, "password": "nope"})
    assert response.status_code == 401
    assert "do not match an account" in response.text
    assert client.get("/portal/").status_code == 302  # still signed out
    with database.connection_context():
        assert AuditEvent.get(AuditEvent.action == "login.failed").subject_id == user.id


def test_unknown_address_gets_the_same_answer_as_a_wrong_password(client):
    response = post_form(client, "/login", {"email": "nobody@example.com", "password": "nope"})
    assert response.status_code == 401
    assert "do not match an account" in response.text


def test_missing_fields_are_named(client):
    response = post_form(client, "/login", {"email": "not-an-address", "password": ""})
    assert response.status_code == 400
    assert "Enter an email address like name@example.com." in response.text
    assert "Enter your password." in response.text


def test_disabled_account_cannot_sign_in(client, make_user):
    user = make_user(Role.SUBJECT, active=False)
    response = post_form(client, "/login", {"email": user.email, "password": TEST_PASSWORD})
    assert response.status_code == 403
    assert "This account is disabled" in response.text


def test_a_new_person_signs_in_with_an_emailed_link(client, smtp):
    path = ask_for_link(client, smtp, "newcomer@example.com")
    assert "Continue and sign in" in client.get(path).text  # GET alone signs nobody in
    assert client.get("/portal/").status_code == 302
    response = use_link(client, path)
    assert response.status_code == 303 and response.headers["Location"] == "/portal/"
    assert "Hello" in client.get("/portal/").text
    with database.connection_context():
        assert User.by_email("newcomer@example.com").role == Role.SUBJECT.value


def test_links_use_base_url_whatever_host_the_request_claims(client, smtp):
    post_form(client, "/login/email", {"email": "host@example.com"}, base_url="http://evil.example")
    body = text_of(smtp.wait_for("host@example.com"))
    assert "http://localhost/login/email/" in body and "evil.example" not in body


def test_a_link_works_once(client, app, smtp):
    path = ask_for_link(client, smtp, "once@example.com")
    assert use_link(client, path).status_code == 303
    other = app.test_client()
    response = use_link(other, path)
    assert response.status_code == 410
    assert "already been used" in response.text


def test_an_expired_link_is_refused(client, smtp):
    path = ask_for_link(client, smtp, "late@example.com")
    with database.connection_context():
        SignInLink.update(expires_at=utcnow()).execute()
    time.sleep(1.1)
    response = use_link(client, path)
    assert response.status_code == 410
    assert "expired" in response.text


def test_a_link_older_than_its_signature_allows_is_refused(client, smtp, monkeypatch):
    path = ask_for_link(client, smtp, "old@example.com")
    later = time.time() + 16 * 60
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    response = use_link(client, path)
    assert response.status_code == 410
    assert "expired" in response.text


def test_a_forged_link_is_refused_politely(client):
    path = "/login/email/eyJuIjoiZm9yZ2VkIn0.forged.signature"
    response = use_link(client, path)
    assert response.status_code == 400
    assert "not valid" in response.text
    assert "Ask for a new one" in response.text or "ask for a new one" in response.text


def test_staff_need_their_second_factor(client, make_user):
    dpo = make_user(Role.DPO)
    response = post_form(client, "/login", {"email": dpo.email, "password": TEST_PASSWORD})
    assert response.headers["Location"] == "/login/two-factor"
    assert client.get("/dpo/").status_code == 302  # the password alone is not enough
    wrong = post_form(client, "/login/two-factor", {"code": "000000"})
    assert wrong.status_code == 401 and "That code is not right" in wrong.text
    ok = post_form(client, "/login/two-factor", {"code": pyotp.TOTP(TEST_TOTP_SECRET).now()})
    assert ok.headers["Location"] == "/dpo/"
    assert client.get("/dpo/").status_code == 200


def test_a_totp_code_cannot_be_used_twice(app, make_user):
    dpo = make_user(Role.DPO)
    code = pyotp.TOTP(TEST_TOTP_SECRET).now()
    first, second = app.test_client(), app.test_client()
    for c in (first, second):
        post_form(c, "/login", {"email": dpo.email, "password": TEST_PASSWORD})
    assert post_form(first, "/login/two-factor", {"code": code}).status_code == 303
    replay = post_form(second, "/login/two-factor", {"code": code})
    assert replay.status_code == 401 and "already used" in replay.text


def test_staff_without_a_second_factor_enrol_before_entering(client, make_user):
    admin = make_user(Role.ADMIN, totp_secret=None)
    response = post_form(client, "/login", {"email": admin.email, "password": TEST_PASSWORD})
    assert response.headers["Location"] == "/login/two-factor/setup"
    page = client.get("/login/two-factor/setup").text
    assert "<svg" in page  # the QR code, inline so no image origin is needed
    secret = re.search(r'class="secret">([A-Z2-7]+)<', page).group(1)
    bad = post_form(client, "/login/two-factor/setup", {"code": "123"})
    assert bad.status_code == 400 and "The code is 6 digits" in bad.text
    done = post_form(client, "/login/two-factor/setup", {"code": pyotp.TOTP(secret).now()})
    assert done.headers["Location"] == "/admin/users"
    with database.connection_context():
        assert User.get_by_id(admin.id).totp_secret == secret
        raw = database.execute_sql("SELECT totp_secret FROM users WHERE id = %s" % int(admin.id)).fetchone()[0]
    assert secret not in raw  # encrypted at rest


def test_logout_ends_the_session(client, login_as):
    login_as(Role.SUBJECT)
    response = post_form(client, "/logout", token_from="/portal/")
    assert response.status_code == 303
    assert client.get("/portal/").status_code == 302


def test_next_stays_on_this_site(client, make_user):
    user = make_user(Role.SUBJECT)
    client.get("/login?next=https://evil.example/steal")
    response = post_form(client, "/login", {"email": user.email, "password": TEST_PASSWORD})
    assert response.headers["Location"] == "/portal/"


def test_repeated_password_attempts_are_rate_limited(client, make_user):
    user = make_user(Role.SUBJECT)
    statuses = [post_form(client, "/login", {"email": user.email, "password": f"guess{i}"}).status_code
                for i in range(6)]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    limited = post_form(client, "/login", {"email": user.email, "password": TEST_PASSWORD})
    assert limited.status_code == 429 and "Too many attempts" in limited.text


def test_repeated_link_requests_for_one_address_are_rate_limited(client, smtp):
    statuses = [post_form(client, "/login/email", {"email": "flood@example.com"}).status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]
    assert len([m for m in smtp.messages if m["To"] == "flood@example.com"]) == 3


@pytest.mark.parametrize("role", [Role.DPO, Role.ADMIN])
def test_staff_logins_are_audited_with_their_method(client, login_as, role):
    user = login_as(role)
    with database.connection_context():
        event = AuditEvent.get(AuditEvent.action == "login.succeeded", AuditEvent.actor == user.id)
    assert '"password + TOTP"' in event.details


def test_a_mail_server_that_is_down_changes_nothing_in_the_answer(app, client, smtp, mail_down):
    with mail_down():
        down = post_form(client, "/login/email", {"email": "patient@example.com"})
    up = post_form(app.test_client(), "/login/email", {"email": "other@example.com"})
    assert down.status_code == up.status_code == 303 and down.headers["Location"] == up.headers["Location"]
    assert client.get(down.headers["Location"]).status_code == 200
    with app.app_context(), database.connection_context():  # the link waited in the outbox; it goes once the server is back
        assert outbox.deliver_due(utcnow() + timedelta(minutes=1)) == 1
    assert "/login/email/" in text_of(smtp.wait_for("patient@example.com"))


def test_the_half_signed_in_state_expires_after_ten_minutes(client, make_user, monkeypatch):
    dpo = make_user(Role.DPO)
    post_form(client, "/login", {"email": dpo.email, "password": TEST_PASSWORD})
    later = time.time() + 601
    monkeypatch.setattr("app.web.auth.routes.time.time", lambda: later)
    response = post_form(client, "/login/two-factor", {"code": pyotp.TOTP(TEST_TOTP_SECRET).now()},
                         token_from="/login")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_totp_guesses_are_limited_per_account(app, make_user):
    dpo = make_user(Role.DPO)
    browsers = []
    for ip in ("192.0.2.1", "192.0.2.2"):  # two places: only the account ties them together
        c = app.test_client()
        c.environ_base["REMOTE_ADDR"] = ip
        post_form(c, "/login", {"email": dpo.email, "password": TEST_PASSWORD})
        browsers.append(c)
    statuses = [post_form(browsers[i % 2], "/login/two-factor", {"code": f"{i:06d}"}).status_code
                for i in range(6)]
    assert statuses == [401] * 5 + [429]


def test_behind_a_trusted_proxy_the_client_ip_is_audited(database_url, smtp, tmp_path, password_hash):
    from app import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path),
                      "MAIL_URL": smtp.url, "TRUSTED_PROXIES": "1"})
    with database.connection_context():
        user = User.create(email="proxied@example.com", role="subject", password_hash=password_hash)
    client = app.test_client()
    post_form(client, "/login", {"email": user.email, "password": TEST_PASSWORD},
              headers={"X-Forwarded-For": "198.51.100.200"})
    with database.connection_context():
        assert AuditEvent.get(AuditEvent.action == "login.succeeded").ip == "198.51.100.0"
        user.delete_instance()
        AuditEvent.delete().execute()


def test_emails_carry_a_date(client, smtp):
    ask_for_link(client, smtp, "dated@example.com")
    assert smtp.wait_for("dated@example.com")["Date"]


def test_an_erased_address_is_sent_no_sign_in_link_and_the_page_says_the_same(app, client, smtp):
    from app.services.consent.suppression import suppress
    with app.app_context(), database.connection_context():
        suppress("erased@example.com", "erasure")
        suppress("unsubscribed@example.com", "unsubscribed")
    erased = post_form(client, "/login/email", {"email": "Erased@Example.com"})
    other = post_form(client, "/login/email", {"email": "unsubscribed@example.com"})
    assert erased.status_code == other.status_code == 303
    assert erased.headers["Location"] == other.headers["Location"]
    assert smtp.wait_for("unsubscribed@example.com")  # marketing opt-outs still get essential mail
    assert [m for m in smtp.messages if "erased@" in m["To"]] == []
    with app.app_context(), database.connection_context():
        assert not SignInLink.select().where(SignInLink.email == "erased@example.com").exists()
