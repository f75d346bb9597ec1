"""The sub-processor register: the DPO adds, changes and removes sub-processors
through the pages; every change is a kept, audited version; the register as it
stood at a past moment can be rebuilt; bad entries get field errors and save
nothing; nobody but the DPO and admins gets in."""
import json
import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from app.db import database
from app.models import AuditEvent, Role, Subprocessor, SubprocessorVersion
from app.models.base import utcnow
from app.services.agreements import subprocessors
from app.services.agreements.subprocessors import Details, SubprocessorError
from app.services.rights.erasure import ANONYMISERS
from tests.conftest import TEST_PASSWORD, TEST_TOTP_SECRET
from tests.support.browser import assert_accessible, sign_in
from tests.support.forms import post_form

MAILER = {"name": "Mailwise Ltd", "purpose": "Delivers the transactional emails.",
          "data_categories": ["Account", "Email engagement"], "country": "IE", "transfer_mechanism": "none",
          "since": "2024-03-01", "reason": "New email provider after a tender."}


def rows(app, model, *where):
    with app.app_context(), database.connection_context():
        return list(model.select().where(*where).order_by(model.id)) if where else list(
            model.select().order_by(model.id))


def audited(app, prefix="subprocessor."):
    return [e for e in rows(app, AuditEvent) if e.action.startswith(prefix)]


def details(name="Mailwise Ltd", country="IE", mechanism="none", uk=False, categories=("Account",)):
    return Details(name, "Delivers the transactional emails.", list(categories), country, mechanism, uk,
                   date(2024, 3, 1))


def test_one_announced_for_a_later_date_is_shown_as_starting_then(client, login_as):
    login_as(Role.DPO)
    start = utcnow().date() + timedelta(days=40)
    added = post_form(client, "/dpo/subprocessors/new", {**MAILER, "since": start.isoformat()})
    assert added.status_code == 303, added.text
    register = client.get("/dpo/subprocessors").text
    assert f"From {start.strftime('%d %b %Y')} <span class=\"muted\">(announced)</span>" in register


def test_the_dpo_adds_changes_and_removes_a_subprocessor_each_a_kept_audited_version(app, client, login_as):
    dpo = login_as(Role.DPO)
    added = post_form(client, "/dpo/subprocessors/new", MAILER)
    assert added.status_code == 303 and added.headers["Location"] == "/dpo/subprocessors"
    register = client.get("/dpo/subprocessors").text
    assert "Added Mailwise Ltd to the register." in register
    assert "Mailwise Ltd" in register and "Ireland (IE)" in register and "Email engagement" in register
    (row,) = rows(app, Subprocessor)
    url = f"/dpo/subprocessors/{row.id}"

    moved = post_form(client, url, {**MAILER, "country": "US", "transfer_mechanism": "scc_module_3",
                                    "uk_addendum": "y", "reason": "Moved to their US data centre."})
    assert moved.status_code == 303 and moved.headers["Location"] == url
    page = client.get(url).text
    assert "Saved version 2 of Mailwise Ltd." in page
    assert "SCC module 3 (processor to processor), with the UK Addendum" in page
    assert "Moved to their US data centre." in page and "New email provider after a tender." in page

    same = post_form(client, url, {**MAILER, "country": "US", "transfer_mechanism": "scc_module_3",
                                   "uk_addendum": "y", "reason": "Just looking."})
    assert same.status_code == 303
    assert "Nothing changed" in client.get(url).text

    removed = post_form(client, f"{url}/remove", {"removal_reason": "Contract ended; data deleted."}, token_from=url)
    assert removed.status_code == 303 and removed.headers["Location"] == "/dpo/subprocessors"
    register = client.get("/dpo/subprocessors").text
    assert "Removed Mailwise Ltd from the register." in register
    assert "No sub-processor is on the register." in register and "Removed from the register" in register
    assert "Contract ended; data deleted." in client.get(url).text  # the history stays readable

    (row,) = rows(app, Subprocessor)
    assert row.removed_at is not None and row.version == 3 and row.country == "US"
    versions = rows(app, SubprocessorVersion)
    assert [(v.number, v.change, v.country, v.transfer_mechanism, v.uk_addendum) for v in versions] == [
        (1, "added", "IE", "none", False), (2, "changed", "US", "scc_module_3", True),
        (3, "removed", "US", "scc_module_3", True)]
    assert {v.changed_by_id for v in versions} == {dpo.id}
    assert versions[0].categories == ["Account", "Email engagement"] and versions[0].since == date(2024, 3, 1)
    events = audited(app)
    assert [e.action for e in events] == ["subprocessor.added", "subprocessor.changed", "subprocessor.removed"]
    assert [json.loads(e.details)["version_id"] for e in events] == [v.id for v in versions]
    assert {e.actor_id for e in events} == {dpo.id}
    assert json.loads(events[1].details)["fields"] == ["country", "transfer_mechanism", "uk_addendum"]
    assert not any(dpo.email in e.details or "Contract ended" in e.details for e in events)


def test_the_register_as_of_a_past_moment(app, db):
    now = utcnow()
    t = {days: now - timedelta(days=days) for days in (30, 20, 10, 5)}
    mailer = subprocessors.add_subprocessor(details(), "Engaged.", None, now=t[30])
    sms = subprocessors.add_subprocessor(details("Texto AB", "SE"), "Engaged.", None, now=t[30])
    subprocessors.change_subprocessor(mailer.id, details(country="US", mechanism="scc_module_3"),
                                      "Moved to the US.", None, now=t[10])
    subprocessors.remove_subprocessor(sms.id, "Contract ended.", None, now=t[5])
    later = subprocessors.add_subprocessor(details("Cloudy GmbH", "DE"), "Engaged.", None, now=now)

    def as_of(moment):
        return [(v.name, v.country) for v in subprocessors.register_as_of(moment)]

    assert as_of(t[30] - timedelta(seconds=1)) == []
    assert as_of(t[20]) == [("Mailwise Ltd", "IE"), ("Texto AB", "SE")]  # the old location, before the move
    assert as_of(t[10]) == [("Mailwise Ltd", "US"), ("Texto AB", "SE")]
    assert as_of(t[5] - timedelta(seconds=1)) == [("Mailwise Ltd", "US"), ("Texto AB", "SE")]  # still listed
    assert as_of(t[5]) == [("Mailwise Ltd", "US")]  # removed
    assert as_of(now) == [("Cloudy GmbH", "DE"), ("Mailwise Ltd", "US")]
    assert as_of((now - timedelta(days=20)).date()) == [("Mailwise Ltd", "IE"), ("Texto AB", "SE")]  # a date: its end
    assert [v.number for v in subprocessors.history(mailer.id)] == [2, 1]
    assert [s.name for s in subprocessors.list_subprocessors()] == ["Cloudy GmbH", "Mailwise Ltd"]
    assert later.version == 1


def test_the_register_page_shows_a_past_date(app, client, login_as):
    login_as(Role.DPO)
    with app.app_context(), database.connection_context():
        row = subprocessors.add_subprocessor(details(), "Engaged.", None, now=utcnow() - timedelta(days=30))
        subprocessors.change_subprocessor(row.id, details(country="US", mechanism="scc_module_3"), "Moved.", None)
    before = (utcnow() - timedelta(days=20)).date().isoformat()
    today = client.get("/dpo/subprocessors").text
    assert "United States (US)" in today and "Ireland (IE)" not in today
    past = client.get(f"/dpo/subprocessors?as_of={before}")
    assert past.status_code == 200 and "Ireland (IE)" in past.text and "United States (US)" not in past.text
    assert "The register as of" in past.text and "(version 1)" in past.text
    fragment = client.get(f"/dpo/subprocessors?as_of={before}", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "Ireland (IE)" in fragment.text
    assert fragment.headers["Vary"].count("HX-Request") >= 1
    long_ago = client.get("/dpo/subprocessors?as_of=2001-01-01").text
    assert "No sub-processor was on the register then." in long_ago


@pytest.mark.parametrize("change,field,message", [
    ({"country": "US"}, "transfer_mechanism", "United States is outside the EEA and has no adequacy decision"),
    ({"country": "IN", "transfer_mechanism": "adequacy"}, "transfer_mechanism", "choose the SCC module"),
    ({"country": "CH"}, "transfer_mechanism", "Switzerland is outside the EEA"),
    ({"transfer_mechanism": "scc_module_2"}, "transfer_mechanism", "Ireland is in the EEA"),
    ({"uk_addendum": "y"}, "uk_addendum", "The UK Addendum amends the SCCs"),
    ({"data_categories": []}, "data_categories", "Choose the categories of personal data"),
    ({"data_categories": ["Account", "Horoscopes"]}, "data_categories", "Not in the personal-data registry: Horoscopes"),
    ({"country": "XX"}, "country", "Choose the country"),
    ({"name": " "}, "name", "Give the company"),
    ({"since": ""}, "since", "Give the date it has processed data since"),
    ({"reason": ""}, "reason", "Say in a few words why"),
])
def test_a_bad_entry_gets_a_field_error_and_saves_nothing(app, client, login_as, change, field, message):
    login_as(Role.DPO)
    response = post_form(client, "/dpo/subprocessors/new", {**MAILER, **change})
    assert response.status_code == 400
    assert message in response.text
    assert f'id="{field}-error"' in response.text
    assert re.search(f'aria-describedby="[^"]*{field}-error"', response.text)  # the error is tied to its input
    assert rows(app, Subprocessor) == [] and rows(app, SubprocessorVersion) == [] and audited(app) == []


def test_several_mistakes_are_shown_at_once(app, client, login_as):
    login_as(Role.DPO)
    response = post_form(client, "/dpo/subprocessors/new", {**MAILER, "country": "US", "reason": "", "name": ""})
    assert response.status_code == 400
    for field in ("name", "transfer_mechanism", "reason"):
        assert f'id="{field}-error"' in response.text


def test_a_bad_change_or_removal_keeps_the_current_version(app, client, login_as):
    login_as(Role.DPO)
    with app.app_context(), database.connection_context():
        row = subprocessors.add_subprocessor(details(), "Engaged.", None)
    url = f"/dpo/subprocessors/{row.id}"
    bad = post_form(client, url, {**MAILER, "country": "US"})
    assert bad.status_code == 400 and "no adequacy decision" in bad.text
    no_reason = post_form(client, f"{url}/remove", {"removal_reason": ""}, token_from=url)
    assert no_reason.status_code == 400 and 'id="removal_reason-error"' in no_reason.text
    (current,) = rows(app, Subprocessor)
    assert (current.version, current.country, current.removed_at) == (1, "IE", None)
    assert len(rows(app, SubprocessorVersion)) == 1


def test_a_removed_subprocessor_cannot_be_changed_and_a_name_is_listed_once(app, db):
    row = subprocessors.add_subprocessor(details(), "Engaged.", None)
    with pytest.raises(SubprocessorError) as taken:
        subprocessors.add_subprocessor(details(name="MAILWISE LTD"), "Again.", None)
    assert taken.value.field == "name"
    subprocessors.remove_subprocessor(row.id, "Ended.", None)
    with pytest.raises(subprocessors.ServiceError) as gone:
        subprocessors.change_subprocessor(row.id, details(country="FR"), "Too late.", None)
    assert gone.value.status == 409
    again = subprocessors.add_subprocessor(details(), "Engaged again.", None)  # a new entry, new history
    assert again.id != row.id and [v.number for v in subprocessors.history(again.id)] == [1]


def test_erasing_a_staff_member_keeps_the_versions_without_their_name(app, db, make_user):
    dpo = make_user(Role.DPO)
    row = subprocessors.add_subprocessor(details(), "Engaged.", dpo)
    ANONYMISERS[SubprocessorVersion](dpo)
    (version,) = subprocessors.history(row.id)
    assert version.changed_by_id is None and version.reason == "Engaged."


def test_unknown_subprocessors_are_not_found(app, client, login_as):
    login_as(Role.DPO)
    assert client.get("/dpo/subprocessors/999999").status_code == 404
    assert post_form(client, "/dpo/subprocessors/999999/remove", {"removal_reason": "Gone."},
                     token_from="/dpo/subprocessors/new").status_code == 404


@pytest.mark.parametrize("role", [Role.SUBJECT, Role.SALES_OPS, Role.CUSTOMER_ADMIN])
def test_only_the_dpo_and_admins_get_in(app, client, login_as, make_user, role):
    with app.app_context(), database.connection_context():
        row = subprocessors.add_subprocessor(details(), "Engaged.", None)
    login_as(role)
    for url in ("/dpo/subprocessors", "/dpo/subprocessors/new", f"/dpo/subprocessors/{row.id}"):
        response = client.get(url)
        assert response.status_code == 403 and "You do not have access to this page" in response.text
    token_page = {Role.SUBJECT: "/portal/", Role.SALES_OPS: "/sales/", Role.CUSTOMER_ADMIN: "/customer/"}[role]
    assert post_form(client, "/dpo/subprocessors/new", MAILER, token_from=token_page).status_code == 403
    assert post_form(client, f"/dpo/subprocessors/{row.id}/remove", {"removal_reason": "Not mine."},
                     token_from=token_page).status_code == 403
    assert len(rows(app, SubprocessorVersion)) == 1


def test_admins_see_the_register_and_both_navs_link_it(app, client, login_as):
    from app.web.navigation import NAVIGATION
    for role in (Role.DPO, Role.ADMIN):
        assert NAVIGATION[role].count(("dpo.subprocessors_register", "Sub-processors")) == 1
    login_as(Role.ADMIN)
    page = client.get("/dpo/subprocessors")
    assert page.status_code == 200 and re.search(r'<a href="/dpo/subprocessors"[^>]*>Sub-processors</a>', page.text)


def test_without_a_login_the_register_sends_to_sign_in(client):
    response = client.get("/dpo/subprocessors")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")


@pytest.mark.browser
def test_the_dpo_adds_a_subprocessor_and_sees_it_in_the_register(app, page, live_server, make_user):
    dpo = make_user(Role.DPO)
    sign_in(page, dpo.email, TEST_PASSWORD, TEST_TOTP_SECRET)
    page.get_by_role("link", name="Sub-processors").first.click()
    expect(page.get_by_role("heading", name="Sub-processors", exact=True)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Add a sub-processor").click()

    page.get_by_label("Company name").fill("Pushy Inc.")
    page.get_by_label("What it does with the data").fill("Delivers push notifications.")
    page.get_by_label("Processing data since").fill("2025-01-15")
    page.get_by_label("Devices and push tokens", exact=True).check()
    page.get_by_label("Where it processes the data").select_option("US")
    page.get_by_label("None needed (within the EEA)").check()
    page.get_by_label("Reason for this change (kept in the history)").fill("New push provider.")
    page.get_by_role("button", name="Add to the register").click()
    expect(page.locator("#transfer_mechanism-error")).to_contain_text("United States is outside the EEA")
    assert_accessible(page)

    page.get_by_label("SCC module 3 (processor to processor)").check()
    page.get_by_role("button", name="Add to the register").click()
    expect(page.get_by_text("Added Pushy Inc. to the register.")).to_be_visible()
    row = page.get_by_role("row", name="Pushy Inc.")
    expect(row).to_contain_text("United States (US)")
    expect(row).to_contain_text("SCC module 3 (processor to processor)")
    expect(row).to_contain_text("Devices and push tokens")
    assert_accessible(page)
    with app.app_context(), database.connection_context():
        assert [v.change for v in SubprocessorVersion.select()] == ["added"]
