"""Cookies and transport follow BASE_URL: served over https, the session cookie is
Secure and every response asks browsers to keep to https (HSTS); over plain http
(a laptop, the demo) neither, or the browser would drop the cookie and sign-in fail."""
import pytest

from app import create_app
from app.models import Role
from tests.conftest import TEST_PASSWORD
from tests.support.forms import post_form

HSTS = "max-age=63072000; includeSubDomains"


def app_served_at(app, base_url: str):
    """The test app's database and keys, at another public address."""
    shared = {k: app.config[k] for k in ("DATABASE_URL", "INSTANCE_PATH", "MAIL_URL", "SECRET_KEY")}
    return create_app({**shared, "TESTING": True, "BASE_URL": base_url})


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_the_session_cookie_is_secure_and_hsts_sent_exactly_when_base_url_is_https(app, make_user, scheme):
    served = app_served_at(app, f"{scheme}://privacy.example.com")
    browser = served.test_client()
    user = make_user(Role.SUBJECT)
    base = f"{scheme}://localhost"
    signed_in = post_form(browser, "/login", {"email": user.email, "password": TEST_PASSWORD}, base_url=base,
                          headers={"Referer": f"{base}/login"})  # over https, Flask-WTF checks it
    assert signed_in.status_code == 303
    cookies = signed_in.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert ("; Secure" in session_cookie) == (scheme == "https")
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert not [c for c in cookies if c.startswith("remember_token=")]  # no long-lived cookie at all

    assert signed_in.headers.get("Strict-Transport-Security") == (HSTS if scheme == "https" else None)
    for path in ("/portal/", "/no-such-page", "/static/css/app.css"):  # a page, an error, a file
        with browser.get(path, base_url=base) as response:
            assert response.headers.get("Strict-Transport-Security") == (HSTS if scheme == "https" else None), path
    assert browser.get("/portal/", base_url=base).status_code == 200  # the cookie came back: still signed in
