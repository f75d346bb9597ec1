"""Connecting, syncing and disconnecting a person's third-party accounts over OAuth 2.0
(authorization code with PKCE and state, by Authlib's Flask client).

- Connect: the person reads what the integration reads and writes (and Google's
  Limited Use disclosure) right before being sent to the provider. The callback
  keeps only what a valid state, an unused code and a readable token response give:
  any failure leaves nothing half-connected. The scopes kept are those the provider
  says it granted (a person may untick some).
- Tokens are encrypted at rest (EncryptedTextField). A sync refreshes them when
  they expire and stores the rotated ones; a grant the provider no longer honours
  marks the connection "needs reconnecting" and keeps every synced row.
- Disconnect: revoke at the provider (RFC 7009), forget the tokens, stop syncing,
  and by default delete what the connection brought in (a job with progress).
  Erasing a person does the same for each of their connections."""
from __future__ import annotations

import time
from datetime import timedelta

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app, session
from joserfc.errors import JoseError

from app.db import database
from app.models import Connection, ConnectionStatus, Direction, Job, Lead, PendingRevocation, Restriction, User
from app.models.base import utcnow
from app.services.integrations import catalogue
from app.services.platform import audit, jobs
from app.services.platform.errors import ServiceError
from app.services.platform.links import external_url
from app.services.platform.outbox import queue_email
from app.services.rights.erasure import BEFORE_DELETE

HTTP_TIMEOUT = 10  # seconds: a provider that does not answer is reported, not waited for
DELETE_BATCH = 500
REVOKE_JOB = "revoke_grants"
_PENDING = "integration_pending"  # session key: the integration and direction being connected


class ProviderUnavailable(ServiceError):
    status = 502


# --- the OAuth client ----------------------------------------------------------------

def oauth_client(provider_key: str):
    """Authlib's Flask client for a provider, registered once per app from the
    catalogue (its endpoints come from the provider's discovery document)."""
    app = current_app._get_current_object()
    registry = app.extensions.get("authlib.integrations.flask_client") or OAuth(app)
    client = registry.create_client(provider_key)
    if client is None:
        client_id, secret = catalogue.credentials(provider_key)
        client = registry.register(provider_key, client_id=client_id, client_secret=secret,
                                   server_metadata_url=catalogue.provider(provider_key).discovery_url,
                                   client_kwargs={"code_challenge_method": "S256", "timeout": HTTP_TIMEOUT})
    return client


def _metadata(provider_key: str) -> dict:
    try:
        return oauth_client(provider_key).load_server_metadata()
    except (requests.RequestException, ValueError) as e:
        raise ProviderUnavailable(f"{catalogue.PROVIDERS[provider_key].name} could not be reached just now. "
                                  "Nothing was changed: try again in a few minutes.") from e


# --- what the person sees ------------------------------------------------------------

def overview(user: User) -> list[dict]:
    mine = {c.integration: c for c in Connection.select().where(Connection.user == user.id)}
    rows = []
    for key in catalogue.INTEGRATIONS:
        i = catalogue.integration(key)
        rows.append({"integration": i, "provider": catalogue.PROVIDERS[i.provider], "offered": catalogue.offered(i),
                     "connection": mine.get(key)})
    return rows


def connection_of(user: User, connection_id: int) -> Connection:
    found = Connection.get_or_none(Connection.id == connection_id, Connection.user == user.id)
    if found is None:  # someone else's looks exactly like one that does not exist
        raise ServiceError("There is no such connection.", 404)
    return found


def live_connection_of(user: User, connection_id: int) -> Connection:
    """A connection the person may act on now: connected, not being disconnected."""
    return _require_live(connection_of(user, connection_id))


def _require_live(connection: Connection) -> Connection:
    current = Connection.get_or_none(Connection.id == connection.id)
    if current is None or current.status != ConnectionStatus.CONNECTED.value:
        raise ServiceError("This connection is not active: connect it again first.", 409)
    return current


def offered_integration(key: str) -> catalogue.Integration:
    i = catalogue.integration(key)
    if i is None or not catalogue.offered(i):
        raise ServiceError("That integration is not available here.", 404)
    return i


def imported_count(connection: Connection) -> int:
    return Lead.select().where(Lead.connection == connection.id).count()


# --- connecting ----------------------------------------------------------------------

IDENTITY_SCOPES = ("openid", "email")


def _names_identity(scope: str) -> bool:
    """Scopes that only say who the account is (Google answers "email" with its URL form)."""
    return scope in IDENTITY_SCOPES or scope.endswith(("/auth/userinfo.email", "/auth/userinfo.profile"))


def begin_connect(key: str, direction: str, redirect_uri: str):
    """The redirect to the provider's consent screen, with PKCE (S256) and state."""
    i = offered_integration(key)
    if direction not in i.directions:
        raise ServiceError("Choose how to sync.")
    _metadata(i.provider)  # a provider that is down is said so here, not after a redirect
    session[_PENDING] = {"key": key, "direction": direction}
    # "openid email" as well: the id_token then names the account, shown beside the connection.
    identity = IDENTITY_SCOPES if catalogue.PROVIDERS[i.provider].names_account else ()
    params = {"scope": " ".join([*identity, *catalogue.scopes_for(i, direction)])}
    if i.provider == "google":  # a refresh token each time; no merging with other integrations' scopes
        params.update(access_type="offline", prompt="consent")
    return oauth_client(i.provider).authorize_redirect(redirect_uri, **params)


def complete_connect(user: User, key: str) -> Connection:
    """The callback. Raises ServiceError, with nothing stored and the new grant given
    back, when anything is off. `connection.downgraded` says write access was asked
    for and not granted."""
    i = offered_integration(key)
    pending = session.pop(_PENDING, None)
    if not pending or pending.get("key") != key:
        raise ServiceError("This answer from the provider does not match a connection you started here. Nothing "
                           "was connected: start again from Integrations.")
    token = exchange_code(i.provider)
    try:
        returned = (token.get("scope") or " ".join(catalogue.scopes_for(i, pending["direction"]))).split()
        granted = list(dict.fromkeys(s for s in returned if not _names_identity(s)))
        if not set(granted) & set(i.read_scopes + i.write_scopes):
            raise ServiceError(f"You did not allow access to {i.name}, so nothing was connected.")
        direction = pending["direction"]
        downgraded = direction != Direction.INTO_CRM.value and not set(granted) & set(i.write_scopes)
        if downgraded:
            direction = Direction.INTO_CRM.value  # write access was not granted: sync into the CRM only
        connection = _save_connection(user, i, token, granted, direction)
    except ServiceError:
        _give_back(user, i.provider, token)  # a grant we will not use is not kept alive
        raise
    connection.downgraded = downgraded
    return connection


def exchange_code(provider_key: str, nothing_done: str = "Nothing was connected") -> dict:
    """The callback's code for tokens (state, PKCE verifier and, for OpenID Connect,
    the id_token's signature and nonce checked by Authlib); every failure in words."""
    name = catalogue.PROVIDERS[provider_key].name
    try:
        token = oauth_client(provider_key).authorize_access_token()
    except OAuthError as e:
        if e.error == "access_denied":
            raise ServiceError(f"You did not allow access at {name}, so {nothing_done.lower()}.") from e
        if e.error in ("mismatching_state", "invalid_state"):
            raise ServiceError("This answer from the provider is not valid here: it was changed, already used, or "
                               f"started in another browser. {nothing_done}: start again.") from e
        raise ServiceError(f"{name} refused to complete this ({e.error}). {nothing_done}: start again.") from e
    except JoseError as e:
        raise ServiceError(f"{name}'s proof of who you are did not check out. {nothing_done}.") from e
    except requests.RequestException as e:
        raise ProviderUnavailable(f"{name} did not answer in time. {nothing_done}: try again.") from e
    except (ValueError, AuthlibBaseError) as e:
        raise ProviderUnavailable(f"{name} sent an answer we could not read. {nothing_done}: "
                                  "try again later.") from e
    if not isinstance(token, dict) or not token.get("access_token"):
        raise ProviderUnavailable(f"{name} sent no access token. {nothing_done}: try again later.")
    return token


def _save_connection(user: User, i: catalogue.Integration, token: dict, granted: list[str],
                     direction: str) -> Connection:
    account = (token.get("userinfo") or {}).get("email") or ""  # claims Authlib checked (signature, nonce)
    fields = dict(status=ConnectionStatus.CONNECTED.value, direction=direction, granted_scopes=" ".join(granted),
                  account_email=account[:320],
                  access_token=token["access_token"], refresh_token=token.get("refresh_token"),
                  token_expires_at=_expiry(token), last_error="", connected_at=utcnow())
    with database.atomic():
        existing = Connection.get_or_none(Connection.user == user.id, Connection.integration == i.key)
        if existing and existing.status == ConnectionStatus.DISCONNECTING.value:
            raise ServiceError("This integration is still being disconnected. Connect it again in a minute.", 409)
        if existing:
            # Never a refresh token of an earlier grant (perhaps another account) with this one.
            Connection.update(**fields).where(Connection.id == existing.id).execute()
            connection = Connection.get_by_id(existing.id)
        else:
            connection = Connection.create(user=user.id, integration=i.key, **fields)
        audit.record(audit.Event("integration.connected", actor=user, subject=user, details={
            "integration": i.key, "scopes": granted, "direction": direction}))
    if i.adapter != "google_sheets":  # a sheet is imported when the person picks one
        request_sync(connection)
    return connection


def _expiry(token: dict):
    if token.get("expires_at"):
        return utcnow() + timedelta(seconds=max(0, int(token["expires_at"] - time.time())))
    if token.get("expires_in"):
        return utcnow() + timedelta(seconds=int(token["expires_in"]))
    return None


class NeedsMoreAccess(ServiceError):
    """The direction asks for write access the grant lacks: the person must consent again."""
    status = 409


def set_direction(user: User, connection_id: int, direction: str) -> Connection:
    connection = live_connection_of(user, connection_id)
    i = catalogue.integration(connection.integration)
    if direction not in i.directions or not i.write_scopes:
        raise ServiceError("Choose how to sync.")
    if direction != Direction.INTO_CRM.value and not set(connection.scopes) & set(i.write_scopes):
        raise NeedsMoreAccess(f"To sync out of the CRM, {catalogue.PROVIDERS[i.provider].name} must allow us to "
                              "write: allow it on the next screen.")
    with database.atomic():
        Connection.update(direction=direction).where(Connection.id == connection.id).execute()
        audit.record(audit.Event("integration.direction_changed", actor=user, subject=user, details={
            "integration": i.key, "direction": direction}))
    return Connection.get_by_id(connection.id)


# --- talking to the provider's API ---------------------------------------------------

def api_session(connection: Connection) -> OAuth2Session:
    """A requests session carrying the connection's token; an expired one is refreshed
    and the rotated tokens stored before the call."""
    i = catalogue.integration(connection.integration)
    client_id, secret = catalogue.credentials(i.provider)
    token = {"access_token": connection.access_token, "refresh_token": connection.refresh_token,
             "token_type": "Bearer"}
    if connection.token_expires_at:
        token["expires_at"] = int(time.time() + (connection.token_expires_at - utcnow()).total_seconds())

    def store(new_token, refresh_token=None, access_token=None):
        kept = Connection.update(access_token=new_token["access_token"],
                                 refresh_token=new_token.get("refresh_token") or connection.refresh_token,
                                 token_expires_at=_expiry(new_token)).where(
            Connection.id == connection.id, Connection.status == ConnectionStatus.CONNECTED.value).execute()
        if not kept:  # disconnected while we refreshed: give the new grant back at once
            _revoke_token(i.provider, new_token.get("refresh_token") or new_token["access_token"])

    return OAuth2Session(client_id, secret, token=token, token_endpoint=_metadata(i.provider)["token_endpoint"],
                         update_token=store, default_timeout=HTTP_TIMEOUT)


class GrantLost(Exception):
    """The provider no longer honours our tokens (revoked, expired refresh token)."""


def call(api: OAuth2Session, method: str, url: str, **kwargs) -> dict:
    """One API call. A 401 gets one forced refresh (the provider may have expired the
    token early); a second 401, or a refused refresh, means the grant is gone."""
    for attempt in (1, 2):
        try:
            response = api.request(method, url, **kwargs)
        except OAuthError as e:  # the refresh itself was refused
            raise GrantLost(e.error or "refresh refused") from e
        if response.status_code != 401:
            response.raise_for_status()
            return response.json() if response.content else {}
        if attempt == 1 and api.token.get("refresh_token"):
            try:
                api.refresh_token()  # stores the rotated tokens through update_token
            except OAuthError as e:
                raise GrantLost(e.error or "refresh refused") from e
    raise GrantLost("the provider refused our access token")


# --- syncing -------------------------------------------------------------------------

ADAPTERS: dict = {}  # adapter name -> function(connection, api, progress); filled by integration_adapters


def request_sync(connection: Connection) -> Job | None:
    """Queue a sync unless one is waiting or running (a sheet import is not a sync)."""
    i = catalogue.integration(connection.integration)
    if i is None or i.adapter not in ADAPTERS:
        raise ServiceError(f"{i.name if i else 'This integration'} does not sync: nothing to do.", 409)
    _require_live(connection)
    with database.atomic():
        current = Connection.get_by_id(connection.id)
        if current.sync_job_id:
            job = Job.get_or_none(Job.id == current.sync_job_id)
            if job and not job.finished:
                return job
        job = jobs.enqueue("integration_sync", current.user)
        Connection.update(sync_job=job.id).where(Connection.id == current.id).execute()
    return job


@jobs.handler("integration_sync")
def run_sync(job: Job, progress: jobs.Progress) -> None:
    connection = Connection.get_or_none(Connection.sync_job == job.id)
    if connection is None or connection.status != ConnectionStatus.CONNECTED.value:
        return  # disconnected meanwhile: nothing to do
    if not User.get_by_id(connection.user_id).active:
        return  # an account being erased (or closed) syncs nothing more
    if Restriction.applies_to(connection.user_id):
        return  # restricted (Art. 18): what we hold is stored, nothing more is fetched or matched
    i = catalogue.integration(connection.integration)
    try:
        ADAPTERS[i.adapter](connection, api_session(connection), progress)
    except GrantLost as e:
        _needs_reconnect(connection, str(e))
        return
    except (requests.RequestException, ValueError) as e:
        Connection.update(last_error=f"The last sync failed: {type(e).__name__}. It is retried.").where(
            Connection.id == connection.id).execute()
        raise
    Connection.update(last_synced_at=utcnow(), last_error="").where(Connection.id == connection.id).execute()


def _needs_reconnect(connection: Connection, why: str) -> None:
    """Stop syncing, keep every row, and tell the person (page and email)."""
    person = User.get_by_id(connection.user_id)
    with database.atomic():
        changed = Connection.update(
            status=ConnectionStatus.NEEDS_RECONNECT.value,
            last_error="The provider no longer accepts our access: connect again to resume syncing. "
                       "Everything synced so far is kept.").where(
            Connection.id == connection.id, Connection.status == ConnectionStatus.CONNECTED.value).execute()
        if not changed:
            return  # being disconnected, or already marked: nothing to tell
        audit.record(audit.Event("integration.needs_reconnect", subject=person,
                                 details={"integration": connection.integration, "why": why[:200]}))
        # Told once: the next failed sync does not mail again (the status has changed).
        i = catalogue.integration(connection.integration)
        queue_email(person.email, f"{i.name} needs reconnecting", "integration_needs_reconnect",
                    provider=catalogue.PROVIDERS[i.provider].name, integration=i.name,
                    link=external_url("integrations.index"))


def sync_all_due() -> int:
    """The scheduler's periodic sync of every live connection with a sync adapter."""
    queued = 0
    live = (Connection.select().join(User, on=(Connection.user == User.id))
            .where(Connection.status == ConnectionStatus.CONNECTED.value, User.active == True,  # noqa: E712
                   User.id.not_in(Restriction.restricted_people())))
    for connection in live:
        i = catalogue.integration(connection.integration)
        if i and i.adapter in ADAPTERS and catalogue.credentials(i.provider):
            request_sync(connection)
            queued += 1
    return queued


# --- disconnecting -------------------------------------------------------------------

def disconnect(user: User, connection_id: int, delete_imported: bool, actor: User | None = None) -> Job:
    """Stop syncing at once; the job revokes our access at the provider (retrying
    until it can), forgets the tokens, then deletes what the connection brought in
    or keeps it as ordinary contacts. A second submit returns the same job."""
    connection = connection_of(user, connection_id)
    with database.atomic():
        job = jobs.enqueue("integration_disconnect", user)
        claimed = Connection.update(status=ConnectionStatus.DISCONNECTING.value, delete_imported=delete_imported,
                                    disconnect_job=job.id).where(
            Connection.id == connection.id, Connection.status != ConnectionStatus.DISCONNECTING.value).execute()
        if not claimed:  # already being disconnected (double submit, another tab)
            Job.delete().where(Job.id == job.id).execute()
            return Job.get_by_id(Connection.get_by_id(connection.id).disconnect_job_id)
        audit.record(audit.Event("integration.disconnect_requested", actor=actor or user, subject=user, details={
            "integration": connection.integration, "delete_imported": delete_imported,
            "imported_rows": imported_count(connection)}))
    return job


class RevocationFailed(Exception):
    """The provider could not be reached to revoke: the job is retried."""


@jobs.handler("integration_disconnect")
def run_disconnect(job: Job, progress: jobs.Progress) -> None:
    """Revoke, forget the tokens, then delete (or unlink) the imported rows and the
    connection. Each step is done before the next; re-run after a kill or a failed
    revocation, it carries on with what is left."""
    connection = Connection.get_or_none(Connection.disconnect_job == job.id)
    if connection is None:
        return
    person = User.get_by_id(connection.user_id)
    if connection.access_token or connection.refresh_token:
        revoked = _revoke_unless_shared(connection)
        if revoked is False:
            raise RevocationFailed(f"{connection.integration}: the provider could not be reached to revoke")
        Connection.update(access_token="", refresh_token=None).where(Connection.id == connection.id).execute()
        audit.record(audit.Event("integration.disconnected", subject=person, details={
            "integration": connection.integration, "revoked_at_provider": revoked is True,
            "grant_kept_for": "another integration of the same provider" if revoked is None else ""}))
    if connection.delete_imported:
        progress.total(imported_count(connection))
        while True:
            with database.atomic():
                batch = Lead.select(Lead.id).where(Lead.connection == connection.id).limit(DELETE_BATCH)
                done = Lead.delete().where(Lead.id.in_(batch)).execute()
            if not done:
                break
            progress.advance(done)
    with database.atomic():
        if connection.delete_imported:  # what a sync still added meanwhile goes too
            Lead.delete().where(Lead.connection == connection.id).execute()
        Connection.delete().where(Connection.id == connection.id).execute()  # kept rows are unlinked (SET NULL)
        audit.record(audit.Event("integration.imported_data_deleted" if connection.delete_imported
                                 else "integration.imported_data_kept", subject=person,
                                 details={"integration": connection.integration}))


def _revoke_unless_shared(connection: Connection) -> bool | None:
    """Revoke our grant at the provider, unless another live connection of the person
    uses the same provider: Google ends the whole grant (every integration) on any
    revocation, so then we only forget this connection's tokens. None: not revoked
    on purpose; False: could not."""
    i = catalogue.integration(connection.integration)
    if _others_with_provider(connection.user_id, i.provider, connection.id):
        return None
    return _revoke(connection)


def _others_with_provider(user_id: int, provider_key: str, except_id: int | None = None) -> bool:
    keys = [k for k, i in catalogue.INTEGRATIONS.items() if i.provider == provider_key]
    others = Connection.select().where(Connection.user == user_id, Connection.integration.in_(keys),
                                       Connection.status != ConnectionStatus.DISCONNECTING.value)
    if except_id is not None:
        others = others.where(Connection.id != except_id)
    return others.exists()


def _revoke(connection: Connection) -> bool:
    """RFC 7009 at the provider, with the refresh token when we have one (at Google
    that ends the whole grant). True if the provider confirmed it."""
    if not connection.access_token and not connection.refresh_token:
        return True
    i = catalogue.integration(connection.integration)
    return _revoke_token(i.provider, connection.refresh_token or connection.access_token,
                         "refresh_token" if connection.refresh_token else "access_token")


def _revoke_token(provider_key: str, token: str, hint: str = "refresh_token") -> bool:
    try:
        endpoint = _metadata(provider_key).get("revocation_endpoint")
        if not endpoint:
            return True  # the provider offers no revocation: forgetting the token is all we can do
        client_id, secret = catalogue.credentials(provider_key)
        with OAuth2Session(client_id, secret, default_timeout=HTTP_TIMEOUT) as api:
            response = api.revoke_token(endpoint, token=token, token_type_hint=hint)
        return response.status_code == 200
    except (requests.RequestException, ProviderUnavailable, OAuthError):
        return False


def _give_back(user: User, provider_key: str, token: dict) -> None:
    """A grant the callback will not keep: revoked, unless the person has another live
    connection to the provider (the grant is shared: revoking would end that one too)."""
    if not _others_with_provider(user.id, provider_key):
        _revoke_token(provider_key, token.get("refresh_token") or token.get("access_token", ""))


def revoke_all_of(user: User) -> None:
    """Erasure: every connection of the person is queued for revocation at its provider
    (revoke_pending), before the erasure deletes the connections and every lead they
    brought in. Queued, not done here: a provider that is down or settings that are
    missing (a backup restored elsewhere) must never stop or break an erasure."""
    queued = 0
    for connection in Connection.select().where(Connection.user == user.id):
        token = connection.refresh_token or connection.access_token
        if token:
            PendingRevocation.create(provider=catalogue.integration(connection.integration).provider, token=token,
                                     token_type_hint="refresh_token" if connection.refresh_token else "access_token")
            queued += 1
        audit.record(audit.Event("integration.disconnected", subject=user, details={
            "integration": connection.integration, "revocation": "queued", "by": "erasure"}))
    if queued:
        jobs.enqueue(REVOKE_JOB)


@jobs.handler(REVOKE_JOB)
def revoke_job(job: Job, progress: jobs.Progress) -> None:
    left = revoke_pending()
    if left:  # the job runner retries with a growing back-off; the periodic sync tries too
        raise RevocationFailed(f"{left} grant(s) not revoked yet")


def revoke_pending() -> int:
    """Revoke every queued grant; a revoked one is forgotten. Returns how many are left."""
    left = 0
    for pending in PendingRevocation.select().order_by(PendingRevocation.id):
        try:
            revoked = bool(catalogue.credentials(pending.provider)) and _revoke_token(
                pending.provider, pending.token, pending.token_type_hint)
            error = "" if revoked else "the provider did not confirm, or no OAuth client is configured for it"
        except Exception as e:  # any failure keeps the grant queued; none may stop the others
            revoked, error = False, f"{type(e).__name__}: {e}"[:500]
        if revoked:
            pending.delete_instance()
        else:
            left += 1
            PendingRevocation.update(attempts=PendingRevocation.attempts + 1, last_error=error).where(
                PendingRevocation.id == pending.id).execute()
    return left


BEFORE_DELETE[Connection] = revoke_all_of
