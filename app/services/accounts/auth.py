"""Signing in: passwords, one-time email links, and TOTP second factors."""
from __future__ import annotations

import base64
import secrets
import time
from datetime import timedelta
from typing import Callable

import pyotp
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.db import database
from app.models import Role, SignInLink, User
from app.models.base import utcnow
from app.models.user import normalise_email
from app.prepared import Prepared
from app.services.accounts.passwords import check_password, hash_password, needs_rehash
from app.services.consent.suppression import is_erased
from app.services.platform import audit
from app.services.platform.errors import AuthError
from app.services.platform.outbox import queue_email

SIGN_IN_LINK_LIFETIME = timedelta(minutes=15)
TOTP_ISSUER = "Privacy Control Centre"


_USER_BY_ID = Prepared(lambda slot: User.select().where(User.id == slot("id")).limit(1))  # every request


def signed_in_user(user_id: str) -> User | None:
    """The user a session names, if the account still exists and is open."""
    user = _USER_BY_ID.first(id=int(user_id)) if user_id.isdigit() else None
    return user if user and user.active else None


def authenticate(email: str, password: str, ip: str | None = None) -> User:
    user = User.by_email(email)
    if not check_password(user.password_hash if user else None, password):
        if user:
            audit.record(audit.Event("login.failed", actor=user, subject=user, ip=ip))
        raise AuthError("That email address and password do not match an account. "
                        "Check both, or sign in with an email link instead.")
    _ensure_active(user)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        user.save()
    return user


def _ensure_active(user: User) -> None:
    if not user.active:
        raise AuthError("This account is disabled. Contact the privacy team if you think this is a mistake.", 403)


def complete_sign_in(user: User, method: str, ip: str | None = None) -> None:
    """Every factor passed: stamp the login and write the audit record."""
    User.update(last_login_at=utcnow()).where(User.id == user.id).execute()
    audit.record(audit.Event("login.succeeded", actor=user, subject=user, ip=ip,
                             details={"method": method, "role": user.role}))


# --- one-time email links -------------------------------------------------------

def _link_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="sign-in-link")


def send_sign_in_link(email: str, link_for: Callable[[str], str]) -> None:
    """Email a single-use sign-in link. Anyone may ask: an address without an account
    gets an end-user account when the link is used, so the answer is the same for
    every address and nobody learns who has an account. An erased address is sent
    nothing (its certificate promises so), with the same answer, so the page tells
    nobody that it was erased. Nor does a mail server that is down change the answer:
    the link waits in the outbox, and is dropped if it expires there."""
    email = normalise_email(email)
    if is_erased(email):
        return
    nonce = secrets.token_urlsafe(24)
    now = utcnow()
    token = _link_serializer().dumps({"n": nonce})
    with database.atomic():  # the link and its email: a mail server down only delays it, within its 15 minutes
        link = SignInLink.create(nonce=nonce, email=email, created_at=now, expires_at=now + SIGN_IN_LINK_LIFETIME)
        queue_email(email, "Your sign-in link", "sign_in_link", expires_at=link.expires_at, link=link_for(token),
                    minutes=int(SIGN_IN_LINK_LIFETIME.total_seconds() // 60))


def redeem_sign_in_link(token: str) -> User:
    """Use a link once; return its person (created as an end user if new)."""
    max_age = int(SIGN_IN_LINK_LIFETIME.total_seconds())
    try:
        nonce = _link_serializer().loads(token, max_age=max_age)["n"]
    except SignatureExpired:
        raise AuthError("This sign-in link has expired: links work for 15 minutes. Ask for a new one below.", 410)
    except (BadSignature, KeyError, TypeError):
        raise AuthError("This sign-in link is not valid. Copy the whole link from the email, or ask for a new one.", 400)
    with database.atomic():
        link = SignInLink.get_or_none(SignInLink.nonce == nonce)
        now = utcnow()
        if link is None:
            raise AuthError("This sign-in link is not valid. Ask for a new one below.", 400)
        if link.expires_at < now:
            raise AuthError("This sign-in link has expired: links work for 15 minutes. Ask for a new one below.", 410)
        # Conditional update: of two clicks racing, exactly one marks the link used.
        claimed = (SignInLink.update(used_at=now)
                   .where(SignInLink.id == link.id, SignInLink.used_at.is_null()).execute())
        if not claimed:
            raise AuthError("This sign-in link has already been used. Each link works once; ask for a new one below.", 410)
        user = User.by_email(link.email)
        if user is None:
            user = User.create(email=link.email, role=Role.SUBJECT.value)
            audit.record(audit.Event("account.created", actor=user, subject=user, details={"via": "sign-in link"}))
    _ensure_active(user)
    return user


def purge_sign_in_links(older_than: timedelta = timedelta(days=1)) -> int:
    """Delete links that expired more than `older_than` ago (their retention)."""
    return SignInLink.delete().where(SignInLink.expires_at < utcnow() - older_than).execute()


# --- TOTP second factor ----------------------------------------------------------

class _Totp(pyotp.TOTP):
    """pyotp refuses keys under 112 bits (NIST SP 800-63B). Every secret we generate
    has 160, but the documented demo secret (JBSWY3DPEHPK3PXP) has 80, so existing
    secrets are decoded without that floor. Enrolment never creates a short one."""

    def byte_secret(self) -> bytes:
        padded = self.secret + "=" * (-len(self.secret) % 8)
        return base64.b32decode(padded, casefold=True)


def totp_for(secret: str) -> pyotp.TOTP:
    return _Totp(secret)


def new_totp_secret() -> str:
    return pyotp.random_base32(length=32)  # 160 bits, as RFC 4226 recommends


def totp_uri(user: User, secret: str) -> str:
    return totp_for(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str) -> int | None:
    """The 30-second time step a code belongs to, allowing one step of clock drift."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = totp_for(secret)
    now = int(time.time())
    for drift in (0, -1, 1):
        at = now + totp.interval * drift
        if secrets.compare_digest(totp.at(at), code):
            return at // totp.interval
    return None


def unused_code(user: User) -> str:
    """The code to type now: the current one, or the next (accepted as clock drift)
    when the current one was just used."""
    totp = totp_for(user.totp_secret)
    now = int(time.time())
    if user.totp_last_step is not None and now // totp.interval <= user.totp_last_step:
        return totp.at(now + totp.interval)
    return totp.at(now)


def enrol_totp(user: User, secret: str, code: str) -> None:
    step = _matching_step(secret, code)
    if step is None:
        raise AuthError("That code does not match. Check the time on your phone and enter the current 6-digit code.")
    User.update(totp_secret=secret, totp_last_step=step).where(User.id == user.id).execute()
    audit.record(audit.Event("totp.enrolled", actor=user, subject=user))


def verify_totp(user: User, code: str) -> None:
    step = _matching_step(user.totp_secret or "", code) if user.totp_secret else None
    if step is None:
        raise AuthError("That code is not right. Enter the 6-digit code your authenticator app shows now.")
    # A code may be used once: the step must be later than the last one accepted.
    accepted = (User.update(totp_last_step=step)
                .where(User.id == user.id,
                       (User.totp_last_step.is_null()) | (User.totp_last_step < step)).execute())
    if not accepted:
        raise AuthError("That code was already used. Wait for the next code and enter it.")
