"""The retention console: the DPO changes a policy and sees the preview change, runs
it now, watches its progress and finds it in the history. In a real browser, and
through the pages' forms for the details."""
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.db import database
from app.models import CallLog, Role
from app.models.base import utcnow
from app.models.retention import RetentionPolicy
from tests.conftest import TEST_PASSWORD, TEST_TOTP_SECRET
from tests.support.browser import assert_accessible, sign_in
from tests.support.forms import post_form


def calls(app, person, *days_ago):
    with app.app_context(), database.connection_context():
        CallLog.insert_many([{"owner": person.id, "number": "+44 20 7946 0000", "direction": "inbound",
                              "called_at": utcnow() - timedelta(days=d)} for d in days_ago]).execute()


def policy_id(app, category: str) -> int:
    with app.app_context(), database.connection_context():
        from app.services.retention import policies
        return policies.policy(category).row.id


@pytest.mark.browser
def test_the_dpo_changes_a_policy_previews_runs_it_and_finds_the_run(app, page, live_server, make_user,
                                                                      job_worker):
    alice, dpo = make_user(Role.SUBJECT), make_user(Role.DPO)
    calls(app, alice, 800, 400, 10)
    sign_in(page, dpo.email, TEST_PASSWORD, TEST_TOTP_SECRET)
    page.get_by_role("link", name="Retention").first.click()
    expect(page.get_by_role("heading", name="Retention", exact=True)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Call logs").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("1 row from before")

    page.get_by_label("Keep for (days)").fill("365")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_text("Saved the policy for Call logs")).to_be_visible()
    expect(preview).to_contain_text("2 rows from before")
    assert_accessible(page)

    page.get_by_role("button", name="Run this policy now").click()
    expect(page.get_by_role("progressbar").or_(page.get_by_text("finished")).first).to_be_visible()
    expect(page.get_by_text("2 rows acted on")).to_be_visible()
    expect(page.get_by_role("row", name="Call logs 2")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Run history").click()
    expect(page.get_by_role("cell", name="Call logs: 2")).to_be_visible()
    expect(page.locator("#removed-desc")).to_contain_text("2 rows in the last 12 weeks")
    assert_accessible(page)
    with app.app_context(), database.connection_context():
        assert CallLog.select().count() == 1


def test_a_bad_policy_gets_field_errors_and_changes_nothing(app, client, login_as):
    login_as(Role.DPO)
    url = f"/dpo/retention/{policy_id(app, 'Devices and push tokens')}"
    zero = post_form(client, url, {"days": "0", "action": "delete", "enabled": "y"})
    assert zero.status_code == 400 and "between 1 and 3,650 days" in zero.text
    words = post_form(client, url, {"days": "ninety", "action": "delete", "enabled": "y"})
    assert words.status_code == 400 and "Keep for (days)" in words.text
    blanked = post_form(client, url, {"days": "90", "action": "anonymise", "enabled": "y"})
    assert blanked.status_code == 400 and "cannot be anonymised" in blanked.text
    with app.app_context(), database.connection_context():
        row = RetentionPolicy.get(RetentionPolicy.category == "Devices and push tokens")
        assert (row.days, row.action) == (90, "delete")


def test_unknown_policies_and_runs_are_not_found(app, client, login_as):
    login_as(Role.DPO)
    assert client.get("/dpo/retention/999999").status_code == 404
    assert client.get("/dpo/retention/runs/999999").status_code == 404
    assert post_form(client, "/dpo/retention/run", {"category": "No such data"},
                     token_from="/dpo/retention").status_code == 404


def test_people_are_told_the_period_the_dpo_now_enforces_not_the_registry_default(app, client, login_as, make_user):
    alice = make_user(Role.SUBJECT)
    calls(app, alice, 10)
    login_as(Role.DPO)
    changed = post_form(client, f"/dpo/retention/{policy_id(app, 'Call logs')}",
                        {"days": "365", "action": "delete", "enabled": "y"})
    assert changed.status_code == 303, changed.text
    browser = app.test_client()  # alice's own
    assert post_form(browser, "/login", {"email": alice.email, "password": TEST_PASSWORD}).status_code == 303
    for page in ("/portal/", "/my-data/"):
        text = browser.get(page).text
        assert "Deleted 1 year after the call was made." in text, page
        assert "24 months." not in text.split("Call logs")[1][:2000], page  # the registry's default is gone


def test_a_paused_policy_promises_no_period(app, client, login_as, make_user):
    alice = make_user(Role.SUBJECT)
    calls(app, alice, 10)
    login_as(Role.DPO)
    paused = post_form(client, f"/dpo/retention/{policy_id(app, 'Call logs')}", {"days": "730", "action": "delete"})
    assert paused.status_code == 303, paused.text
    browser = app.test_client()
    assert post_form(browser, "/login", {"email": alice.email, "password": TEST_PASSWORD}).status_code == 303
    text = browser.get("/my-data/").text.split("Call logs")[1][:2000]
    assert "retention period, which is paused for now" in text and "24 months." not in text
