"""Sub-processor change notices end to end, in a real browser (issue 9): the DPO adds
a sub-processor on /dpo/subprocessors/new; every customer admin with a signed or
countersigned DPA is emailed over real SMTP, naming it and the 30-day deadline to
object by (one without a signed DPA is not); the customer signs in, follows the
email's link, objects with a reason; the DPO, in their own browser, sees the
objection. Every page visited passes axe-core. The rules themselves are tested
through the test client in test_subprocessor_notices.py."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.models import Role
from app.models.base import utcnow
from tests.conftest import TEST_PASSWORD, TEST_TOTP_SECRET, browser_tab
from tests.support.browser import assert_accessible, sign_in
from tests.support.smtp import text_of
from tests.test_subprocessor_notices import MAILER, with_dpa

REASON = "We cannot send data to the US."


def add_mailer(page):
    """The DPO fills in and submits the "add" form with MAILER's details."""
    page.get_by_role("link", name="Sub-processors", exact=True).click()
    page.get_by_role("link", name="Add a sub-processor").click()
    page.get_by_label("Company name").fill(MAILER["name"])
    page.get_by_label("What it does with the data").fill(MAILER["purpose"])
    page.get_by_label("Processing data since").fill(MAILER["since"])
    for category in MAILER["data_categories"]:
        page.get_by_label(category, exact=True).check()
    page.get_by_label("Where it processes the data").select_option(MAILER["country"])
    page.get_by_label("SCC module 3 (processor to processor)").check()
    page.get_by_label("Reason for this change").fill(MAILER["reason"])
    assert_accessible(page)
    page.get_by_role("button", name="Add to the register").click()
    expect(page.get_by_text(f"Added {MAILER['name']} to the register.")).to_be_visible()
    assert_accessible(page)


@pytest.mark.browser
def test_the_dpo_adds_a_subprocessor_a_customer_is_emailed_objects_and_the_dpo_sees_it(
        app, page, chromium, live_server, request, make_user, smtp):
    acme = with_dpa(app, make_user, "countersigned")
    signer = with_dpa(app, make_user, "signed")
    unsigned = with_dpa(app, make_user, "generated")
    sign_in(page, make_user(Role.DPO).email, TEST_PASSWORD, TEST_TOTP_SECRET)
    add_mailer(page)

    deadline = (utcnow().date() + timedelta(days=30)).strftime("%d %B %Y")
    mail = smtp.wait_for(acme.email)
    body = text_of(mail)
    assert mail["Subject"] == "New sub-processor: Mailwise Ltd"
    assert "Name: Mailwise Ltd" in body and f"You may object to this change until {deadline}" in body
    (link,) = re.findall(r"https?://\S+/customer/notices\S*", body)
    assert link == f"{live_server}/customer/notices"
    smtp.wait_for(signer.email)
    assert sorted(m["To"] for m in smtp.messages) == sorted([acme.email, signer.email])  # not `unsigned`
    assert unsigned.email not in {m["To"] for m in smtp.messages}

    with browser_tab(chromium, live_server, request) as customer:
        sign_in(customer, acme.email, TEST_PASSWORD)
        customer.goto(link)
        notice = customer.get_by_role("article", name="New sub-processor: Mailwise Ltd")
        expect(notice).to_contain_text(f"Object by{deadline}")
        assert_accessible(customer)
        notice.get_by_role("button", name="Object to this change").click()
        expect(customer.get_by_text("Say why your company objects to this change.")).to_be_visible()
        assert_accessible(customer)
        notice = customer.get_by_role("article", name="New sub-processor: Mailwise Ltd")
        notice.get_by_label("Why does your company object to this change?").fill(REASON)
        notice.get_by_role("button", name="Object to this change").click()
        expect(customer.get_by_text("Your objection is recorded.")).to_be_visible()
        expect(notice.get_by_text("Objected ")).to_be_visible()
        expect(notice.locator("blockquote")).to_have_text(REASON)
        expect(notice.get_by_role("button", name="Object to this change")).to_have_count(0)
        assert_accessible(customer)

    page.get_by_role("link", name="Sub-processors", exact=True).click()
    page.get_by_role("link", name="Customers' objections to changes").click()
    row = page.get_by_role("row", name="Mailwise Ltd")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Acme GmbH")  # the company, from its signed DPA
    expect(row).to_contain_text(acme.email)
    expect(row).to_contain_text(REASON)
    expect(page.get_by_text(signer.email)).to_have_count(0)  # the other customer did not object
    assert_accessible(page)
