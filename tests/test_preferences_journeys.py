"""Preferences in a real browser: with htmx, by keyboard, and with JavaScript off."""
import pytest
from playwright.sync_api import expect

from app.models import Role
from app.services.consent.preference_links import make_token
from tests.conftest import TEST_PASSWORD
from tests.support.browser import assert_accessible, htmx_exchange, sign_in

pytestmark = pytest.mark.browser


def sign_in_as(page, email):
    sign_in(page, email, TEST_PASSWORD)
    page.get_by_role("heading", name="Hello").wait_for()


def tracking_switch(page):
    return page.get_by_role("switch", name="Email click-through tracking")


def test_alice_switches_click_tracking_off_and_on_and_it_holds(page, make_user):
    make_user(Role.SUBJECT, email="alice@example.com", name="Alice")
    sign_in_as(page, "alice@example.com")
    page.get_by_role("link", name="Preferences").click()
    assert_accessible(page)
    switch = tracking_switch(page)
    expect(switch).to_have_attribute("aria-checked", "false")

    with htmx_exchange(page, "/preferences/click_tracking"):
        switch.click()  # htmx: only the row is swapped
    expect(tracking_switch(page)).to_have_attribute("aria-checked", "true")
    expect(page.locator("#pref-status")).to_have_text("Email click-through tracking is now on. Saved.")
    tracking_switch(page).focus()
    with htmx_exchange(page, "/preferences/click_tracking"):
        page.keyboard.press("Space")  # the keyboard works the same switch
    expect(tracking_switch(page)).to_have_attribute("aria-checked", "false")
    expect(page.locator("#pref-status")).to_have_text("Email click-through tracking is now off. Saved.")
    assert page.evaluate("document.activeElement.id") == "switch-click_tracking"  # focus stays put
    with htmx_exchange(page, "/preferences/click_tracking"):
        tracking_switch(page).click()
    expect(tracking_switch(page)).to_have_attribute("aria-checked", "true")

    page.reload()
    expect(tracking_switch(page)).to_have_attribute("aria-checked", "true")
    assert_accessible(page)
    page.get_by_role("link", name="Consent history").first.click()
    items = page.locator(".timeline-item")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text("consent given")
    expect(items.nth(1)).to_contain_text("withdrawn")
    expect(items.nth(0)).to_contain_text("notice version 1")
    expect(items.nth(0)).to_contain_text("via portal")
    assert_accessible(page)


def test_preferences_work_with_javascript_off(chromium, live_server, make_user):
    make_user(Role.SUBJECT, email="nojs@example.com", name="No JS")
    context = chromium.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in_as(page, "nojs@example.com")
        page.goto("/preferences")
        tracking_switch(page).click()  # a plain form POST, then a redirect back
        page.wait_for_url("**/preferences#purpose-click_tracking")
        expect(tracking_switch(page)).to_have_attribute("aria-checked", "true")
        expect(page.get_by_text("Email click-through tracking is now on. Saved.")).to_be_visible()
        page.get_by_role("switch", name="Stop all marketing").click()
        expect(page.get_by_text("All marketing is off")).to_have_count(2)  # flash + description
    finally:
        context.close()


def test_the_footer_link_opens_preferences_without_signing_in(page, app, live_server, make_user):
    person = make_user(Role.SUBJECT, email="reader@example.com", password_hash=None)
    with app.test_request_context():
        token = make_token(person)
    page.goto(f"/p/{token}")
    expect(page.get_by_text("You opened this page from a link in an email")).to_be_visible()
    assert_accessible(page)
    with htmx_exchange(page, "/purposes/marketing_email"):
        page.get_by_role("switch", name="Marketing email").click()
    expect(page.get_by_role("switch", name="Marketing email")).to_have_attribute("aria-checked", "true")
    page.goto("/portal/")
    assert "/login" in page.url  # the link opened nothing else
    page.goto(f"/p/{token[:-4]}AAAA")
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    assert_accessible(page)
