"""The test OAuth 2.0 / OpenID Connect provider (tests/support/oauth_provider.py), spoken to over
real HTTP the way the app will: with Authlib's requests client, and with plain requests where a
test needs to send something a well-behaved client would not."""
from __future__ import annotations

import html
import re
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.discovery import OpenIDProviderMetadata

# joserfc rather than authlib.jose: Authlib 1.9 deprecates authlib.jose (importing it warns, and
# warnings are errors here) and signs its own id_tokens with joserfc.
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.oauth_provider import CONTACTS, CONTACTS_READONLY, SHEETS_READONLY, OAuthProvider

CLIENT_ID = "pcc-test"
SECRET = "client-secret"
REDIRECT = "http://127.0.0.1:9/integrations/google/callback"  # never contacted: tests read Location
USER = "ada@example.com"
PASSWORD = "analytical engine"
ALL = ["openid", "email", "profile", CONTACTS_READONLY, CONTACTS, SHEETS_READONLY]
PERSON_FIELDS = "names,emailAddresses,phoneNumbers,organizations"


@pytest.fixture
def provider():
    provider = OAuthProvider()
    provider.add_client(CLIENT_ID, SECRET, [REDIRECT])
    provider.add_user(USER, "Ada Lovelace", password=PASSWORD)
    with provider:
        yield provider


# --- helpers: one protocol step each ----------------------------------------------------------

def pkce() -> tuple[str, str]:
    verifier = generate_token(64)
    return verifier, create_s256_code_challenge(verifier)


def auth_params(scopes: list[str], challenge: str, **extra) -> dict:
    return {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "scope": " ".join(scopes),
            "state": "st4te", "code_challenge": challenge, "code_challenge_method": "S256", **extra}


def redirect_query(response) -> dict[str, str]:
    """The parameters the provider sends back to the client's redirect_uri."""
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize(provider, scopes=ALL, **extra) -> tuple[str, str]:
    """An authorization code (and its PKCE verifier), approved through auto_approve."""
    provider.auto_approve(USER)
    verifier, challenge = pkce()
    response = requests.get(provider.url + "/o/oauth2/auth", params=auth_params(scopes, challenge, **extra),
                            allow_redirects=False, timeout=5)
    query = redirect_query(response)
    assert query["state"] == "st4te"
    return query["code"], verifier


def exchange(provider, code: str, verifier: str, timeout: float = 5):
    return requests.post(provider.url + "/token", auth=(CLIENT_ID, SECRET), timeout=timeout, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})


def tokens(provider, scopes=ALL, **extra) -> dict:
    code, verifier = authorize(provider, scopes, **extra)
    response = exchange(provider, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


def refresh(provider, refresh_token: str):
    return requests.post(provider.url + "/token", auth=(CLIENT_ID, SECRET), timeout=5,
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def api(provider, path: str, access_token: str, **params):
    return requests.get(provider.url + path, params=params, timeout=5,
                        headers={"Authorization": f"Bearer {access_token}"})


def connections(provider, access_token: str, **params):
    return api(provider, "/v1/people/me/connections", access_token, personFields=PERSON_FIELDS, **params)


def form_action(page) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert match, page.text
    return html.unescape(match.group(1))


def through_forms(provider, granted: list[str], decision: str = "allow", scopes=ALL):
    """Sign in and answer the consent page as a browser would; returns the answer and the verifier."""
    verifier, challenge = pkce()
    with requests.Session() as browser:
        page = browser.get(provider.url + "/o/oauth2/auth", params=auth_params(scopes, challenge), timeout=5)
        consent = browser.post(provider.url + form_action(page), data={"email": USER, "password": PASSWORD}, timeout=5)
        answer = browser.post(provider.url + form_action(consent), data={"decision": decision, "granted_scope": granted},
                              allow_redirects=False, timeout=5)
    return answer, verifier


# --- discovery --------------------------------------------------------------------------------

def test_discovery_document_is_valid_openid_provider_metadata(provider):
    doc = requests.get(provider.discovery_url, timeout=5).json()
    OpenIDProviderMetadata(doc).validate()
    assert doc["issuer"] == provider.issuer == provider.url
    assert doc["authorization_endpoint"] == provider.url + "/o/oauth2/auth"
    assert doc["token_endpoint"] == provider.url + "/token"
    assert doc["revocation_endpoint"] == provider.url + "/revoke"
    assert doc["response_types_supported"] == ["code"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(doc["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert set(ALL) <= set(doc["scopes_supported"])
    keys = requests.get(doc["jwks_uri"], timeout=5).json()["keys"]
    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("RSA", "RS256", "sig")]
    assert "d" not in keys[0]  # the public half only


# --- authorization endpoint -------------------------------------------------------------------

def test_sign_in_and_consent_pages_drive_the_code_flow(provider):
    verifier, challenge = pkce()
    with requests.Session() as browser:
        page = browser.get(provider.url + "/o/oauth2/auth", params=auth_params(ALL, challenge, login_hint=USER),
                           timeout=5)
        assert page.status_code == 200
        assert '<button type="submit">Sign in</button>' in page.text
        assert f'value="{USER}"' in page.text  # login_hint fills the email field

        wrong = browser.post(provider.url + form_action(page), data={"email": USER, "password": "nope"}, timeout=5)
        assert "Wrong email or password." in wrong.text

        consent = browser.post(provider.url + form_action(page), data={"email": USER, "password": PASSWORD}, timeout=5)
        # Its own cookie name: the app under test is on the same host, and cookies ignore ports.
        assert list(browser.cookies.keys()) == ["provider_session"]
        for scope in ALL:
            assert f'value="{scope}" checked> {scope}</label>' in consent.text
        assert 'value="deny">Deny</button>' in consent.text and 'value="allow">Allow</button>' in consent.text

        answer = browser.post(provider.url + form_action(consent), data={"decision": "allow", "granted_scope": ALL},
                              allow_redirects=False, timeout=5)
    query = redirect_query(answer)
    assert query["state"] == "st4te"

    # client_secret_post, through Authlib's own client
    with OAuth2Session(CLIENT_ID, SECRET, redirect_uri=REDIRECT, token_endpoint_auth_method="client_secret_post") as client:
        token = client.fetch_token(provider.url + "/token", code=query["code"], code_verifier=verifier)
    assert set(token["scope"].split()) == set(ALL)
    assert provider.token_requests[-1] == {"grant_type": "authorization_code", "client_auth": "client_secret_post"}


def test_code_flow_with_authlib_client_auto_approve_and_client_secret_basic(provider):
    provider.auto_approve(USER)
    verifier = generate_token(48)
    with OAuth2Session(CLIENT_ID, SECRET, scope=" ".join(ALL), redirect_uri=REDIRECT,
                       code_challenge_method="S256") as client:
        uri, _state = client.create_authorization_url(provider.url + "/o/oauth2/auth", code_verifier=verifier,
                                                      nonce="n-0S6_WzA2Mj")
        location = requests.get(uri, allow_redirects=False, timeout=5).headers["Location"]
        token = client.fetch_token(provider.url + "/token", authorization_response=location, code_verifier=verifier)
        info = client.get(provider.url + "/v1/userinfo", timeout=5).json()

    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert token["access_token"] and token["refresh_token"] and token["id_token"]
    assert set(token["scope"].split()) == set(ALL)
    assert info == {"sub": info["sub"], "email": USER, "email_verified": True, "name": "Ada Lovelace"}
    assert provider.token_requests == [{"grant_type": "authorization_code", "client_auth": "client_secret_basic"}]
    assert provider.issued_refresh_tokens == [token["refresh_token"]]


def test_authlib_flask_client_signs_in_against_the_provider(provider):
    """What the app will do: Authlib's Flask client configured from the discovery URL alone."""
    from authlib.integrations.flask_client import OAuth
    from flask import Flask

    client_app = Flask("client_under_test")
    client_app.config.update(SECRET_KEY="test", SERVER_NAME="127.0.0.1:9")
    oauth = OAuth(client_app)
    oauth.register("google", client_id=CLIENT_ID, client_secret=SECRET, server_metadata_url=provider.discovery_url,
                   client_kwargs={"scope": " ".join(ALL), "code_challenge_method": "S256"})

    @client_app.get("/connect")
    def connect():
        return oauth.google.authorize_redirect(REDIRECT)

    @client_app.get("/integrations/google/callback")
    def callback():
        token = oauth.google.authorize_access_token()  # checks state, PKCE, id_token signature and nonce
        people = oauth.google.get(provider.url + "/v1/people/me/connections?personFields=names", token=token)
        return {"userinfo": token["userinfo"], "people": people.json()}

    provider.auto_approve(USER)
    provider.add_contact(USER, "Grace Hopper")
    with client_app.test_client() as browser:
        to_provider = browser.get("/connect").headers["Location"]
        back = requests.get(to_provider, allow_redirects=False, timeout=5).headers["Location"]
        result = browser.get(back.removeprefix("http://127.0.0.1:9")).get_json()
    assert result["userinfo"]["email"] == USER and result["userinfo"]["iss"] == provider.issuer
    assert result["people"]["connections"][0]["names"][0]["displayName"] == "Grace Hopper"


def test_deny_sends_access_denied_with_the_state(provider):
    answer, _ = through_forms(provider, granted=ALL, decision="deny")
    query = redirect_query(answer)
    assert query["error"] == "access_denied" and query["state"] == "st4te" and "code" not in query


def test_unchecked_scopes_are_not_granted(provider):
    granted = ["openid", "email", "profile", CONTACTS_READONLY]
    answer, verifier = through_forms(provider, granted=granted)
    token = exchange(provider, redirect_query(answer)["code"], verifier).json()

    assert token["scope"].split() == granted  # like Google's granular consent
    assert connections(provider, token["access_token"]).status_code == 200
    write = requests.post(provider.url + "/v1/people:createContact", json={"names": [{"displayName": "X"}]},
                          headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5)
    assert write.status_code == 403


def test_auto_approve_can_grant_part_or_deny(provider):
    verifier, challenge = pkce()
    provider.auto_approve(USER, scopes=["openid", CONTACTS_READONLY])
    response = requests.get(provider.url + "/o/oauth2/auth", params=auth_params(ALL, challenge),
                            allow_redirects=False, timeout=5)
    token = exchange(provider, redirect_query(response)["code"], verifier).json()
    assert token["scope"].split() == ["openid", CONTACTS_READONLY]

    provider.auto_approve(USER, scopes=[])
    response = requests.get(provider.url + "/o/oauth2/auth", params=auth_params(ALL, challenge),
                            allow_redirects=False, timeout=5)
    assert redirect_query(response)["error"] == "access_denied"


@pytest.mark.parametrize("change, error", [
    ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),  # PKCE missing
    ({"code_challenge_method": None}, "invalid_request"),  # S256 must be named
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"scope": "openid https://mail.google.com/"}, "invalid_scope"),
    ({"response_type": "token"}, "unsupported_response_type"),
])
def test_bad_authorization_requests_are_sent_back_with_an_error(provider, change, error):
    provider.auto_approve(USER)
    params = {k: v for k, v in {**auth_params(ALL, pkce()[1]), **change}.items() if v is not None}
    response = requests.get(provider.url + "/o/oauth2/auth", params=params, allow_redirects=False, timeout=5)
    query = redirect_query(response)
    assert query["error"] == error and query["state"] == "st4te" and "code" not in query


@pytest.mark.parametrize("change", [
    {"redirect_uri": REDIRECT + "/"},  # exact match only
    {"redirect_uri": None},
    {"client_id": "someone-else"},
])
def test_unknown_client_or_redirect_uri_gets_an_error_page_not_a_redirect(provider, change):
    provider.auto_approve(USER)
    params = {k: v for k, v in {**auth_params(ALL, pkce()[1]), **change}.items() if v is not None}
    response = requests.get(provider.url + "/o/oauth2/auth", params=params, allow_redirects=False, timeout=5)
    assert response.status_code == 400 and "Location" not in response.headers
    assert "Error 400" in response.text


# --- token endpoint ---------------------------------------------------------------------------

def test_wrong_code_verifier_is_invalid_grant(provider):
    code, _ = authorize(provider)
    response = exchange(provider, code, generate_token(64))
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_invalid_client(provider):
    code, verifier = authorize(provider)
    response = requests.post(provider.url + "/token", auth=(CLIENT_ID, "wrong"), timeout=5, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_replayed_code_is_refused_and_revokes_what_it_issued(provider):
    code, verifier = authorize(provider)
    first = exchange(provider, code, verifier)
    assert first.status_code == 200
    replay = exchange(provider, code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: tokens issued from a replayed code are revoked
    assert connections(provider, first.json()["access_token"]).status_code == 401
    assert refresh(provider, first.json()["refresh_token"]).json()["error"] == "invalid_grant"
    assert provider.used_codes == [code]


def test_refresh_rotates_the_refresh_token(provider):
    first = tokens(provider)
    response = refresh(provider, first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert set(second["scope"].split()) == set(ALL)

    reused = refresh(provider, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"

    # the rotated one works, through Authlib's client with client_secret_post
    with OAuth2Session(CLIENT_ID, SECRET, token=second, token_endpoint_auth_method="client_secret_post") as client:
        third = client.refresh_token(provider.url + "/token")
    assert connections(provider, third["access_token"]).status_code == 200
    assert provider.issued_refresh_tokens == [first["refresh_token"], second["refresh_token"], third["refresh_token"]]


def test_access_token_lifetime_is_configurable_and_enforced(provider):
    provider.expires_in = 1
    token = tokens(provider)
    assert token["expires_in"] == 1
    time.sleep(1.1)
    assert connections(provider, token["access_token"]).status_code == 401


def test_id_token_is_rs256_and_verifies_against_the_jwks(provider):
    token = tokens(provider, nonce="n-0S6_WzA2Mj")
    jwks = KeySet.import_key_set(requests.get(provider.url + "/oauth2/v3/certs", timeout=5).json())
    decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256" and decoded.header["kid"] == jwks.keys[0].kid

    claims = decoded.claims
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": provider.issuer},
                          aud={"essential": True, "value": CLIENT_ID},
                          nonce={"essential": True, "value": "n-0S6_WzA2Mj"},
                          sub={"essential": True}, exp={"essential": True}).validate(claims)
    userinfo = api(provider, "/v1/userinfo", token["access_token"]).json()
    assert claims["sub"] == userinfo["sub"]
    assert (claims["email"], claims["email_verified"], claims["name"]) == (USER, True, "Ada Lovelace")
    assert claims["exp"] - claims["iat"] == 3600


def test_no_id_token_without_openid(provider):
    token = tokens(provider, [CONTACTS_READONLY])
    assert "id_token" not in token
    assert api(provider, "/v1/userinfo", token["access_token"]).status_code == 403


# --- revocation -------------------------------------------------------------------------------

def test_revocation_is_recorded_and_revokes_the_whole_grant(provider):
    token = tokens(provider)
    with OAuth2Session(CLIENT_ID, SECRET, token=token) as client:
        response = client.revoke_token(provider.url + "/revoke", token=token["refresh_token"],
                                       token_type_hint="refresh_token")
    assert response.status_code == 200
    assert provider.revoked == [{"token": token["refresh_token"], "token_type_hint": "refresh_token",
                                 "client_id": CLIENT_ID}]
    assert connections(provider, token["access_token"]).status_code == 401  # the access token went too
    assert refresh(provider, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoking_the_access_token_also_kills_the_refresh_token(provider):
    token = tokens(provider)
    response = requests.post(provider.url + "/revoke", timeout=5, data={
        "token": token["access_token"], "client_id": CLIENT_ID, "client_secret": SECRET})  # client_secret_post
    assert response.status_code == 200
    assert provider.revoked[0]["token_type_hint"] is None
    assert refresh(provider, token["refresh_token"]).json()["error"] == "invalid_grant"


def test_revocation_of_an_unknown_token_answers_200_but_needs_client_auth(provider):
    unknown = requests.post(provider.url + "/revoke", data={"token": "nope"}, auth=(CLIENT_ID, SECRET), timeout=5)
    assert unknown.status_code == 200
    anonymous = requests.post(provider.url + "/revoke", data={"token": "nope"}, timeout=5)
    assert anonymous.status_code in (400, 401) and anonymous.json()["error"] == "invalid_client"
    assert len(provider.revoked) == 1


# --- resource APIs ----------------------------------------------------------------------------

def test_connections_are_paged(provider):
    for i in range(5):
        provider.add_contact(USER, f"Person {i}", email=f"p{i}@example.com", phone=f"+44 20 7946 000{i}",
                             company="Analytical Ltd")
    provider.add_user("bob@example.com", "Bob")
    provider.add_contact("bob@example.com", "Not Ada's")
    token = tokens(provider, [CONTACTS_READONLY])

    pages, page_token = [], None
    while True:
        body = connections(provider, token["access_token"], pageSize=2, **({"pageToken": page_token} if page_token else {})).json()
        assert body["totalPeople"] == 5
        pages.append([person["names"][0]["displayName"] for person in body["connections"]])
        page_token = body.get("nextPageToken")
        if not page_token:
            break
    assert pages == [["Person 0", "Person 1"], ["Person 2", "Person 3"], ["Person 4"]]

    first = connections(provider, token["access_token"], pageSize=1).json()["connections"][0]
    assert first["resourceName"] == "people/c1" and first["etag"]
    assert first["emailAddresses"] == [{"value": "p0@example.com"}]
    assert first["phoneNumbers"] == [{"value": "+44 20 7946 0000"}]
    assert first["organizations"] == [{"name": "Analytical Ltd"}]
    only_names = api(provider, "/v1/people/me/connections", token["access_token"], personFields="names").json()
    assert set(only_names["connections"][0]) == {"resourceName", "etag", "names"}
    assert api(provider, "/v1/people/me/connections", token["access_token"]).status_code == 400  # personFields


def test_api_checks_scope_and_token(provider):
    token = tokens(provider, ["openid", "email"])
    forbidden = connections(provider, token["access_token"])
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["status"] == "PERMISSION_DENIED"  # Google's error shape
    assert api(provider, "/v4/spreadsheets/x/values/A1", token["access_token"]).status_code == 403
    unknown = connections(provider, "not-a-token")
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == 401
    assert "invalid_token" in unknown.headers["WWW-Authenticate"]
    missing = requests.get(provider.url + "/v1/people/me/connections", timeout=5)
    assert missing.status_code == 401


def test_create_contact_lands_at_the_provider(provider):
    token = tokens(provider)
    person = {"names": [{"givenName": "Grace", "familyName": "Hopper"}],
              "emailAddresses": [{"value": "grace@example.com"}], "phoneNumbers": [{"value": "+1 555 0100"}],
              "organizations": [{"name": "US Navy"}]}
    response = requests.post(provider.url + "/v1/people:createContact", json=person, timeout=5,
                             headers={"Authorization": f"Bearer {token['access_token']}"})
    assert response.status_code == 200
    created = response.json()
    assert created["resourceName"].startswith("people/c") and created["names"][0]["displayName"] == "Grace Hopper"
    assert provider.contacts_of(USER) == [{"resourceName": created["resourceName"], "name": "Grace Hopper",
                                          "email": "grace@example.com", "phone": "+1 555 0100",
                                          "company": "US Navy"}]

    read_only = tokens(provider, [CONTACTS_READONLY])
    refused = requests.post(provider.url + "/v1/people:createContact", json=person, timeout=5,
                            headers={"Authorization": f"Bearer {read_only['access_token']}"})
    assert refused.status_code == 403


def test_sheet_values(provider):
    provider.add_sheet(USER, "sheet-1", [["Name", "Email", "Phone"], ["Ada", "ada@example.com", ""],
                                         ["Grace", "grace@example.com", "+1 555 0100"]])
    token = tokens(provider, [SHEETS_READONLY])["access_token"]

    def values(a1):
        return api(provider, f"/v4/spreadsheets/sheet-1/values/{quote(a1, safe='')}", token)

    assert values("Sheet1!A1:B3").json() == {
        "range": "Sheet1!A1:B3", "majorDimension": "ROWS",
        "values": [["Name", "Email"], ["Ada", "ada@example.com"], ["Grace", "grace@example.com"]]}
    assert values("A2:C").json()["values"] == [["Ada", "ada@example.com"], ["Grace", "grace@example.com", "+1 555 0100"]]
    assert len(values("Sheet1").json()["values"]) == 3
    assert values("'Sheet1'!B2").json()["values"] == [["ada@example.com"]]
    assert values("Elsewhere!A1:B2").status_code == 400
    assert api(provider, "/v4/spreadsheets/nope/values/A1", token).status_code == 404


# --- fault injection and provider-side changes ------------------------------------------------

def test_garbage_fault_affects_only_the_next_token_request(provider):
    code, verifier = authorize(provider)
    provider.fail_next_token_request("garbage")
    garbage = exchange(provider, code, verifier)
    assert garbage.status_code == 200
    with pytest.raises(requests.JSONDecodeError):
        garbage.json()
    assert exchange(provider, code, verifier).status_code == 200  # the code was not consumed


def test_error_fault_affects_only_the_next_token_request(provider):
    first = tokens(provider)
    provider.fail_next_token_request("error")
    failed = refresh(provider, first["refresh_token"])
    assert failed.status_code == 400 and failed.json()["error"] == "invalid_grant"
    assert refresh(provider, first["refresh_token"]).status_code == 200  # nothing rotated


def test_slow_fault_outlasts_the_client_timeout(provider):
    code, verifier = authorize(provider)
    provider.fail_next_token_request("slow", delay=5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        exchange(provider, code, verifier, timeout=0.5)
    assert exchange(provider, code, verifier).status_code == 200


def test_unknown_fault_kind_is_refused(provider):
    with pytest.raises(ValueError):
        provider.fail_next_token_request("flaky")


def test_expired_access_tokens_are_refused_until_refreshed(provider):
    token = tokens(provider)
    assert connections(provider, token["access_token"]).status_code == 200
    provider.expire_access_tokens()
    expired = connections(provider, token["access_token"])
    assert expired.status_code == 401 and "invalid_token" in expired.headers["WWW-Authenticate"]
    renewed = refresh(provider, token["refresh_token"]).json()
    assert connections(provider, renewed["access_token"]).status_code == 200


def test_user_removing_access_at_the_provider(provider):
    token = tokens(provider)
    provider.revoke_all_grants_of(USER)
    assert connections(provider, token["access_token"]).status_code == 401
    assert api(provider, "/v1/userinfo", token["access_token"]).status_code == 401
    assert refresh(provider, token["refresh_token"]).json()["error"] == "invalid_grant"
    assert provider.revoked == []  # that list is for calls the client makes


@pytest.mark.browser
def test_a_browser_signs_in_and_grants_part_of_the_scopes(provider, chromium):
    from tests.support.browser import assert_accessible

    context = chromium.new_context()
    page = context.new_page()
    reached = []
    page.route(REDIRECT + "**", lambda route: (reached.append(route.request.url), route.fulfill(body="back")))
    verifier, challenge = pkce()
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in auth_params(ALL, challenge).items())
    try:
        page.goto(f"{provider.url}/o/oauth2/auth?{query}")
        assert_accessible(page)
        page.get_by_label("Email").fill(USER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label(CONTACTS, exact=True).uncheck()  # exact: it is a prefix of contacts.readonly
        assert_accessible(page)
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(REDIRECT + "**")
    finally:
        context.close()
    back = {k: v[0] for k, v in parse_qs(urlsplit(reached[0]).query).items()}
    assert back["state"] == "st4te"
    token = exchange(provider, back["code"], verifier).json()
    assert set(token["scope"].split()) == set(ALL) - {CONTACTS}
