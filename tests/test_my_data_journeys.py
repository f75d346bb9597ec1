"""My data in a real browser: every category that can concern her (those holding nothing
folded away), then an export from request to ZIP."""
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.db import database
from app.models import User
from app.models.registry import Audience
from app.services.demo import seed_demo
from app.services.rights.personal_data import registry_entries, rows_of, slug_of
from tests.support.browser import assert_accessible, htmx_exchange, sign_in
from tests.support.smtp import text_of

pytestmark = pytest.mark.browser


def test_alice_sees_every_category_and_downloads_her_export(page, app, live_server, smtp, job_worker):
    with app.app_context(), database.connection_context():
        seed_demo(Path(app.instance_path))
    sign_in(page, "alice@example.com", "demo")
    page.get_by_role("link", name="My data").click()
    with database.connection_context():
        alice = User.by_email("alice@example.com")
        held = {e.category for e in registry_entries() if rows_of(e, alice).exists()}
    fold = page.locator("details.nothing-held")
    expect(fold).not_to_have_attribute("open", "")  # what holds nothing is folded away at first
    assert_accessible(page)
    fold.locator("summary").click()  # and one click shows it
    for entry in registry_entries():
        heading = page.get_by_role("heading", name=re.compile("^" + re.escape(entry.category) + " ·"))
        if entry.category in held or entry.audience is Audience.END_USERS:
            expect(heading).to_be_visible()
        else:  # a staff or business-customer category she has nothing in
            expect(heading).to_have_count(0)
    assert_accessible(page)

    with htmx_exchange(page, "/my-data/export"):
        page.get_by_role("button", name="Export my data").click()
    expect(page.get_by_role("progressbar")).to_be_visible()  # polled by htmx while the job runs
    expect(page.get_by_role("link", name="Download my data (ZIP)")).to_be_visible()
    assert_accessible(page)

    mail = text_of(smtp.wait_for("alice@example.com"))
    link = re.search(r"http://\S+/my-data/exports/\d+/download", mail).group()
    assert link.startswith(live_server)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (ZIP)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    data = json.loads(archive.read("data.json"))
    with database.connection_context():
        alice = User.by_email("alice@example.com")
        for entry in registry_entries():
            if slug_of(entry) == "outbox_message":  # "your export is ready" was written once it was built
                assert len(data["categories"]["outbox_message"]["rows"]) == rows_of(entry, alice).count() - 1
            elif slug_of(entry) != "audit_events":  # the export itself is audited after it was built
                assert len(data["categories"][slug_of(entry)]["rows"]) == rows_of(entry, alice).count()
    assert "index.html" in archive.namelist()

    page.goto("/portal/")  # the portal folds the same way, and stays accessible unfolded
    page.locator("details.nothing-held summary").click()
    fold = page.locator("details.nothing-held")
    expect(fold.get_by_role("heading", name="Consent evidence from imports")).to_be_visible()
    expect(page.get_by_text("(staff)")).to_have_count(0)
    assert_accessible(page)


def test_alice_asks_for_erasure_cancels_asks_again_and_is_erased(page, app, live_server, smtp, runner, job_worker):
    from datetime import timedelta

    from app.models import PrivacyRequest
    from app.models.base import utcnow
    from app.services.rights.requests import end_cooling_off

    with app.app_context(), database.connection_context():
        seed_demo(Path(app.instance_path))

    def ask():
        smtp.clear()
        page.goto("/requests/")
        page.get_by_label("What do you want us to do?").select_option("deletion")
        page.get_by_role("button", name="Send the request").click()
        expect(page.get_by_text("Check your email")).to_be_visible()
        link = re.search(r"http://\S+/requests/confirm/\S+", text_of(smtp.wait_for("alice@example.com"))).group()
        page.goto(link)
        assert_accessible(page)
        page.get_by_role("button", name="Yes, erase my data").click()
        expect(page.get_by_role("heading", name="Erasure confirmed")).to_be_visible()
        page.goto("/requests/")

    sign_in(page, "alice@example.com", "demo")
    ask()
    assert_accessible(page)
    page.get_by_role("button", name="Cancel this request").first.click()
    expect(page.get_by_text("Request cancelled. Nothing was erased.")).to_be_visible()

    ask()
    with app.app_context(), database.connection_context():
        PrivacyRequest.update(cooling_off_until=utcnow() - timedelta(seconds=1)).where(
            PrivacyRequest.status == "cooling_off").execute()
        end_cooling_off()
        request_id = PrivacyRequest.get(PrivacyRequest.status == "pending_review", PrivacyRequest.kind == "deletion",
                                        PrivacyRequest.user == User.by_email("alice@example.com").id).id
    smtp.clear()
    assert runner.invoke(args=["requests", "approve", str(request_id)]).exit_code == 0
    notice = smtp.wait_for("alice@example.com")  # from the job, with its certificate
    assert any(p.get_filename() == "certificate-of-erasure.pdf" for p in notice.iter_attachments())

    page.goto("/portal/")
    assert "/login" in page.url  # the account is closed: the session no longer holds
    sign_in(page, "alice@example.com", "demo")
    expect(page.get_by_text("do not match an account")).to_be_visible()
