"""Restriction and objection carried out, in a real browser (issue 15's acceptance):

- alice asks for a restriction, the DPO approves it and sees her on the restrictions
  page; the next newsletter send and the next integration sync skip her;
- alice objects to the analysis of her recorded calls, the DPO approves it; call
  analysis stops (the consent API and her preferences say so) while her marketing
  choices stay as they were.

Every page visited passes axe-core; the newsletter send and the sync run as the
scheduler runs them (the job runner, jobs/sync_integrations)."""
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

import jobs.sync_integrations
from app.db import database
from app.models import PrivacyRequest, Role
from app.services.rights import restrictions
from tests.conftest import CLIENT_ID, CLIENT_SECRET, TEST_PASSWORD, TEST_TOTP_SECRET, browser_tab
from tests.support.browser import assert_accessible, sign_in
from tests.support.smtp import text_of
from tests.test_consent_api import ask, new_key
from tests.test_integrations import alice as alice  # noqa: F401  (alice, signed in to `client`, with contacts)
from tests.test_integrations import connect, leads_of, run_jobs
from tests.test_newsletter_sending import allow, messages_to, send, subscriber

pytestmark = pytest.mark.browser
CALLS_STOPPED = "Analysis of recorded calls stopped; your marketing choices are unchanged."


@pytest.fixture
def staff_tab(chromium, live_server, request, make_user):
    """A second browser, the DPO's, signed in with password and TOTP."""
    dpo = make_user(Role.DPO, email="dana.dpo@example.com")
    with browser_tab(chromium, live_server, request) as tab:
        sign_in(tab, dpo.email, TEST_PASSWORD, TEST_TOTP_SECRET)
        yield tab


def shot(tab, name: str) -> None:
    """A screenshot beside the automatic one (which shows each tab's last page)."""
    folder = Path(__file__).resolve().parents[1] / "test-artifacts"
    folder.mkdir(exist_ok=True)
    tab.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def file_from_the_requests_page(page, kind_label: str, details: str, processing: str | None = None) -> None:
    page.get_by_role("link", name="Requests").first.click()
    assert_accessible(page)
    page.get_by_label("What do you want us to do?").select_option(label=kind_label)
    if processing:
        page.get_by_role("group", name="If you object: what do you object to?").get_by_label(processing).check()
    page.get_by_label("Anything we should know (optional)").fill(details)
    if processing:
        shot(page, "objection-form")
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_text(re.compile("^Request received: "))).to_be_visible()
    assert_accessible(page)


def open_the_request(tab, person_email: str) -> None:
    tab.get_by_role("link", name="Requests").first.click()
    tab.get_by_role("row", name=re.compile(re.escape(person_email))).get_by_role("link").first.click()
    assert_accessible(tab)


def test_a_restriction_is_approved_and_the_next_newsletter_send_and_sync_skip_the_person(
        app, page, staff_tab, live_server, client, provider, alice, smtp, sales, newsletter, make_user):  # noqa: F811
    provider.add_client(CLIENT_ID, CLIENT_SECRET, [f"{live_server}/integrations/google_contacts/callback"])
    connect(client, provider, alice.email)
    run_jobs(app)
    assert len(leads_of(app, alice)) == 3
    allow(app, alice, newsletter.purpose.key)
    subscriber(app, make_user, newsletter, "bob@example.com")

    sign_in(page, alice.email, TEST_PASSWORD)
    file_from_the_requests_page(page, "Restrict the use of my data", "I dispute how my contacts are used.")

    open_the_request(staff_tab, alice.email)
    expect(staff_tab.get_by_role("heading", name=re.compile("Restrict the use of my data"))).to_be_visible()
    staff_tab.get_by_role("button", name="Approve").click()
    expect(staff_tab.get_by_text(re.compile(r"Request \d+ approved; the person was told"))).to_be_visible()
    expect(staff_tab.get_by_text("Restriction requested and approved since")).to_be_visible()
    staff_tab.get_by_role("link", name="Restrictions").first.click()
    row = staff_tab.get_by_role("row", name=re.compile(re.escape(alice.email)))
    expect(row).to_contain_text("Restriction requested and approved")
    assert_accessible(staff_tab)
    shot(staff_tab, "dpo-restrictions")
    assert "Your data is now restricted" in text_of(smtp.wait_for(alice.email))

    # The next sync: her contacts at Google changed, but nothing is fetched.
    provider.add_contact(alice.email, "Eve Evans", email="eve@example.org")
    assert jobs.sync_integrations.run(app) == 0
    run_jobs(app)
    assert "Eve Evans" not in [lead.name for lead in leads_of(app, alice)]
    # The next newsletter send: bob gets it, alice does not.
    issue = send(app, newsletter, sales, subject="Spring is here")
    assert issue.sent_count == 1 and messages_to(smtp, "bob@example.com")
    assert "Spring is here" not in [m["Subject"] for m in messages_to(smtp, alice.email)]

    page.reload()
    expect(page.get_by_role("heading", name="The use of your data is restricted")).to_be_visible()
    expect(page.get_by_text(re.compile("Restriction in force: your data is stored but not used"))).to_be_visible()
    assert_accessible(page)


def test_an_objection_to_call_analysis_is_approved_and_stops_it_while_marketing_stays(
        app, page, staff_tab, client, smtp, make_user):
    key = new_key(make_user)
    alice = make_user(Role.SUBJECT, email="alice@example.com", name="Alice")
    allow(app, alice, "marketing_email", "sms_marketing", "call_analysis")
    before = ask(client, key, alice.email).json["purposes"]

    sign_in(page, alice.email, TEST_PASSWORD)
    file_from_the_requests_page(page, "Object to the use of my data", "I never agreed to call coaching.",
                                processing="Analysis of recorded calls")
    expect(page.get_by_text("You object to: Analysis of recorded calls")).to_be_visible()

    open_the_request(staff_tab, alice.email)
    expect(staff_tab.get_by_text(re.compile("Analysis of recorded calls \\(weigh it"))).to_be_visible()
    staff_tab.get_by_role("button", name="Approve").click()
    expect(staff_tab.get_by_text(re.compile(r"Request \d+ approved; the person was told"))).to_be_visible()
    expect(staff_tab.get_by_role("region", name="Timeline")).to_contain_text(CALLS_STOPPED)
    assert_accessible(staff_tab)
    shot(staff_tab, "dpo-objection-approved")

    decided = [m for m in messages_to(smtp, alice.email) if "approved" in m["Subject"]]
    assert CALLS_STOPPED in text_of(decided[0])
    after = ask(client, key, alice.email).json["purposes"]
    assert (after["call_analysis"]["granted"], after["call_analysis"]["objected"]) == (False, True)
    for marketing in ("marketing_email", "sms_marketing", "postal_offers", "click_tracking"):
        assert after[marketing]["granted"] == before[marketing]["granted"], marketing
    assert after["marketing_email"]["granted"] is True

    page.reload()
    expect(page.get_by_text(CALLS_STOPPED).first).to_be_visible()
    shot(page, "objection-timeline")
    page.get_by_role("link", name="Preferences").first.click()
    expect(page.get_by_role("switch", name="Analysis of recorded calls")).to_have_attribute("aria-checked", "false")
    expect(page.get_by_role("switch", name="Marketing email")).to_have_attribute("aria-checked", "true")
    assert_accessible(page)
    with app.app_context(), database.connection_context():
        assert not restrictions.is_restricted(alice)  # the restriction while it was weighed has ended
        assert PrivacyRequest.get(PrivacyRequest.user == alice.id).status == "completed"
