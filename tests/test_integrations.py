"""Connected integrations against a real OAuth 2.0 / OpenID Connect server on
loopback (tests/support/oauth_provider.py): connect with PKCE and state, partial
grants, sync and refresh, a grant revoked at the provider, disconnect with
revocation (RFC 7009) and deletion, and every bad callback refused with nothing
half-connected."""
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app.db import database
from app.models import AuditEvent, Connection, Lead, Role
from app.models.fields import Cipher
from app.services.integrations import connections
from app.services.platform import jobs
from tests.conftest import CLIENT_ID, TEST_PASSWORD
from tests.support.forms import post_form
from tests.support.oauth_provider import CONTACTS, CONTACTS_READONLY, SHEETS_READONLY
from tests.test_erasure import approve_after_cooling_off, ask_for_erasure, scan_for


@pytest.fixture
def alice(login_as, provider):
    person = login_as(Role.SUBJECT, email="alice@example.com", name="Alice")
    provider.add_user(person.email, "Alice")
    for name, email in (("Ann Archer", "ann@example.org"), ("Bob Baker", "bob@example.org"),
                        ("Cy Cole", "cy@example.org")):
        provider.add_contact(person.email, name, email=email, company="Example Org")
    return person


def start_connect(client, key="google_contacts", direction="in") -> str:
    """Our page's POST; returns the provider's authorization URL we were sent to."""
    response = post_form(client, f"/integrations/{key}/connect", {"direction": direction})
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def consent_at_provider(authorize_url: str) -> str:
    """What the browser does at the provider (auto-approved): returns our callback path."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text
    callback = urlsplit(answer.headers["Location"])
    return f"{callback.path}?{callback.query}"


def connect(client, provider, email, key="google_contacts", direction="in", scopes=None):
    provider.auto_approve(email, scopes)
    return client.get(consent_at_provider(start_connect(client, key, direction)))


def run_jobs(app):
    with app.app_context(), database.connection_context():
        return jobs.run_pending()


def the_connection(app, person) -> Connection | None:
    with app.app_context(), database.connection_context():
        return Connection.get_or_none(Connection.user == person.id)


def sync_now(app, person) -> None:
    connection = the_connection(app, person)
    with app.app_context(), database.connection_context():
        connections.request_sync(connection)


def leads_of(app, person) -> list[Lead]:
    with app.app_context(), database.connection_context():
        return list(Lead.select().where(Lead.owner == person.id).order_by(Lead.name))


# --- the acceptance path -----------------------------------------------------------

def test_connect_with_pkce_sync_and_see_the_granted_scopes_and_contacts(app, client, provider, alice):
    page = client.get("/integrations/google_contacts/connect").text
    assert "Limited Use requirements" in page and page.index("Limited Use") < page.index("Continue to Google")
    authorize = start_connect(client)
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"] and query["state"]
    assert query["scope"] == [f"openid email {CONTACTS_READONLY}"]  # the id_token names the account

    provider.auto_approve(alice.email)
    answer = client.get(consent_at_provider(authorize))
    assert answer.status_code == 303
    connection = the_connection(app, alice)
    assert (connection.status, connection.direction, connection.scopes) == ("connected", "in", [CONTACTS_READONLY])
    assert connection.account_email == alice.email
    assert run_jobs(app) == 1
    assert [(lead.name, lead.email, lead.source, lead.connection_id) for lead in leads_of(app, alice)] == [
        ("Ann Archer", "ann@example.org", "google_contacts", connection.id),
        ("Bob Baker", "bob@example.org", "google_contacts", connection.id),
        ("Cy Cole", "cy@example.org", "google_contacts", connection.id)]

    listing = client.get("/integrations/").text
    assert CONTACTS_READONLY in listing and "3 contacts in the CRM came from this connection" in listing
    assert f"Connected as {alice.email} since" in listing
    my_data = client.get("/my-data/category/lead")
    assert my_data.status_code == 200 and "Bob Baker" in my_data.text
    assert run_jobs(app) == 0 and len(leads_of(app, alice)) == 3  # nothing queued twice


def test_tokens_are_unreadable_in_the_database_without_the_key(app, client, provider, alice, database_url):
    connect(client, provider, alice.email)
    access, refresh = provider.issued_access_tokens[-1], provider.issued_refresh_tokens[-1]
    with app.app_context(), database.connection_context():
        stored_access, stored_refresh = database.execute_sql(
            "SELECT access_token, refresh_token FROM connection").fetchone()
    assert access not in stored_access and refresh not in stored_refresh
    assert Cipher.get().decrypt(stored_access.encode()).decode() == access  # really that token, encrypted
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        on_disk = b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if Path(p).exists())
        assert access.encode() not in on_disk and refresh.encode() not in on_disk


def test_a_partial_grant_connects_for_reading_and_two_way_asks_for_write_access(app, client, provider, alice):
    connect(client, provider, alice.email, direction="two_way", scopes=[CONTACTS_READONLY])
    connection = the_connection(app, alice)
    assert (connection.direction, connection.scopes) == ("in", [CONTACTS_READONLY])  # as the provider granted
    run_jobs(app)

    provider.auto_approve(alice.email)
    asks = post_form(client, f"/integrations/connections/{connection.id}/direction", {f"c{connection.id}-direction":
                                                                                       "two_way"},
                     token_from="/integrations/")
    assert asks.headers["Location"] == "/integrations/google_contacts/connect?direction=two_way"  # disclosure first
    assert 'checked id="direction-2" name="direction" type="radio" value="two_way"' in client.get(asks.headers["Location"]).text
    authorize = start_connect(client, direction="two_way")
    assert CONTACTS in parse_qs(urlsplit(authorize).query)["scope"][0]
    client.get(consent_at_provider(authorize))
    connection = the_connection(app, alice)
    assert connection.direction == "two_way" and CONTACTS in connection.scopes

    with app.app_context(), database.connection_context():
        Lead.create(owner=alice.id, name="Dee Dunn", email="dee@example.org")
    run_jobs(app)
    assert "Dee Dunn" in [c["name"] for c in provider.contacts_of(alice.email)]
    sync_now(app, alice)
    run_jobs(app)
    assert [lead.name for lead in leads_of(app, alice)].count("Dee Dunn") == 1  # pulled back, not duplicated


def test_an_expired_access_token_is_refreshed_and_the_rotated_tokens_kept(app, client, provider, alice):
    connect(client, provider, alice.email)
    run_jobs(app)
    first_refresh = provider.issued_refresh_tokens[-1]
    provider.expire_access_tokens()
    provider.add_contact(alice.email, "Eve Evans", email="eve@example.org")
    sync_now(app, alice)
    run_jobs(app)
    assert "Eve Evans" in [lead.name for lead in leads_of(app, alice)]
    connection = the_connection(app, alice)
    assert connection.refresh_token == provider.issued_refresh_tokens[-1] != first_refresh
    assert connection.status == "connected"


def test_a_grant_revoked_at_the_provider_needs_reconnecting_and_loses_no_data(app, client, provider, alice, smtp):
    connect(client, provider, alice.email)
    run_jobs(app)
    provider.revoke_all_grants_of(alice.email)
    provider.expire_access_tokens()
    sync_now(app, alice)
    run_jobs(app)
    assert the_connection(app, alice).status == "needs_reconnect"
    assert len(leads_of(app, alice)) == 3
    assert "Needs reconnecting" in client.get("/integrations/").text
    assert smtp.wait_for(alice.email)["Subject"] == "Google Contacts needs reconnecting"


def test_disconnect_revokes_at_the_provider_and_deletes_what_it_brought_in(app, client, provider, alice):
    connect(client, provider, alice.email)
    run_jobs(app)
    with app.app_context(), database.connection_context():
        Lead.create(owner=alice.id, name="Typed Here", email="typed@example.org")
    connection = the_connection(app, alice)
    refresh = provider.issued_refresh_tokens[-1]
    response = post_form(client, f"/integrations/connections/{connection.id}/disconnect", {"imported": "delete"},
                         token_from="/integrations/")
    assert response.status_code == 303 and "/integrations/disconnections/" in response.headers["Location"]
    assert the_connection(app, alice).status == "disconnecting"  # syncing stops at once
    refused = post_form(client, f"/integrations/connections/{connection.id}/sync", token_from="/integrations/",
                        follow_redirects=True)
    assert "This connection is not active" in refused.text
    run_jobs(app)
    assert [(r["token"], r["client_id"]) for r in provider.revoked] == [(refresh, CLIENT_ID)]
    assert [lead.name for lead in leads_of(app, alice)] == ["Typed Here"]
    assert the_connection(app, alice) is None
    assert "everything the connection brought in is deleted (3 contacts)" in client.get(
        response.headers["Location"]).text
    with app.app_context(), database.connection_context():
        actions = [e.action for e in AuditEvent.select().where(AuditEvent.subject_ref == alice.id)]
    assert "integration.disconnected" in actions and "integration.imported_data_deleted" in actions


def test_disconnect_keeping_the_data_leaves_ordinary_contacts(app, client, provider, alice):
    connect(client, provider, alice.email)
    run_jobs(app)
    connection = the_connection(app, alice)
    response = post_form(client, f"/integrations/connections/{connection.id}/disconnect", {"imported": "keep"},
                         token_from="/integrations/")
    run_jobs(app)
    assert the_connection(app, alice) is None and len(provider.revoked) == 1
    assert [lead.connection_id for lead in leads_of(app, alice)] == [None, None, None]
    assert "stays, as ordinary contacts" in client.get(response.headers["Location"]).text


def test_a_revocation_that_fails_is_retried_and_said_plainly(app, client, provider, alice, monkeypatch):
    connect(client, provider, alice.email)
    run_jobs(app)
    connection = the_connection(app, alice)
    monkeypatch.setattr(connections, "_revoke_token", lambda *args, **kwargs: False)  # the provider is down
    page = post_form(client, f"/integrations/connections/{connection.id}/disconnect", {"imported": "delete"},
                     token_from="/integrations/").headers["Location"]
    run_jobs(app)  # the job fails and is retried later
    assert the_connection(app, alice).refresh_token  # kept, to revoke later: never just forgotten
    assert "could not reach the provider to revoke our access yet" in client.get(page).text
    monkeypatch.undo()
    monkeypatch.setattr(jobs, "RETRY_BACKOFF", timedelta(seconds=-1))  # retry now
    run_jobs(app)
    assert len(provider.revoked) == 1 and the_connection(app, alice) is None and leads_of(app, alice) == []
    assert "everything the connection brought in is deleted" in client.get(page).text


def test_disconnecting_one_google_integration_keeps_the_other_working(app, client, provider, alice):
    provider.add_sheet(alice.email, "sheet1", [["Name"], ["Hal Hill"]])
    connect(client, provider, alice.email)
    connect(client, provider, alice.email, key="google_sheets")
    with app.app_context(), database.connection_context():
        sheets = Connection.get(Connection.integration == "google_sheets")
    post_form(client, f"/integrations/connections/{sheets.id}/disconnect", {"imported": "delete"},
              token_from="/integrations/")
    run_jobs(app)
    assert provider.revoked == []  # Google would end the whole grant, Contacts included
    provider.add_contact(alice.email, "Ivy Irwin")
    sync_now(app, alice)
    run_jobs(app)
    assert the_connection(app, alice).status == "connected"
    assert "Ivy Irwin" in [lead.name for lead in leads_of(app, alice)]


# --- bad input ---------------------------------------------------------------------

def test_a_tampered_state_is_refused_and_nothing_is_connected(app, client, provider, alice):
    provider.auto_approve(alice.email)
    callback = consent_at_provider(start_connect(client))
    response = client.get(callback.replace("state=", "state=x"))
    assert response.status_code == 400 and "not valid" in response.text
    assert the_connection(app, alice) is None


def test_the_same_callback_twice_is_refused_the_second_time(app, client, provider, alice):
    provider.auto_approve(alice.email)
    callback = consent_at_provider(start_connect(client))
    assert client.get(callback).status_code == 303
    again = client.get(callback)
    assert again.status_code == 400 and "does not match a connection you started here" in again.text


def test_a_replayed_code_is_refused(app, client, provider, alice):
    provider.auto_approve(alice.email)
    first = consent_at_provider(start_connect(client))
    assert client.get(first).status_code == 303
    code = parse_qs(urlsplit(first).query)["code"][0]
    second = consent_at_provider(start_connect(client))
    state = parse_qs(urlsplit(second).query)["state"][0]
    replay = client.get(f"/integrations/google_contacts/callback?code={code}&state={state}")
    assert replay.status_code == 400 and "Google refused to complete this (invalid_grant)" in replay.text
    with app.app_context(), database.connection_context():
        assert Connection.select().count() == 1  # the first connection, untouched by the replay


def test_a_provider_error_is_said_plainly(app, client, provider, alice):
    response = connect(client, provider, alice.email, scopes=[])  # the person pressed "Deny"
    assert response.status_code == 400 and "You did not allow access at Google" in response.text
    assert the_connection(app, alice) is None


@pytest.mark.parametrize("fault, status, words", [("garbage", 502, "could not read"),
                                                  ("slow", 502, "did not answer in time"),
                                                  ("error", 400, "refused")])
def test_a_broken_token_endpoint_leaves_nothing_half_connected(app, client, provider, alice, monkeypatch, fault,
                                                              status, words):
    monkeypatch.setattr(connections, "HTTP_TIMEOUT", 1)
    provider.auto_approve(alice.email)
    callback = consent_at_provider(start_connect(client))
    provider.fail_next_token_request(fault, delay=3)
    response = client.get(callback)
    assert response.status_code == status and words in response.text
    assert the_connection(app, alice) is None and leads_of(app, alice) == []


def test_nobody_else_reaches_a_connection(app, client, provider, alice, make_user):
    connect(client, provider, alice.email)
    connection = the_connection(app, alice)
    bob, client = make_user(Role.SUBJECT), app.test_client()
    assert post_form(client, "/login", {"email": bob.email, "password": TEST_PASSWORD}).status_code == 303
    for path, data in ((f"/integrations/connections/{connection.id}/disconnect", {"imported": "delete"}),
                       (f"/integrations/connections/{connection.id}/sync", {}),
                       (f"/integrations/connections/{connection.id}/direction", {})):
        assert post_form(client, path, data, token_from="/integrations/").status_code == 404
    assert the_connection(app, alice).status == "connected" and provider.revoked == []


# --- Google Sheets ---------------------------------------------------------------------

def test_a_sheets_import_adds_leads_and_keeps_nothing_of_the_sheet(app, client, provider, alice):
    provider.add_sheet(alice.email, "1SheetZebraId", [
        ["Name", "Email", "Company", "Private remarks"],
        ["Fay Ford", "fay@example.org", "Ford & Co", "ZEBRA-REMARK-42"],
        ["Gus Gray", "gus@example.org", "", "ZEBRA-REMARK-43"]])
    connect(client, provider, alice.email, key="google_sheets")
    connection = the_connection(app, alice)
    assert connection.scopes == [SHEETS_READONLY]
    response = post_form(client, f"/integrations/connections/{connection.id}/sheet",
                         {"spreadsheet": "1SheetZebraId", "cells": "A1:D10"}, token_from="/integrations/",
                         follow_redirects=True)
    assert "2 leads imported" in response.text
    assert [(lead.name, lead.company, lead.source) for lead in leads_of(app, alice)] == [
        ("Fay Ford", "Ford & Co", "google_sheets"), ("Gus Gray", "", "google_sheets")]
    wrong = post_form(client, f"/integrations/connections/{connection.id}/sheet", {"spreadsheet": "1TypoSheetId"},
                      token_from="/integrations/", follow_redirects=True)
    assert wrong.status_code == 200 and "Google found no such spreadsheet" in wrong.text
    refused = post_form(client, f"/integrations/connections/{connection.id}/sync", token_from="/integrations/",
                        follow_redirects=True)
    assert "does not sync" in refused.text
    with app.app_context():
        assert scan_for(app, ["ZEBRA-REMARK-42", "ZEBRA-REMARK-43", "1SheetZebraId", "1TypoSheetId"]) == []


def test_erasing_a_person_revokes_their_connections_and_their_synced_contacts_go(app, client, runner, provider,
                                                                                  alice, smtp):
    connect(client, provider, alice.email)
    run_jobs(app)
    refresh = provider.issued_refresh_tokens[-1]
    post_form(app.test_client(), ask_for_erasure(client, smtp))
    approve_after_cooling_off(app, runner)
    run_jobs(app)
    assert [r["token"] for r in provider.revoked] == [refresh]
    assert the_connection(app, alice) is None and leads_of(app, alice) == []


def test_scopes_that_only_name_the_account_are_not_listed_as_access():
    assert connections._names_identity("openid") and connections._names_identity("email")
    assert connections._names_identity("https://www.googleapis.com/auth/userinfo.email")  # Google's form of "email"
    assert not connections._names_identity(CONTACTS_READONLY)
