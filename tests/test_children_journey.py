"""A parent reports a child's account, and the DPO erases it: in a real browser."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.db import database
from app.models import PrivacyRequest, Profile, Role, User
from app.models.base import utcnow
from tests.conftest import TEST_PASSWORD, TEST_TOTP_SECRET
from tests.support.browser import assert_accessible, sign_in
from tests.support.smtp import text_of
from tests.test_journeys import wait_for_attachment

pytestmark = pytest.mark.browser


def test_a_parent_reports_a_childs_account_and_the_dpo_erases_it(page, live_server, make_user, smtp, job_worker):
    child = make_user(Role.SUBJECT, email="kid@example.com", name="Kim Young")
    with database.connection_context():
        Profile.create(user=child, country="DE", birth_date=utcnow().date() - timedelta(days=12 * 366))
    dpo = make_user(Role.DPO)

    # The parent, signed in nowhere, finds the form from the public privacy page.
    page.goto("/privacy")
    page.locator("#children").get_by_role("link", name="report a child's data").click()
    assert_accessible(page)
    page.get_by_label("Your email address").fill("parent@example.com")
    page.get_by_label("Parent", exact=True).check()
    page.get_by_label("The child's email address").fill("kid@example.com")
    page.get_by_label("Anything that helps us find the child's data (optional)").fill("My daughter is 12.")
    page.get_by_role("button", name="Send the report").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    assert_accessible(page)

    link = re.search(r"http://\S+/report-a-child/confirm/\S+", text_of(smtp.wait_for("parent@example.com"))).group()
    page.goto(link)
    expect(page.get_by_text("kid@example.com")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Confirm the report").click()
    page.get_by_role("heading", name="Thank you: your report is with our privacy team").wait_for()
    assert_accessible(page)

    # The DPO sees it first, flagged, and approves it.
    sign_in(page, dpo.email, TEST_PASSWORD, TEST_TOTP_SECRET)
    page.goto("/dpo/requests")
    reports = page.locator("#child-reports")
    expect(reports).to_contain_text("kid@example.com")
    expect(page.locator("#queue-rows tbody tr").first).to_contain_text("Parent's report: a child")
    assert_accessible(page)
    reports.get_by_role("link").first.click()
    expect(page.locator("#parent-report")).to_contain_text("report about a child")
    assert_accessible(page)
    with database.connection_context():
        request = PrivacyRequest.get(PrivacyRequest.user == child.id)
    page.get_by_role("button", name="Approve and erase").click()
    expect(page.get_by_text(f"Request {request.id} approved; the person was told.")).to_be_visible()

    # The erasure job (the scheduler's loop, here in a thread) erases the account.
    wait_for_attachment(smtp, "kid@example.com", "certificate-of-erasure.pdf")
    page.reload()
    expect(page.get_by_text("Done")).to_be_visible()
    page.screenshot(path="test-artifacts/child-report-erased.png", full_page=True)
    with database.connection_context():
        assert User.by_email("kid@example.com") is None
        assert not Profile.select().where(Profile.user == child.id).exists()
