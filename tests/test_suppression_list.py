"""Sales ops add to the suppression list and take back their own entries; what the
person caused (an unsubscribe, an erasure) stays until the person lifts it."""
import io

from app.models import Role
from app.services.consent.suppression import is_suppressed, suppress
from tests.support.forms import post_form

PAGE = "/sales/suppression"


def test_staff_add_addresses_and_bad_lines_are_reported_by_number(app, client, login_as):
    login_as(Role.SALES_OPS)
    text = "one@example.com\nnot an address\n\nTwo@Example.com\none@example.com\n"
    page = post_form(client, f"{PAGE}/add", {"add-addresses": text}, token_from=PAGE, follow_redirects=True)
    assert "2 added; 1 were already on the list; 1 lines rejected: line 2: “not an address” is not an email address" \
        in page.text
    with app.test_request_context():
        assert is_suppressed("one@example.com") and is_suppressed("two@example.com")


def test_a_csv_file_with_an_email_column_is_read(app, client, login_as):
    login_as(Role.SALES_OPS)
    csv = "name,email\nAda,ada@example.com\nBob,bob@example.com\n".encode()
    page = post_form(client, f"{PAGE}/add", {"add-file": (io.BytesIO(csv), "list.csv")}, token_from=PAGE,
                     follow_redirects=True)
    assert "2 added" in page.text
    latin = post_form(client, f"{PAGE}/add", {"add-file": (io.BytesIO("é@example.com".encode("latin-1")), "x.csv")},
                      token_from=PAGE)
    assert latin.status_code == 400 and "not UTF-8 text" in latin.text


def test_staff_remove_their_own_entries_but_never_the_persons(app, client, login_as):
    login_as(Role.SALES_OPS)
    with app.test_request_context():
        suppress("left@example.com", "unsubscribed")
    post_form(client, f"{PAGE}/add", {"add-addresses": "mistake@example.com"}, token_from=PAGE)
    checked = post_form(client, PAGE, {"check-email": "left@example.com"})
    assert "unsubscribed from all marketing" in checked.text and "Staff cannot remove it" in checked.text
    refused = post_form(client, f"{PAGE}/remove", {"check-email": "left@example.com"}, token_from=PAGE,
                        follow_redirects=True)
    assert "cannot be removed by staff" in refused.text
    post_form(client, f"{PAGE}/remove", {"check-email": "mistake@example.com"}, token_from=PAGE)
    with app.test_request_context():
        assert is_suppressed("left@example.com") and not is_suppressed("mistake@example.com")
    assert "is not on the list" in post_form(client, PAGE, {"check-email": "mistake@example.com"}).text


def test_sales_pages_in_a_browser_are_accessible(app, page, live_server, make_user):
    from playwright.sync_api import expect

    from tests.conftest import TEST_PASSWORD
    from tests.support.browser import assert_accessible, sign_in

    staff = make_user(Role.SALES_OPS)
    sign_in(page, staff.email, TEST_PASSWORD)
    assert_accessible(page)  # /sales with its charts
    page.get_by_role("link", name="Newsletters").first.click()
    page.get_by_role("link", name="New newsletter").click()
    page.get_by_label("Name").fill("Product news")
    page.get_by_label("What subscribers will receive").fill("One email a month about what is new in the CRM.")
    page.get_by_role("button", name="Create newsletter").click()
    expect(page.get_by_role("heading", name="Product news")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Suppression list").click()
    page.get_by_label("Addresses, one per line").fill("gone@example.com\nnonsense")
    page.get_by_role("button", name="Add to the suppression list").click()
    expect(page.get_by_text("1 added; 0 were already on the list; 1 lines rejected")).to_be_visible()
    page.get_by_label("Email address").fill("gone@example.com")
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_text("is suppressed: added by staff")).to_be_visible()
    assert_accessible(page)
