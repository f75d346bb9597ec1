"""The sales ops acceptance journey in a real browser: create a newsletter, import a
CSV and watch its progress, send an issue, and see the unsubscribe chart move when a
reader unsubscribes with one click, as a mailbox provider sends it."""
import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from app.models import Role
from tests.conftest import TEST_PASSWORD
from tests.support.browser import assert_accessible, htmx_exchange, sign_in

pytestmark = pytest.mark.browser


def test_create_import_send_and_see_the_unsubscribe_chart_move(app, page, live_server, make_user, smtp, job_worker,
                                                              tmp_path):
    staff = make_user(Role.SALES_OPS)
    sign_in(page, staff.email, TEST_PASSWORD)
    page.get_by_role("link", name="Newsletters").first.click()
    page.get_by_role("link", name="New newsletter").click()
    page.get_by_label("Name").fill("Spring offers")
    page.get_by_label("What subscribers will receive").fill("Our spring offers, once, in March.")
    page.get_by_label("Double opt-in", exact=False).uncheck()  # the file carries each person's consent evidence
    page.get_by_role("button", name="Create newsletter").click()

    page.get_by_role("link", name="Import a CSV").click()
    people = tmp_path / "people.csv"
    people.write_text("email,consent evidence,name\nann@example.com,Web form 2 March,Ann\n"
                      "bob@example.com,Web form 3 March,Bob\nnot-an-address,Web form,X\n", encoding="utf-8")
    page.get_by_label("CSV file", exact=True).set_input_files(str(people))
    page.get_by_role("button", name="Upload and check").click()
    page.get_by_role("button", name="Check every row").click()
    expect(page.get_by_role("cell", name="not a valid email address")).to_be_visible()
    page.get_by_role("button", name="Import 2 people").click()
    expect(page.get_by_role("progressbar").or_(page.get_by_text("Import finished")).first).to_be_visible()
    expect(page.get_by_text("Import finished")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Spring offers").first.click()
    page.get_by_role("link", name="Issues: write and send").click()
    page.get_by_label("Subject").fill("Spring is here")
    page.get_by_label("Text", exact=False).fill("Twenty percent off until April: https://example.com/offers")
    page.get_by_role("button", name="Save draft").click()
    with htmx_exchange(page, "/send"):
        page.get_by_role("button", name="Send now").click()
    page.get_by_text("Sent to 2 people").wait_for()

    message = smtp.wait_for("ann@example.com")
    url = re.search(r"<(https?://[^>]+/u/[^>]+)>", message["List-Unsubscribe"]).group(1)
    provider = app.test_client()  # no cookie, no login: as a mailbox provider posts
    answer = provider.post(urlsplit(url).path, data={"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200

    page.goto("/sales/")
    expect(page.locator("#unsubscribes-desc")).to_contain_text("1 unsubscribe in the last 12 weeks")
    expect(page.get_by_role("row", name=re.compile("Spring offers"))).to_contain_text("1")
    assert_accessible(page)
