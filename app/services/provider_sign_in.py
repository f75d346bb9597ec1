"""Sign in with a provider (OpenID Connect) for end users. The provider's id_token
(signature, audience, nonce: checked by Authlib) names an email address; only a
verified address that belongs to an existing end-user account signs that account in.
No account is ever created or linked by a name or an unverified address, and staff
keep signing in with their password and second factor."""
from __future__ import annotations

from app.models import Role, User
from app.services import audit
from app.services import integration_catalogue as catalogue
from app.services.errors import AuthError, ServiceError
from app.services.integrations import exchange_code, oauth_client

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
    user = User.by_email(email)
    if user is None or user.role != Role.SUBJECT.value or not user.active:
        # The same answer for no account and a staff account: nothing about accounts leaks.
        audit.record(audit.Event("login.failed", ip=ip, details={"method": f"oidc:{provider_key}",
                                                                 "reason": "no end-user account"}))
        raise AuthError(f"No account here can sign in with that {name} address. Sign in with your password or "
                        "an emailed link instead.", 403)
    return user
