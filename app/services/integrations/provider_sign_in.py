"""Sign in with a provider (OpenID Connect) for end users. The provider's id_token
(signature, audience, nonce: checked by Authlib) names an email address; only a
verified address that belongs to an existing end-user account signs that account in,
and binds it to the provider's fixed account id (`sub`): from then on only that
provider account signs it in, whatever its address becomes.
No account is ever created or linked by a name or an unverified address, and staff
keep signing in with their password and second factor."""
from __future__ import annotations

from app.db import database
from app.models import ProviderIdentity, Role, User
from app.services.integrations import catalogue
from app.services.integrations.connections import exchange_code, oauth_client
from app.services.platform import audit
from app.services.platform.errors import AuthError, ServiceError

SCOPE = "openid email profile"
NOT_SIGNED_IN = "You are not signed in"


def providers_offered() -> list[catalogue.Provider]:
    return [p for key, p in catalogue.PROVIDERS.items() if catalogue.credentials(key)]


def begin(provider_key: str, redirect_uri: str):
    if provider_key not in catalogue.PROVIDERS or not catalogue.credentials(provider_key):
        raise ServiceError("Signing in with that provider is not available here.", 404)
    return oauth_client(provider_key).authorize_redirect(redirect_uri, scope=SCOPE)


def complete(provider_key: str, ip: str | None) -> User:
    if provider_key not in catalogue.PROVIDERS or not catalogue.credentials(provider_key):
        raise ServiceError("Signing in with that provider is not available here.", 404)
    name = catalogue.PROVIDERS[provider_key].name
    claims = exchange_code(provider_key, NOT_SIGNED_IN).get("userinfo") or {}
    email = (claims.get("email") or "").strip().lower()
    if not email or claims.get("email_verified") is not True:
        raise AuthError(f"{name} did not confirm that the email address is yours, so we cannot tell which account "
                        "is yours. Sign in with your password or an emailed link instead.", 403)
    subject = str(claims.get("sub") or "")
    linked = ProviderIdentity.get_or_none(ProviderIdentity.provider == provider_key,
                                          ProviderIdentity.subject == subject)
    user = User.get_or_none(User.id == linked.user_id) if linked else User.by_email(email)
    if user is None or user.role != Role.SUBJECT.value or not user.active or not subject:
        raise _refused(provider_key, name, ip, "no end-user account")
    if linked is None:
        # The first sign-in with this provider binds the account to this provider
        # account; an address that later changes hands at the provider binds nobody.
        if ProviderIdentity.select().where(ProviderIdentity.user == user.id,
                                           ProviderIdentity.provider == provider_key).exists():
            raise _refused(provider_key, name, ip, "another provider account is linked")
        with database.atomic():
            ProviderIdentity.create(user=user.id, provider=provider_key, subject=subject)
            audit.record(audit.Event("login.provider_linked", actor=user, subject=user, ip=ip,
                                     details={"provider": provider_key}))
    return user


def _refused(provider_key: str, name: str, ip: str | None, reason: str) -> AuthError:
    # One answer for no account, a staff account and a foreign provider account:
    # nothing about which accounts exist leaks.
    audit.record(audit.Event("login.failed", ip=ip, details={"method": f"oidc:{provider_key}", "reason": reason}))
    return AuthError(f"No account here can sign in with that {name} account. Sign in with your password or "
                     "an emailed link instead.", 403)
