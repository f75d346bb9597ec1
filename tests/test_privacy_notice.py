"""The public privacy notice (/privacy) is drawn from the registry, the DPO's retention
policies, the sub-processor register and the settings; every page and email names the
Data Protection Officer."""
import html
from datetime import date

import pytest

from app.db import database
from app.models import REGISTRY, Role
from app.services.agreements.subprocessors import Details, add_subprocessor
from tests.conftest import TEST_PASSWORD
from tests.support.browser import assert_accessible
from tests.support.forms import post_form
from tests.support.smtp import text_of

DPO = "Data Protection Officer, dpo@example.com, 1 Example Street, London EC1A 1AA"


def test_anyone_reads_the_notice_with_every_category_and_the_dpo(client):
    response = client.get("/privacy")
    assert response.status_code == 200
    page = html.unescape(response.text)
    assert "Example CRM Ltd" in page and DPO in page
    assert "Information Commissioner's Office" in page  # where to complain
    for entry in REGISTRY.values():
        assert entry.category in page and entry.purpose in page
    for link in ("/my-data/", "/requests/", "/preferences"):
        assert link in page


def test_the_notice_tells_the_retention_the_dpo_now_enforces(app, client, login_as):
    login_as(Role.DPO)
    with app.app_context(), database.connection_context():
        from app.services.retention.policies import policy
        call_logs = policy("Call logs")
    assert post_form(client, f"/dpo/retention/{call_logs.row.id}",
                     {"days": "365", "action": "delete", "enabled": "y"}).status_code == 303
    page = html.unescape(app.test_client().get("/privacy").text)
    assert "Deleted 1 year after the call was made." in page.split("Call logs")[1][:3000]


def test_the_notice_lists_the_sub_processors_with_where_and_the_safeguard(app, client):
    with app.app_context(), database.connection_context():
        add_subprocessor(Details("Mailjet SAS", "Delivers our transactional email.", ["Account"], "US",
                                 "scc_module_3", False, date(2026, 1, 5)), "Email delivery provider", None)
    page = html.unescape(client.get("/privacy").text)
    row = page.split("Mailjet SAS")[1][:600]
    assert "Delivers our transactional email." in row and "United States" in row and "SCC module 3" in row


def test_each_page_footer_names_the_dpo(client, make_user):
    person = make_user(Role.SUBJECT)
    post_form(client, "/login", {"email": person.email, "password": TEST_PASSWORD})
    for path in ("/portal/", "/preferences", "/my-data/", "/requests/", "/login/email"):
        assert DPO in html.unescape(client.get(path).text), path


def test_emails_name_the_dpo_and_link_the_notice(client, smtp):
    post_form(client, "/login/email", {"email": "footer@example.com"})
    message = smtp.wait_for("footer@example.com")
    assert DPO in text_of(message) and "http://localhost/privacy" in text_of(message)
    assert DPO in html.unescape(message.get_body(preferencelist=("html",)).get_content())


def test_the_dpo_contact_is_a_setting(app):
    assert app.config["DPO_CONTACT"] == DPO


@pytest.mark.browser
def test_the_notice_is_accessible(page):
    page.goto("/privacy")
    assert page.get_by_role("heading", name="Privacy notice").is_visible()
    assert_accessible(page)
