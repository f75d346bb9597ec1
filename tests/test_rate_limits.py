"""Limits that fit people: filing requests and exports count per signed-in person (or
per person an emailed link verified), so people behind one office address never share
a limit; sign-in keeps counting per network address. Every test client here comes
from the same address, 127.0.0.1."""
import pytest

from app.db import database
from app.models import RequestKind, Role
from app.services.rights import requests as privacy_requests
from tests.conftest import TEST_PASSWORD
from tests.support.forms import post_form


def signed_in(app, make_user, role=Role.SUBJECT):
    user = make_user(role)
    browser = app.test_client()
    assert post_form(browser, "/login", {"email": user.email, "password": TEST_PASSWORD}).status_code == 303
    return browser


FILE_REQUEST = ("/requests/", {"kind": RequestKind.RECTIFICATION.value, "details": "My phone number is wrong."},
                "/requests/")
START_EXPORT = ("/my-data/export", {}, "/my-data/")


@pytest.mark.parametrize(("path", "form", "page"), [FILE_REQUEST, START_EXPORT], ids=["file", "export"])
def test_one_persons_ten_requests_do_not_block_another_behind_the_same_address(app, make_user, path, form, page):
    a, b = signed_in(app, make_user), signed_in(app, make_user)
    statuses = [post_form(a, path, form, token_from=page).status_code for _ in range(11)]
    assert statuses == [303] * 10 + [429]  # A is still limited…
    assert post_form(b, path, form, token_from=page).status_code == 303  # …and B is not
    assert post_form(a, path, form, token_from=page).status_code == 429


def test_confirming_by_emailed_link_counts_per_person_the_link_verified(app, client, make_user):
    people = [make_user(Role.SUBJECT) for _ in range(2)]
    with app.app_context(), database.connection_context():
        tokens = [privacy_requests.CONFIRMATION_LINK.make(
            {"r": privacy_requests.file_request(p, RequestKind.DELETION, "", str, notify=False).id})
            for p in people]
    first = [post_form(client, f"/requests/confirm/{tokens[0]}").status_code for _ in range(21)]
    assert first == [200] * 20 + [429]
    assert post_form(client, f"/requests/confirm/{tokens[1]}").status_code == 200


def test_sign_in_still_counts_per_network_address_whoever_is_signed_in(app, make_user):
    """Ten tries a minute from one address, at any accounts, by anyone: one sign-in and
    nine guesses, some by the signed-in person, spend it for everyone there."""
    person, stranger = signed_in(app, make_user), app.test_client()
    browsers = [(person, "/portal/"), (stranger, "/login")] * 5
    guesses = [post_form(browser, "/login", {"email": f"guess{i}@example.com", "password": "wrong"},
                         token_from=page).status_code for i, (browser, page) in enumerate(browsers[:9])]
    assert guesses == [401] * 9
    assert post_form(stranger, "/login", {"email": "one-more@example.com", "password": "wrong"}).status_code == 429
