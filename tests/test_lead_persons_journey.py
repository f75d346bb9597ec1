"""In a real browser: someone who exists only as a customer's lead signs in by email
link, sees the rows about them, exports them and has them erased; a scan then finds
nothing of them."""
import io
import json
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.db import database
from app.models import PrivacyRequest
from app.models.base import utcnow
from app.services.rights.personal_data import WITHHELD
from app.services.rights.requests import end_cooling_off
from tests.support.browser import assert_accessible, htmx_exchange
from tests.support.smtp import text_of
from tests.test_erasure import scan_for
from tests.test_lead_persons import LEAD_EMAIL, PHONE, dana_as_lead  # noqa: F401 (a fixture)

pytestmark = pytest.mark.browser


def sign_in_by_link(page, smtp, email):
    page.goto("/login/email")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Send the link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    page.goto(re.search(r"http://\S+/login/email/\S+", text_of(smtp.wait_for(email))).group())
    page.get_by_role("button", name="Continue and sign in").click()
    page.get_by_role("heading", name="Hello").wait_for()


def test_a_lead_only_person_sees_exports_and_erases_the_leads_about_them(
        page, app, live_server, smtp, runner, job_worker, dana_as_lead):
    sign_in_by_link(page, smtp, LEAD_EMAIL)
    page.get_by_role("link", name="My data").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Contacts and leads · 2 records"))).to_be_visible()
    expect(page.get_by_text("2 of these are kept about you by customers of ours")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="See the 2 records in Contacts and leads").click()
    expect(page.get_by_text("Met at the trade fair")).to_be_visible()
    expect(page.get_by_text(WITHHELD).first).to_be_visible()
    assert_accessible(page)
    Path("test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path="test-artifacts/lead-person-rows.png", full_page=True)

    page.goto("/my-data/")
    with htmx_exchange(page, "/my-data/export"):
        page.get_by_role("button", name="Export my data").click()
    expect(page.get_by_role("link", name="Download my data (ZIP)")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (ZIP)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    data = json.loads(archive.read("data.json"))
    assert {r["name"] for r in data["categories"]["lead"]["rows"]} == {"Dana Okafor", "D. Okafor"}
    assert data["categories"]["sms_log"]["rows"][0]["body"] == "See you Tuesday, Dana"

    smtp.clear()
    page.goto("/requests/")
    page.get_by_label("What do you want us to do?").select_option("deletion")
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_text("Check your email")).to_be_visible()
    page.goto(re.search(r"http://\S+/requests/confirm/\S+", text_of(smtp.wait_for(LEAD_EMAIL))).group())
    page.get_by_role("button", name="Yes, erase my data").click()
    expect(page.get_by_role("heading", name="Erasure confirmed")).to_be_visible()
    with app.app_context(), database.connection_context():
        PrivacyRequest.update(cooling_off_until=utcnow() - timedelta(seconds=1)).where(
            PrivacyRequest.status == "cooling_off").execute()
        end_cooling_off()
        request_id = PrivacyRequest.get(PrivacyRequest.status == "pending_review").id
    smtp.clear()
    assert runner.invoke(args=["requests", "approve", str(request_id)]).exit_code == 0
    smtp.wait_for(LEAD_EMAIL)  # the certificate: the job is done
    assert scan_for(app, [LEAD_EMAIL, "Dana Okafor", "D. Okafor", PHONE, "See you Tuesday, Dana"]) == []
