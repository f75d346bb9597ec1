"""A real OAuth 2.0 / OpenID Connect provider on loopback, standing in for Google in tests.

It is built from Authlib's server components (AuthorizationServer, the authorization-code
and refresh-token grants with PKCE and OpenID Connect, RevocationEndpoint, UserInfoEndpoint,
ResourceProtector), keeps everything in memory, and serves its own Flask app from a thread, so
it never shares Flask globals, secret key or session cookie with the app under test.

Endpoints (paths follow Google's where Google has one):
  /.well-known/openid-configuration   discovery        /oauth2/v3/certs   JWKS (RS256)
  /o/oauth2/auth   authorization (code + PKCE S256 only, exact redirect_uri)
  /token           token (client_secret_basic or client_secret_post; refresh tokens rotate)
  /revoke          RFC 7009 revocation (client auth required; revokes the whole grant)
  /v1/userinfo     OpenID userinfo (Bearer, needs "openid")
  /v1/people/me/connections, /v1/people:createContact        People API shape
  /v4/spreadsheets/<id>/values/<A1 range>                     Sheets API shape

A browser signs in on /o/oauth2/auth with the fields "Email" and "Password" and the button
"Sign in", then sees a consent page with one checkbox per requested scope (labelled with the
scope string, all checked) and the buttons "Allow" and "Deny". Tests without a browser call
`provider.auto_approve(email)` first: every authorization request is then approved at once as
that user, with no page shown (`auto_approve(None)` switches it off).
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Self

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector, current_token
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, TokenMixin, grants, list_to_scope, scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode, UserInfo, UserInfoEndpoint
from flask import Flask, Response, abort, jsonify, redirect, render_template_string, request, session
from joserfc.jwk import RSAKey
from werkzeug.serving import WSGIRequestHandler, make_server

# Authlib's server refuses plain http:// (InsecureTransportError) unless this is set, and it reads
# the variable on each request. The provider serves http on loopback; only test code imports this
# module, so setting it here reaches the test process (app under test included) and nothing else.
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

CONTACTS_READONLY = "https://www.googleapis.com/auth/contacts.readonly"
CONTACTS = "https://www.googleapis.com/auth/contacts"
SHEETS_READONLY = "https://www.googleapis.com/auth/spreadsheets.readonly"
SHEETS = "https://www.googleapis.com/auth/spreadsheets"
SCOPES = ["openid", "email", "profile", CONTACTS_READONLY, CONTACTS, SHEETS_READONLY, SHEETS]

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
CODE_LIFETIME = 600  # seconds; RFC 6749 §4.1.2 recommends at most 10 minutes
FIRST_SHEET = "Sheet1"
FAULTS = ("garbage", "error", "slow")


# --- what the provider stores -------------------------------------------------------------

@dataclass(eq=False)
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    client_metadata: dict = field(default_factory=dict)  # read by Authlib's UserInfoEndpoint

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None  # like Google: redirect_uri is always required

    def get_allowed_scope(self, scope):
        return list_to_scope([s for s in scope_to_list(scope or "") if s in SCOPES])

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris  # exact string match, no prefix or pattern

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in CLIENT_AUTH_METHODS

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


@dataclass(eq=False)
class Contact:
    resource_name: str
    name: str
    email: str = ""
    phone: str = ""
    company: str = ""

    @property
    def etag(self) -> str:
        digest = hashlib.sha256(repr((self.name, self.email, self.phone, self.company)).encode()).digest()
        return "%" + base64.urlsafe_b64encode(digest[:15]).decode()

    def person(self, fields: set[str]) -> dict:
        """The contact as the People API renders a Person: empty fields are left out, as Google does."""
        person = {"resourceName": self.resource_name, "etag": self.etag}
        given, _, family = self.name.partition(" ")
        parts = {
            "names": self.name and [{"displayName": self.name, "givenName": given, "familyName": family,
                                     "unstructuredName": self.name}],
            "emailAddresses": self.email and [{"value": self.email}],
            "phoneNumbers": self.phone and [{"value": self.phone}],
            "organizations": self.company and [{"name": self.company}],
        }
        person.update({k: v for k, v in parts.items() if k in fields and v})
        return person

    def as_dict(self) -> dict:
        return {"resourceName": self.resource_name, "name": self.name, "email": self.email,
                "phone": self.phone, "company": self.company}


@dataclass(eq=False)
class User:
    email: str
    name: str
    password: str
    email_verified: bool
    sub: str
    contacts: list[Contact] = field(default_factory=list)
    sheets: dict[str, list[list[str]]] = field(default_factory=dict)


@dataclass(eq=False)
class AuthorizationCode(AuthorizationCodeMixin):
    code: str
    client: Client
    user: User
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str
    nonce: str | None
    auth_time: int
    expires_at: float

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time


@dataclass(eq=False)
class Token(TokenMixin):
    client: Client
    user: User
    scope: str
    access_token: str
    refresh_token: str | None
    expires_in: int
    issued_at: float
    code: str  # the authorization code this token descends from (through refreshes)
    access_revoked: bool = False
    refresh_revoked: bool = False
    forced_expiry: bool = False

    def check_client(self, client):
        return self.client.client_id == client.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return self.forced_expiry or time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return self.access_revoked

    def get_user(self):
        return self.user

    def get_client(self):
        return self.client

    def revoke(self):
        self.access_revoked = self.refresh_revoked = True


@dataclass
class Consent:
    """What the resource owner agreed to on the consent page (or through auto_approve)."""
    scopes: list[str]
    auth_time: int


# --- Authlib server components, bound to one provider ------------------------------------

class _Server(AuthorizationServer):
    def __init__(self, app: Flask, provider: OAuthProvider):
        self.provider = provider
        super().__init__(app)

    def query_client(self, client_id):
        return self.provider._clients.get(client_id)

    def save_token(self, token, request):
        self.provider._save_token(token, request)


class _CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    consent: Consent | None = None  # set by the authorization view before it answers

    def save_authorization_code(self, code, request):
        granted = [s for s in scope_to_list(request.scope) if s in self.consent.scopes]
        self.server.provider._save_code(AuthorizationCode(
            code=code, client=request.client, user=request.user,
            redirect_uri=request.payload.redirect_uri, scope=list_to_scope(granted),
            code_challenge=request.payload.data.get("code_challenge"),
            code_challenge_method=request.payload.data.get("code_challenge_method"),
            nonce=request.payload.data.get("nonce"), auth_time=self.consent.auth_time,
            expires_at=time.time() + CODE_LIFETIME))

    def query_authorization_code(self, code, client):
        return self.server.provider._consume_code(code, client)

    def delete_authorization_code(self, authorization_code):
        pass  # already consumed by query_authorization_code, so two racing exchanges cannot both win

    def authenticate_user(self, authorization_code):
        return authorization_code.user


class _RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: each refresh returns a new refresh token

    def authenticate_refresh_token(self, refresh_token):
        token = self.server.provider._by_refresh.get(refresh_token)
        if token and not token.refresh_revoked:
            return token
        return None

    def authenticate_user(self, refresh_token):
        return refresh_token.user

    def revoke_old_credential(self, refresh_token):
        refresh_token.refresh_revoked = True  # the used refresh token is refused from now on


class _S256Required(CodeChallenge):
    """PKCE is mandatory for every client, confidential ones too, and only S256 is accepted."""
    SUPPORTED_CODE_CHALLENGE_METHOD = ("S256",)

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        return super().validate_code_challenge(grant, redirect_uri)


class _OpenIDCode(OpenIDCode):
    def __init__(self, provider: OAuthProvider):
        super().__init__(require_nonce=False)
        self.provider = provider

    def exists_nonce(self, nonce, request):
        return (request.payload.client_id, nonce) in self.provider._nonces

    def resolve_client_private_key(self, client):
        return self.provider._key

    def get_client_algorithm(self, client):
        return "RS256"

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": self.provider._key.kid}

    def get_client_claims(self, client):
        return {"iss": self.provider.issuer, "aud": client.client_id}

    def generate_user_info(self, user, scope):
        return self.provider._user_info(user, scope)


class _UserInfo(UserInfoEndpoint):
    def __init__(self, provider: OAuthProvider, resource_protector):
        super().__init__(resource_protector=resource_protector)
        self.provider = provider

    def get_issuer(self):
        return self.provider.issuer

    def generate_user_info(self, user, scope):
        return self.provider._user_info(user, scope)


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def authenticate_token(self, request, client):
        self.server.provider.revoked.append({
            "token": request.form.get("token"), "token_type_hint": request.form.get("token_type_hint"),
            "client_id": client.client_id})
        return super().authenticate_token(request, client)

    def query_token(self, token_string, token_type_hint):
        provider = self.server.provider
        return provider._by_access.get(token_string) or provider._by_refresh.get(token_string)

    def revoke_token(self, token, request):
        self.server.provider._revoke_grant(token.user, token.client)  # like Google: the whole grant goes


class _BearerValidator(BearerTokenValidator):
    def __init__(self, provider: OAuthProvider):
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string):
        return self.provider._by_access.get(token_string)


class _GoogleApiProtector(ResourceProtector):
    """Bearer check for the resource APIs, answering errors in Google's JSON error shape."""

    def raise_error_response(self, error):
        abort(google_error(error.status_code, error.description or error.error, error.get_headers()))


def google_error(code: int, message: str, headers=None) -> Response:
    status = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
              404: "NOT_FOUND"}.get(code, "UNKNOWN")
    body = json.dumps({"error": {"code": code, "message": message, "status": status}})
    response = Response(body, status=code, mimetype="application/json")
    for name, value in headers or []:
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code="-", size="-"):
        pass  # keep request lines out of the test output


# --- the provider ---------------------------------------------------------------------------

class OAuthProvider:
    def __init__(self, expires_in: int = 3600):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = self.url
        self.discovery_url = self.url + "/.well-known/openid-configuration"
        self.expires_in = expires_in  # access-token lifetime, read at each issue

        # What tests assert on.
        self.revoked: list[dict] = []  # each authenticated RFC 7009 call
        self.issued_access_tokens: list[str] = []
        self.issued_refresh_tokens: list[str] = []
        self.used_codes: list[str] = []  # codes exchanged (or tried) at the token endpoint
        self.token_requests: list[dict] = []  # {"grant_type", "client_auth"} per token call

        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
        self._clients: dict[str, Client] = {}
        self._users: dict[str, User] = {}
        self._codes: dict[str, AuthorizationCode] = {}
        self._by_access: dict[str, Token] = {}
        self._by_refresh: dict[str, Token] = {}
        self._nonces: set[tuple[str, str]] = set()
        self._faults: deque[tuple[str, float]] = deque()
        self._auto: tuple[str, list[str] | None] | None = None
        self._contact_ids = itertools.count(1)
        self._server = None
        self._thread = None
        self._app = self._create_app()

    # lifecycle

    def start(self) -> OAuthProvider:
        self._server = make_server("127.0.0.1", self.port, self._app, threaded=True, request_handler=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="oauth-provider", daemon=True)  # quick shutdown
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes a "slow" token request still waiting
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # set-up

    def add_client(self, client_id: str, client_secret: str, redirect_uris: list[str]) -> None:
        with self._lock:
            self._clients[client_id] = Client(client_id, client_secret, list(redirect_uris))

    def add_user(self, email: str, name: str, password: str = "secret", email_verified: bool = True) -> None:
        with self._lock:
            sub = str(100000000000000000000 + len(self._users) + 1)  # Google's subs are 21-digit strings
            self._users[email.lower()] = User(email, name, password, email_verified, sub)

    def add_contact(self, email_of_user: str, name: str, email: str = "", phone: str = "",
                    company: str = "") -> str:
        with self._lock:
            contact = Contact(f"people/c{next(self._contact_ids)}", name, email, phone, company)
            self._user(email_of_user).contacts.append(contact)
            return contact.resource_name

    def add_sheet(self, email_of_user: str, spreadsheet_id: str, rows: list[list[str]]) -> None:
        with self._lock:
            self._user(email_of_user).sheets[spreadsheet_id] = [list(map(str, row)) for row in rows]

    def contacts_of(self, email_of_user: str) -> list[dict]:
        """The user's contacts now, flat: resourceName, name, email, phone, company."""
        with self._lock:
            return [c.as_dict() for c in self._user(email_of_user).contacts]

    def auto_approve(self, email: str | None, scopes: list[str] | None = None) -> None:
        """Approve every following authorization request at once as `email`, granting `scopes`
        (None: all requested; a list: only those of them; []: deny). None switches it off."""
        with self._lock:
            self._auto = None if email is None else (self._user(email).email, scopes)

    # fault injection

    def fail_next_token_request(self, kind: str, delay: float = 15.0) -> None:
        """The next token request fails: "garbage" (200, non-JSON body), "error" (400 invalid_grant)
        or "slow" (answers 503 after `delay` seconds). It is not processed: no code is consumed and
        no refresh token rotates. Calls queue up, one per following token request."""
        if kind not in FAULTS:
            raise ValueError(f"kind must be one of {FAULTS}")
        with self._lock:
            self._faults.append((kind, delay))

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is refused (401) from now on; refresh tokens still work."""
        with self._lock:
            for token in self._by_access.values():
                token.forced_expiry = True

    def revoke_all_grants_of(self, email_of_user: str) -> None:
        """As if the user removed the app's access in their account: codes, access and refresh
        tokens of every client stop working."""
        with self._lock:
            user = self._user(email_of_user)
            for token in self._by_access.values():
                if token.user is user:
                    token.revoke()
            for code in [c for c, ac in self._codes.items() if ac.user is user]:
                del self._codes[code]

    # storage used by the Authlib components

    def _user(self, email: str) -> User:
        try:
            return self._users[email.lower()]
        except KeyError:
            raise LookupError(f"no user {email!r}; call add_user first") from None

    def _save_code(self, authorization_code: AuthorizationCode) -> None:
        self._codes[authorization_code.code] = authorization_code
        if authorization_code.nonce:
            self._nonces.add((authorization_code.client.client_id, authorization_code.nonce))

    def _consume_code(self, code: str, client: Client) -> AuthorizationCode | None:
        if code in self.used_codes:
            # RFC 6749 §4.1.2: a code used twice is refused, and tokens issued from it are revoked.
            for token in self._by_access.values():
                if token.code == code:
                    token.revoke()
            return None
        self.used_codes.append(code)
        authorization_code = self._codes.pop(code, None)
        if (authorization_code is None or authorization_code.client.client_id != client.client_id
                or authorization_code.expires_at < time.time()):
            return None
        return authorization_code

    def _save_token(self, token: dict, request) -> None:
        origin = request.authorization_code.code if request.authorization_code else request.refresh_token.code
        record = Token(client=request.client, user=request.user, scope=token.get("scope", ""),
                       access_token=token["access_token"], refresh_token=token.get("refresh_token"),
                       expires_in=token["expires_in"], issued_at=time.time(), code=origin)
        self._by_access[record.access_token] = record
        self.issued_access_tokens.append(record.access_token)
        if record.refresh_token:
            self._by_refresh[record.refresh_token] = record
            self.issued_refresh_tokens.append(record.refresh_token)

    def _revoke_grant(self, user: User, client: Client) -> None:
        for token in self._by_access.values():
            if token.user is user and token.client is client:
                token.revoke()

    def _user_info(self, user: User, scope: str) -> UserInfo:
        # Claims follow the granted scopes, as at Google: email needs "email", name needs "profile".
        return UserInfo(sub=user.sub, email=user.email, email_verified=user.email_verified,
                        name=user.name).filter(scope)

    def _take_fault(self) -> tuple[str, float] | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.url + "/o/oauth2/auth",
            "token_endpoint": self.url + "/token",
            "revocation_endpoint": self.url + "/revoke",
            "userinfo_endpoint": self.url + "/v1/userinfo",
            "jwks_uri": self.url + "/oauth2/v3/certs",
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
            "claims_supported": ["iss", "aud", "sub", "iat", "exp", "auth_time", "nonce",
                                 "email", "email_verified", "name"],
        }

    # the Flask app

    def _create_app(self) -> Flask:
        app = Flask("oauth_provider")
        app.config.update(
            SECRET_KEY=secrets.token_hex(32),
            # Cookies ignore ports: the app under test on another 127.0.0.1 port must not see ours.
            SESSION_COOKIE_NAME="provider_session",
        )
        server = _Server(app, self)
        server.scopes_supported = SCOPES  # unknown scopes get invalid_scope
        server.register_token_generator("default", BearerTokenGenerator(
            access_token_generator=lambda **_: "ya29." + generate_token(40),
            refresh_token_generator=lambda **_: "1//" + generate_token(48),
            expires_generator=lambda client, grant_type: self.expires_in))
        server.register_grant(_CodeGrant, [_S256Required(required=True), _OpenIDCode(self)])
        server.register_grant(_RefreshGrant)
        server.register_endpoint(_Revocation)
        bearer = _GoogleApiProtector()
        bearer.register_token_validator(_BearerValidator(self))
        server.register_endpoint(_UserInfo(self, bearer))
        self._add_protocol_routes(app, server)
        self._add_api_routes(app, bearer)
        return app

    def _add_protocol_routes(self, app: Flask, server: _Server) -> None:
        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify(self._discovery())

        @app.get("/oauth2/v3/certs")
        def jwks():
            return jsonify({"keys": [self._key.as_dict(private=False)]})

        @app.route("/o/oauth2/auth", methods=["GET", "POST"])
        def authorize():
            with self._lock:
                return self._authorize(server)

        @app.post("/token")
        def token():
            self.token_requests.append({
                "grant_type": request.form.get("grant_type"),
                "client_auth": "client_secret_basic" if request.authorization
                else "client_secret_post" if "client_secret" in request.form else "none"})
            fault = self._take_fault()
            if fault:
                return self._faulty_token_response(*fault)
            with self._lock:
                return server.create_token_response()

        @app.post("/revoke")
        def revoke():
            with self._lock:
                return server.create_endpoint_response("revocation")

        @app.route("/v1/userinfo", methods=["GET", "POST"])
        def userinfo():
            with self._lock:
                return server.create_endpoint_response("userinfo")

    def _faulty_token_response(self, kind: str, delay: float) -> Response:
        if kind == "garbage":
            return Response("<html><body>Bad Gateway</body></html>", status=200, mimetype="text/html")
        if kind == "error":
            return Response(json.dumps({"error": "invalid_grant", "error_description": "Injected failure."}),
                            status=400, mimetype="application/json")
        self._stopping.wait(delay)  # outside the lock, so other requests carry on meanwhile
        return Response(json.dumps({"error": "temporarily_unavailable"}), status=503, mimetype="application/json")

    def _authorize(self, server: _Server):
        """Sign-in, then consent; or straight through for auto_approve."""
        auto_user = self._user(self._auto[0]) if self._auto else None
        signed_in = self._users.get(session.get("email", ""))
        try:
            grant = server.get_consent_grant(end_user=auto_user or signed_in)
        except OAuth2Error as error:
            if error.redirect_uri:  # client and redirect_uri are trusted: tell the client
                return server.handle_error_response(None, error)
            return render_template_string(ERROR_PAGE, error=error), 400  # never redirect to an unknown URI
        requested = scope_to_list(grant.request.scope) or []

        if auto_user is not None:
            scopes = self._auto[1]
            granted = requested if scopes is None else [s for s in requested if s in scopes]
            return self._answer(server, grant, auto_user, granted, int(time.time()))

        if request.method == "POST" and "password" in request.form:
            return self._sign_in(grant)
        if signed_in is None:
            return render_template_string(SIGN_IN_PAGE, client_id=grant.client.client_id, action=request.full_path,
                                          email=request.args.get("login_hint", ""), error=None)
        if request.method == "POST" and "decision" in request.form:
            allowed = request.form["decision"] == "allow"
            granted = [s for s in request.form.getlist("granted_scope") if s in requested] if allowed else []
            return self._answer(server, grant, signed_in, granted, session["auth_time"])
        return render_template_string(CONSENT_PAGE, client_id=grant.client.client_id, email=signed_in.email,
                                      scopes=requested, action=request.full_path)

    def _sign_in(self, grant):
        user = self._users.get(request.form.get("email", "").strip().lower())
        if user is None or not secrets.compare_digest(user.password, request.form.get("password", "")):
            return render_template_string(SIGN_IN_PAGE, client_id=grant.client.client_id, action=request.full_path,
                                          email=request.form.get("email", ""), error="Wrong email or password.")
        session["email"] = user.email.lower()
        session["auth_time"] = int(time.time())
        return redirect(request.full_path, code=303)

    def _answer(self, server: _Server, grant, user: User, granted: list[str], auth_time: int):
        """Redirect back to the client: a code for the granted scopes, or access_denied when none is."""
        grant.consent = Consent(granted, auth_time)
        return server.create_authorization_response(grant_user=user if granted else None, grant=grant)

    def _add_api_routes(self, app: Flask, bearer: _GoogleApiProtector) -> None:
        @app.get("/v1/people/me/connections")
        @bearer([CONTACTS_READONLY, CONTACTS])  # any one of them
        def connections():
            fields = set(filter(None, request.args.get("personFields", "").split(",")))
            if not fields:
                return google_error(400, "personFields mask is required. Please specify one or more valid paths.")
            try:
                size = min(max(int(request.args.get("pageSize", 100)), 1), 1000)
                start = _page_offset(request.args.get("pageToken"))
            except ValueError:
                return google_error(400, "Request contains an invalid argument.")
            with self._lock:
                contacts = list(current_token.user.contacts)
            page = contacts[start:start + size]
            body = {"totalPeople": len(contacts), "totalItems": len(contacts)}
            if page:  # Google leaves out empty lists
                body["connections"] = [c.person(fields) for c in page]
            if start + size < len(contacts):
                body["nextPageToken"] = _page_token(start + size)
            return jsonify(body)

        @app.post("/v1/people:createContact")
        @bearer([CONTACTS])
        def create_contact():
            person = request.get_json(silent=True) or {}
            contact = _contact_from_person(person)
            if not (contact.name or contact.email):
                return google_error(400, "Request must set at least one field.")
            with self._lock:
                contact.resource_name = f"people/c{next(self._contact_ids)}"
                current_token.user.contacts.append(contact)
            return jsonify(contact.person({"names", "emailAddresses", "phoneNumbers", "organizations"}))

        @app.get("/v4/spreadsheets/<spreadsheet_id>/values/<path:a1>")
        @bearer([SHEETS_READONLY, SHEETS])
        def sheet_values(spreadsheet_id, a1):
            rows = current_token.user.sheets.get(spreadsheet_id)
            if rows is None:
                return google_error(404, "Requested entity was not found.")
            try:
                return jsonify(_values(rows, a1))
            except ValueError:
                return google_error(400, f"Unable to parse range: {a1}")


# --- People and Sheets helpers --------------------------------------------------------------

def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        prefix, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise ValueError(token) from None
    if prefix != "offset" or not number.isdigit():
        raise ValueError(token)
    return int(number)


def _first(person: dict, key: str, value: str = "value") -> str:
    items = person.get(key) or [{}]
    return str(items[0].get(value) or "")


def _contact_from_person(person: dict) -> Contact:
    names = (person.get("names") or [{}])[0]
    name = (names.get("displayName") or names.get("unstructuredName")
            or " ".join(filter(None, [names.get("givenName"), names.get("familyName")])))
    return Contact("", name, _first(person, "emailAddresses"), _first(person, "phoneNumbers"),
                   _first(person, "organizations", "name"))


_CELLS = re.compile(r"^([A-Z]{0,3})([0-9]*)(?::([A-Z]{0,3})([0-9]*))?$")


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1


def _column_name(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _split_a1(a1: str) -> tuple[str, str]:
    """'Sheet1!A1:C3' -> ('Sheet1', 'A1:C3'); a bare 'A1:C3' is on the first sheet; a bare name is a sheet."""
    sheet, bang, cells = a1.rpartition("!")
    if not bang:  # Google reads a bare name of an existing sheet as that sheet, else as cells
        return (a1, "") if a1 == FIRST_SHEET or not _CELLS.match(a1.upper()) else (FIRST_SHEET, a1.upper())
    if sheet.startswith("'") and sheet.endswith("'"):
        sheet = sheet[1:-1].replace("''", "'")
    return sheet, cells.upper()


def _values(rows: list[list[str]], a1: str) -> dict:
    """spreadsheets.values.get for a one-sheet spreadsheet, majorDimension ROWS."""
    sheet, cells = _split_a1(a1)
    match = _CELLS.match(cells)
    if sheet != FIRST_SHEET or match is None:
        raise ValueError(a1)
    c0, r0, c1, r1 = match.groups()
    width = max((len(row) for row in rows), default=1)
    first_col = _column_index(c0) if c0 else 0
    first_row = int(r0) if r0 else 1
    if match.group(3) is None and (c0 and r0):  # a single cell
        last_col, last_row = first_col, first_row
    else:
        last_col = _column_index(c1) if c1 else width - 1
        last_row = int(r1) if r1 else max(len(rows), 1)
    values = [row[first_col:last_col + 1] for row in rows[first_row - 1:last_row]]
    values = [_trim(row) for row in values]
    while values and not values[-1]:  # Google drops trailing empty rows and cells
        values.pop()
    body = {"range": f"{sheet}!{_column_name(first_col)}{first_row}:{_column_name(last_col)}{last_row}",
            "majorDimension": "ROWS"}
    if values:
        body["values"] = values
    return body


def _trim(row: list[str]) -> list[str]:
    while row and row[-1] == "":
        row = row[:-1]
    return row


# --- pages ----------------------------------------------------------------------------------

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - test OAuth provider</title></head>
<body><main>"""

SIGN_IN_PAGE = _HEAD.format(title="Sign in") + """
<h1>Sign in</h1>
<p>to continue to {{ client_id }}</p>
{% if error %}<p role="alert">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
  <p><label for="email">Email</label> <input id="email" name="email" type="email" value="{{ email }}"
     autocomplete="username" required></p>
  <p><label for="password">Password</label> <input id="password" name="password" type="password"
     autocomplete="current-password" required></p>
  <p><button type="submit">Sign in</button></p>
</form>
</main></body></html>"""

CONSENT_PAGE = _HEAD.format(title="Consent") + """
<h1>{{ client_id }} wants to access your account</h1>
<p>Signed in as {{ email }}</p>
<form method="post" action="{{ action }}">
  <fieldset><legend>Select what {{ client_id }} can access</legend>
  {% for scope in scopes %}
    <p><label><input type="checkbox" name="granted_scope" value="{{ scope }}" checked> {{ scope }}</label></p>
  {% endfor %}
  </fieldset>
  <p><button type="submit" name="decision" value="deny">Deny</button>
     <button type="submit" name="decision" value="allow">Allow</button></p>
</form>
</main></body></html>"""

ERROR_PAGE = _HEAD.format(title="Error") + """
<h1>Error 400: {{ error.error }}</h1>
<p>{{ error.description }}</p>
</main></body></html>"""
