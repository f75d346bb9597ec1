"""The integrations acceptance journey in a real browser: alice connects Google
Contacts on the local authorization server's own sign-in and consent pages, sees the
granted scopes and the imported contacts in My data, switches to two-way (consenting
to write access), and disconnects with deletion: the provider records the
revocation, the contacts are gone, the audit log says so."""
import re
import time

import pytest
from playwright.sync_api import expect

from app.db import database
from app.models import AuditEvent, Job, Lead, Role
from tests.conftest import CLIENT_ID, CLIENT_SECRET, TEST_PASSWORD, browser_tab
from tests.support.browser import HANG_GUARD_MS, assert_accessible, sign_in
from tests.support.oauth_provider import CONTACTS, CONTACTS_READONLY

pytestmark = pytest.mark.browser


@pytest.fixture
def two_origin_page(chromium, live_server, provider, request):
    """A tab that may talk to the app and to the provider, and to nothing else."""
    provider.add_client(CLIENT_ID, CLIENT_SECRET, [f"{live_server}/integrations/google_contacts/callback"])
    with browser_tab(chromium, live_server, request, other_origins=(provider.url,)) as tab:
        yield tab


def test_connect_see_switch_to_two_way_and_disconnect_with_deletion(app, two_origin_page, provider, make_user,
                                                                    job_worker):
    page = two_origin_page
    alice = make_user(Role.SUBJECT, email="alice@example.com", name="Alice")
    provider.add_user(alice.email, "Alice", password="provider password")
    for name in ("Ann Archer", "Bob Baker", "Cy Cole"):
        provider.add_contact(alice.email, name, email=f"{name.split()[0].lower()}@example.org")
    sign_in(page, alice.email, TEST_PASSWORD)

    page.get_by_role("link", name="Integrations").first.click()
    assert_accessible(page)
    page.get_by_role("link", name="Connect Google Contacts").click()
    expect(page.get_by_text("Limited Use requirements")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Continue to Google").click()

    # The provider's own pages: sign in, then consent.
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill("provider password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label(CONTACTS_READONLY, exact=True)).to_be_checked()
    page.get_by_role("button", name="Allow").click()

    expect(page.get_by_text("Google Contacts is connected")).to_be_visible()
    expect(page.locator("#integration-google_contacts")).to_contain_text(CONTACTS_READONLY)
    wait_for_job(app, "integration_sync")  # the first sync runs as a job, which this page does not poll
    page.reload()
    expect(page.get_by_text("3 contacts in the CRM came from this connection")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="My data").first.click()
    page.get_by_role("link", name=re.compile("Contacts and leads")).click()
    expect(page.get_by_text("Bob Baker")).to_be_visible()
    page.get_by_role("link", name="Integrations").first.click()

    page.get_by_label(re.compile("^Both ways")).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Limited Use requirements")).to_be_visible()  # the disclosure before every consent
    page.get_by_role("button", name="Continue to Google").click()
    expect(page.get_by_label(CONTACTS, exact=True)).to_be_checked()  # asked again, now for write access
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_label(re.compile("^Both ways"))).to_be_checked()
    expect(page.locator("#integration-google_contacts")).to_contain_text(CONTACTS)

    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_text(re.compile("everything the connection brought in is deleted"))).to_be_visible()
    assert_accessible(page)
    assert [r["client_id"] for r in provider.revoked] == [CLIENT_ID]
    with app.app_context(), database.connection_context():
        assert not Lead.select().where(Lead.owner == alice.id).exists()
        actions = {e.action for e in AuditEvent.select().where(AuditEvent.subject_ref == alice.id)}
    assert {"integration.connected", "integration.disconnected", "integration.imported_data_deleted"} <= actions


def wait_for_job(app, kind: str) -> None:
    """Until the scheduler has done the `kind` job (the hang guard only stops a job that never ends)."""
    deadline = time.monotonic() + HANG_GUARD_MS / 1000
    with app.app_context(), database.connection_context():
        while not Job.select().where(Job.kind == kind, Job.status == "done").exists():
            assert time.monotonic() < deadline, f"the {kind} job never finished"
            time.sleep(0.1)
