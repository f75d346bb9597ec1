"""Journeys in a real browser (Playwright driving Debian's Chromium). Each page
visited is checked with axe-core; the `page` fixture fails the test if the browser
asked any origin but the app's own or reported a CSP violation."""
import re

import pytest
from playwright.sync_api import expect

from app.models import Role
from tests.conftest import TEST_PASSWORD, TEST_TOTP_SECRET
from tests.support.browser import HANG_GUARD_MS, assert_accessible, htmx_exchange, sign_in
from tests.support.smtp import text_of

pytestmark = pytest.mark.browser


def test_a_new_person_signs_in_with_a_link_from_their_email(page, live_server, smtp):
    page.goto("/login")
    assert_accessible(page)
    page.get_by_role("link", name="Email me a sign-in link").click()
    assert_accessible(page)
    page.get_by_label("Email address").fill("new.person@example.com")
    page.get_by_role("button", name="Send the link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    assert_accessible(page)

    link = re.search(r"http://\S+/login/email/\S+", text_of(smtp.wait_for("new.person@example.com"))).group()
    assert link.startswith(live_server)
    page.goto(link)
    assert_accessible(page)
    page.get_by_role("button", name="Continue and sign in").click()
    page.get_by_role("heading", name="Hello").wait_for()
    assert page.url == f"{live_server}/portal/"
    assert_accessible(page)


def test_a_dpo_signs_in_with_password_and_totp(page, live_server, make_user):
    import pyotp
    dpo = make_user(Role.DPO, name="Dana DPO")
    page.goto("/dpo/")
    assert "/login" in page.url  # sent to sign in first
    page.get_by_label("Email address").fill(dpo.email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("do not match an account").wait_for()
    assert_accessible(page)

    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Enter your two-factor code").wait_for()
    assert_accessible(page)
    page.get_by_label("6-digit code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    page.get_by_text("That code is not right").wait_for()
    page.get_by_label("6-digit code").fill(pyotp.TOTP(TEST_TOTP_SECRET).now())
    page.get_by_role("button", name="Verify").click()
    page.get_by_role("heading", name="DPO console").wait_for()
    assert page.url == f"{live_server}/dpo/"
    assert_accessible(page)
    page.get_by_role("link", name="Data register").click()
    page.get_by_role("heading", name="Register of personal data").wait_for()
    assert_accessible(page)


def test_an_admin_searches_users_with_htmx(page, live_server, make_user):
    admin = make_user(Role.ADMIN)
    make_user(Role.SUBJECT, email="zelda@example.com")
    sign_in(page, admin.email, TEST_PASSWORD, TEST_TOTP_SECRET)
    page.get_by_role("heading", name="Users").wait_for()
    assert_accessible(page)
    rows = page.locator("#user-rows tbody tr")
    expect(rows).to_have_count(2)
    with htmx_exchange(page, "/admin/users"):
        page.get_by_label("Search by email or name").fill("zelda")
    expect(rows).to_have_count(1)  # swapped in place by htmx, no page load
    expect(rows.first).to_contain_text("zelda@example.com")
    expect(page).to_have_url(re.compile(r"q=zelda"))  # in the address bar, so it can be shared


def test_pages_stay_accessible_in_dark_mode_on_a_phone(page, live_server, make_user):
    user = make_user(Role.SUBJECT, name="Phone User")
    page.set_viewport_size({"width": 375, "height": 740})
    page.emulate_media(color_scheme="dark")
    page.goto("/login")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 22, 26)"  # the dark palette is in use
    assert_accessible(page)
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Hello, Phone User").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    assert_accessible(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"


def test_staff_pages_fit_a_phone_and_htmx_survives_an_expired_session(page, live_server, make_user):
    admin = make_user(Role.ADMIN)
    for i in range(3):
        make_user(Role.SUBJECT, email=f"a-rather-long-address-number-{i}@subdomain.example.com")
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, admin.email, TEST_PASSWORD, TEST_TOTP_SECRET)
    page.get_by_role("heading", name="Users").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # the table scrolls, not the page
    assert_accessible(page)
    for path in ("/admin/jobs", "/dpo/retention", "/dpo/retention/runs", "/dpo/subprocessors"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        assert_accessible(page)
    page.goto("/admin/users")

    page.context.clear_cookies()  # the session ends while the page is open
    page.get_by_label("Search by email or name").fill("rather")
    page.wait_for_url(re.compile(r"/login\?next=/admin/users"))
    expect(page.get_by_role("heading", name="Sign in")).to_have_count(1)  # a whole page, not a fragment
    assert page.locator("header.site-header").count() == 1


def test_a_dpo_filters_to_overdue_opens_a_request_and_approves_it(page, live_server, make_user, smtp):
    from datetime import timedelta

    from app.db import database
    from app.models import PrivacyRequest
    from app.models.base import utcnow
    dpo = make_user(Role.DPO)
    person = make_user(Role.SUBJECT, email="objector@example.com")
    with database.connection_context():
        now = utcnow()
        late = PrivacyRequest.create(user=person, kind="objection", status="pending_review", jurisdiction="GDPR",
                                     received_at=now - timedelta(days=40), due_at=now - timedelta(days=9))
        PrivacyRequest.create(user=person, kind="restriction", status="pending_review", jurisdiction="GDPR",
                              received_at=now, due_at=now + timedelta(days=30))
    sign_in(page, dpo.email, TEST_PASSWORD, TEST_TOTP_SECRET)
    page.get_by_role("link", name="Requests").click()
    expect(page.locator("#queue-rows tbody tr")).to_have_count(2)
    assert_accessible(page)
    with htmx_exchange(page, "/dpo/requests"):
        page.get_by_label("Due").select_option("overdue")  # htmx swaps the rows
    expect(page.locator("#queue-rows tbody tr")).to_have_count(1)
    expect(page.get_by_text("Overdue by 9 days")).to_be_visible()
    page.get_by_role("link", name=f"#{late.id} Object to the use of my data").click()
    assert_accessible(page)
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(f"Request {late.id} approved; the person was told.")).to_be_visible()
    assert "approved" in text_of(smtp.wait_for("objector@example.com"))
    page.get_by_role("link", name="Audit log").click()
    with htmx_exchange(page, "/dpo/audit"):
        page.get_by_label("Action").select_option("request.approved")
    expect(page.locator("#audit-rows tbody tr")).to_have_count(1)
    expect(page.locator("#audit-rows tbody tr")).to_contain_text(dpo.email)  # the actor is named
    assert_accessible(page)


def test_a_dpo_approves_an_erasure_in_part_and_the_certificate_names_the_hold(page, app, live_server, make_user,
                                                                               smtp, job_worker):
    import io
    from datetime import timedelta
    from pathlib import Path

    import pypdf

    from app.db import database
    from app.models import PrivacyRequest, User
    from app.models.base import utcnow
    from app.services.demo import seed_demo

    with app.app_context(), database.connection_context():
        seed_demo(Path(app.instance_path))
        alice = User.by_email("alice@example.com")
        now = utcnow()
        erasure = PrivacyRequest.create(user=alice, kind="deletion", status="pending_review", jurisdiction="GDPR",
                                        received_at=now - timedelta(days=35), due_at=now - timedelta(days=4),
                                        confirmed_at=now - timedelta(days=34))
    dpo = make_user(Role.DPO)
    sign_in(page, dpo.email, TEST_PASSWORD, TEST_TOTP_SECRET)
    page.goto("/dpo/requests")
    with htmx_exchange(page, "/dpo/requests"):
        page.get_by_label("Due").select_option("overdue")
    row = page.locator("#queue-rows tbody tr", has_text=f"#{erasure.id} Erase my data")
    expect(row).to_contain_text("Overdue by 4 days")
    row.get_by_role("link").click()
    page.get_by_label("Payment methods").check()
    page.get_by_label("Legal ground for keeping them").fill(
        "Invoices must be kept for 10 years under tax law (GDPR Art. 17(3)(b)).")
    page.get_by_label("Kept until (at the latest)").fill("2036-12-31")
    assert_accessible(page)
    page.screenshot(path="test-artifacts/dpo-approve-in-part.png", full_page=True)
    smtp.clear()
    page.get_by_role("button", name="Approve and erase").click()
    expect(page.get_by_text(f"Request {erasure.id} approved in part; the person was told.")).to_be_visible()

    told = text_of(smtp.wait_for("alice@example.com"))
    assert "approved in part" in told and "Payment methods" in told
    certificate = wait_for_attachment(smtp, "alice@example.com", "certificate-of-erasure.pdf")  # from the job
    pages = pypdf.PdfReader(io.BytesIO(certificate.get_content())).pages
    text = " ".join(" ".join(p.extract_text() for p in pages).split())
    assert "Payment methods kept" in text and "10 years under tax law" in text and "Until 31 December 2036" in text
    page.reload()
    expect(page.get_by_text("Done")).to_be_visible()
    assert_accessible(page)


def wait_for_attachment(smtp, to: str, filename: str, timeout: float = HANG_GUARD_MS / 1000):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(smtp.messages):
            if to in message["To"]:
                found = [p for p in message.iter_attachments() if p.get_filename() == filename]
                if found:
                    return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no {filename} mailed to {to} within {timeout}s")
