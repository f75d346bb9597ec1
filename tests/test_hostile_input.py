"""The faults an outside fuzz found, each answered as a client error now, never a 500
(app/web/inputs.py); tests/test_fuzz.py looks for the ones nobody has found yet."""
import io
import json

import pytest

from app.db import database
from app.models import Role
from app.services.consent import ledger
from app.services.newsletters import unsubscribes
from tests.support.forms import csrf_token, post_form

TOO_BIG = [2**31, 2**63, 10**30]  # past PostgreSQL's integer ids; 2**63 and up also past SQLite's


@pytest.mark.parametrize("number", TOO_BIG)
def test_an_id_no_column_can_hold_is_not_found(client, login_as, number):
    login_as(Role.SUBJECT)
    for path in (f"/my-data/exports/{number}/download", f"/requests/{number}/cancel"):
        method = client.post if path.endswith("cancel") else client.get
        assert method(path).status_code == 404, path


def test_the_largest_id_a_column_holds_still_reaches_the_view(client, login_as):
    login_as(Role.DPO)
    page = client.get(f"/dpo/requests/{2**31 - 1}")
    assert page.status_code == 404 and "Page not found" in page.text


@pytest.mark.parametrize("query", ["after=9223372036854775808", "after=-9223372036854775809", "after=ten",
                                   "after=1e3"])
def test_an_integer_parameter_out_of_range_or_not_a_number_is_a_bad_request(client, login_as, query):
    login_as(Role.ADMIN)
    page = client.get(f"/admin/users?{query}")
    assert page.status_code == 400
    assert "must be a whole number" in page.text


def test_integer_filters_of_the_audit_log_are_checked_too(client, login_as):
    login_as(Role.DPO)
    assert client.get("/dpo/audit?subject=abc").status_code == 400
    assert client.get(f"/dpo/audit?before={2**63}").status_code == 400
    assert client.get("/dpo/audit?subject=&before=").status_code == 200  # empty means no filter


@pytest.mark.parametrize("cursor", ["garbage", "2026-01-01T00:00:00_", "2026-01-01T00:00:00_x",
                                    f"2026-01-01T00:00:00_{2**63}", "2026-02-30T00:00:00_1", "_1"])
def test_a_malformed_queue_cursor_is_a_bad_request(client, login_as, cursor):
    login_as(Role.DPO)
    page = client.get("/dpo/requests", query_string={"after": cursor})
    assert page.status_code == 400
    assert "This page of the queue does not exist" in page.text


def test_bulk_ids_out_of_range_are_refused_by_the_form(client, login_as):
    login_as(Role.DPO)
    response = post_form(client, "/dpo/requests/bulk", {"ids": [str(2**63), "1"], "action": "assign",
                                                        "assignee": str(2**40)}, token_from="/dpo/requests")
    assert response.status_code == 303 and response.headers["Location"] == "/dpo/requests"


def test_a_json_body_to_a_form_is_unsupported_even_with_a_valid_csrf_header(client):
    token = csrf_token(client)
    response = client.post("/login", data=json.dumps({"email": [1, {"a": None}], "password": "x"}),
                           content_type="application/json", headers={"X-CSRFToken": token})
    assert response.status_code == 415
    assert "That kind of request is not accepted here" in response.text


def test_a_signed_in_form_refuses_json_and_other_bodies(client, login_as):
    login_as(Role.SUBJECT)
    token = csrf_token(client, "/my-data/profile")
    for body, kind in ((json.dumps({"name": {"x": 1}}), "application/json"), (b"\x89PNG", "image/png"),
                       ("name=Ann", "text/plain")):
        response = client.post("/my-data/profile", data=body, content_type=kind, headers={"X-CSRFToken": token})
        assert response.status_code == 415, kind


def test_a_file_where_a_form_takes_text_is_refused(client):
    token = csrf_token(client)
    response = client.post("/login", data={"csrf_token": token, "email": (io.BytesIO(b"a@b.c"), "email.txt"),
                                           "password": "x"}, content_type="multipart/form-data")
    assert response.status_code == 400


def test_a_multipart_part_without_a_name_is_refused_before_the_csrf_check_reads_it(client):
    body = b'--x\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--x--\r\n'
    response = client.post("/login", data=body, content_type="multipart/form-data; boundary=x")
    assert response.status_code == 400


def test_a_nul_character_anywhere_is_a_bad_request(client, login_as):
    login_as(Role.ADMIN)
    assert client.get("/admin/users?q=a%00b").status_code == 400
    assert client.get("/admin/users?q=a&q=b%00").status_code == 400  # a repeated name's second value too
    assert client.get("/admin/purposes/marketing%00email").status_code == 400
    client.delete_cookie("session")
    response = post_form(client, "/login", {"email": "a\x00@example.com", "password": "x"})
    assert response.status_code == 400


def test_the_one_click_unsubscribe_still_takes_both_form_encodings(app, make_user, newsletter):
    """RFC 8058: the provider POSTs `List-Unsubscribe=One-Click`, urlencoded or multipart."""
    people = [make_user(Role.SUBJECT, email=f"{n}@example.com") for n in ("ann", "ben")]
    with app.app_context(), database.connection_context():
        for person in people:
            ledger.set_consent(person, newsletter.purpose, True, ledger.Origin(ledger.ConsentSource.PORTAL, person))
        tokens = [unsubscribes.make_token(person, newsletter) for person in people]
    provider = app.test_client(use_cookies=False)
    urlencoded = provider.post(f"/u/{tokens[0]}", data="List-Unsubscribe=One-Click",
                               content_type="application/x-www-form-urlencoded")
    multipart = provider.post(f"/u/{tokens[1]}", data={"List-Unsubscribe": "One-Click"},
                              content_type="multipart/form-data")
    assert (urlencoded.status_code, multipart.status_code) == (200, 200)
    assert "You are unsubscribed." in multipart.text
