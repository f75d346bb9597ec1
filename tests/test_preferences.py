"""The preferences page, by session and by signed email link."""
import re

import pytest

from app.db import database
from app.models import ConsentEvent, Device, Role
from app.services.consent.preference_links import make_token
from tests.support.forms import post_form
from tests.support.smtp import text_of


def switch_state(html: str, key: str) -> str:
    return re.search(rf'id="switch-{key}"[^>]*aria-checked="(true|false)"', html).group(1)


def events(user):
    with database.connection_context():
        return [(e.purpose.key, e.granted, e.source) for e in ConsentEvent.select().where(
            ConsentEvent.user == user.id).order_by(ConsentEvent.id)]


def test_each_purpose_is_a_switch_and_essentials_are_locked(client, login_as):
    login_as(Role.SUBJECT)
    html = client.get("/preferences").text
    assert html.count('role="switch"') >= 15
    assert switch_state(html, "click_tracking") == "false"
    locked = re.search(r'id="switch-security_alerts"[^>]*>', html, re.S).group()
    assert "disabled" in locked and 'aria-checked="true"' in locked
    assert "We must be able to warn you" in html


def test_a_plain_post_saves_and_redirects_back(client, login_as):
    user = login_as(Role.SUBJECT)
    response = post_form(client, "/preferences/click_tracking", {"granted": "1"}, token_from="/preferences")
    assert response.status_code == 303 and response.headers["Location"].endswith("#purpose-click_tracking")
    page = client.get("/preferences").text
    assert switch_state(page, "click_tracking") == "true"
    assert "Email click-through tracking is now on. Saved." in page
    assert events(user) == [("click_tracking", True, "portal")]


def test_htmx_gets_only_the_changed_row_with_a_confirmation(client, login_as):
    login_as(Role.SUBJECT)
    response = post_form(client, "/preferences/open_tracking", {"granted": "1"}, token_from="/preferences",
                         headers={"HX-Request": "true"})
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<li id="purpose-open_tracking"')
    assert switch_state(response.text, "open_tracking") == "true"
    assert 'hx-swap-oob="true"' in response.text and "Email open tracking is now on. Saved." in response.text


def test_stop_all_marketing_via_htmx_returns_the_list(client, login_as):
    user = login_as(Role.SUBJECT)
    post_form(client, "/preferences/marketing_email", {"granted": "1"}, token_from="/preferences")
    response = post_form(client, "/preferences/stop-marketing", token_from="/preferences",
                         headers={"HX-Request": "true"})
    assert response.text.lstrip().startswith('<div id="purpose-list">')
    assert switch_state(response.text, "marketing_email") == "false"
    assert switch_state(response.text, "stop-all") == "true"
    assert ("marketing_email", False, "portal") in events(user)


def test_an_unknown_purpose_is_a_404(client, login_as):
    login_as(Role.SUBJECT)
    assert post_form(client, "/preferences/no_such_thing", {"granted": "1"}, token_from="/preferences").status_code == 404


def test_a_browser_sending_gpc_gets_partner_sharing_off_and_is_told(client, login_as):
    user = login_as(Role.SUBJECT)
    post_form(client, "/preferences/partner_sharing", {"granted": "1"}, token_from="/preferences")
    page = client.get("/preferences", headers={"Sec-GPC": "1"}).text
    assert "We honoured it" in page
    assert switch_state(page, "partner_sharing") == "false"
    assert events(user)[-1] == ("partner_sharing", False, "gpc")
    later = client.get("/preferences").text  # no signal is not an opt-in
    assert switch_state(later, "partner_sharing") == "false" and "We honoured it" not in later


def test_the_history_and_receipt_show_each_change(client, login_as):
    login_as(Role.SUBJECT)
    for granted in ("0", "1"):
        post_form(client, "/preferences/click_tracking", {"granted": granted}, token_from="/preferences")
    history = client.get("/preferences/history").text
    assert history.count("<strong>Email click-through tracking</strong>") == 2  # an explicit "no", then "yes"
    assert history.index("consent given") < history.index("withdrawn")  # newest first
    receipt = client.get("/preferences/receipt.json")
    assert receipt.headers["Content-Disposition"].startswith("attachment")
    data = receipt.json
    assert data["schema"].startswith("ISO/IEC TS 27560")
    [tracking] = [p for p in data["purposes"] if p["purposeId"] == "click_tracking"]
    assert tracking["state"] == "given" and tracking["notice"]["version"] == 1
    assert tracking["events"][0]["collectionMethod"] == "portal"
    assert data["piiControllers"][0]["piiController"] == "Example CRM Ltd"


def test_someone_elses_device_cannot_be_switched(client, login_as, make_user):
    login_as(Role.SUBJECT)
    other = make_user(Role.SUBJECT)
    with database.connection_context():
        device = Device.create(owner=other, platform="ios", name="Other's phone", push_token="tok", push_enabled=True)
    response = post_form(client, f"/preferences/devices/{device.id}", {"enabled": "0"}, token_from="/preferences")
    assert response.status_code == 404
    with database.connection_context():
        assert Device.get_by_id(device.id).push_enabled is True


def test_own_devices_switch_one_by_one_and_all_at_once(client, login_as):
    user = login_as(Role.SUBJECT)
    with database.connection_context():
        phone = Device.create(owner=user, platform="ios", name="My phone", push_token="a", push_enabled=True)
        Device.create(owner=user, platform="web", name="My browser", push_token="b", push_enabled=True)
    post_form(client, f"/preferences/devices/{phone.id}", {"enabled": "0"}, token_from="/preferences")
    with database.connection_context():
        assert [d.push_enabled for d in Device.select().order_by(Device.id)] == [False, True]
    post_form(client, "/preferences/devices", {"enabled": "0"}, token_from="/preferences")
    with database.connection_context():
        assert not any(d.push_enabled for d in Device.select())


# --- signed links ------------------------------------------------------------------

@pytest.fixture
def link(app, make_user):
    user = make_user(Role.SUBJECT, password_hash=None)
    with app.test_request_context():
        return user, f"/p/{make_token(user)}"


def test_a_signed_link_opens_the_page_without_login(client, link):
    user, path = link
    page = client.get(path).text
    assert user.email in page and 'role="switch"' in page
    response = post_form(client, f"{path}/purposes/marketing_email", {"granted": "1"}, token_from=path)
    assert response.status_code == 303
    assert events(user) == [("marketing_email", True, "email_link")]


def test_a_signed_link_reaches_nothing_else(client, link):
    _, path = link
    client.get(path)
    for other in ("/portal/", "/preferences", "/preferences/history"):
        assert client.get(other).status_code == 302, other  # still signed out


def test_a_tampered_link_is_refused_with_an_offer_of_a_fresh_one(client, link):
    _, path = link
    response = client.get(path[:-3] + "xyz")
    assert response.status_code == 400
    assert "not valid" in response.text and "Email me a fresh link" in response.text


def test_an_expired_link_is_refused(client, link, monkeypatch):
    import time
    _, path = link
    later = time.time() + 91 * 24 * 3600
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    response = client.get(path)
    assert response.status_code == 410 and "expired" in response.text


def test_asking_for_a_fresh_link_never_reveals_whether_an_address_exists(client, smtp, make_user):
    known = make_user(Role.SUBJECT)
    answers = [post_form(client, "/preferences/new-link", {"email": e}, follow_redirects=True).text
               for e in (known.email, "stranger@example.com")]
    assert "If that address is on file" in answers[0] and "If that address is on file" in answers[1]
    mail = text_of(smtp.wait_for(known.email))
    assert "/p/" in mail
    assert not [m for m in smtp.messages if "stranger" in m["To"]]


def test_gpc_on_a_signed_link_is_honoured_for_that_person(client, link):
    user, path = link
    page = client.get(path, headers={"Sec-GPC": "1"}).text
    assert "We honoured it" in page
    assert events(user) == [("partner_sharing", False, "gpc")]
