"""Mail that comes back: unsubscribes sent to the `mailto:` of List-Unsubscribe
(RFC 2369) and bounces of newsletter issues, which come to a per-message return path
(VERP: `bounces+TOKEN@…`) so each names its person and issue without reading the
bounce's free text.

Only these two kinds of address exist here; the server refuses every other recipient.
A bounce counts when its delivery status notification (RFC 3464) gives a permanent
failure (status 5.x.x): the address is then suppressed, so no later issue goes to a
mailbox that does not exist. Temporary failures (4.x.x) change nothing."""
from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.db import database
from app.models import EmailEngagement, NewsletterIssue, User
from app.services.consent.suppression import BOUNCED, suppress
from app.services.newsletters import unsubscribes
from app.services.newsletters.catalogue import campaign_of
from app.services.platform import audit
from app.services.platform.errors import ServiceError

UNSUBSCRIBE_MAILBOX = "unsubscribe"
BOUNCE_PREFIX = "bounces+"
_TOKEN_IN_SUBJECT = re.compile(r"unsubscribe-([A-Za-z0-9_\-.]+)")
_STATUS = re.compile(r"^\s*Status:\s*([245])\.\d{1,3}\.\d{1,3}", re.IGNORECASE | re.MULTILINE)


def our_domain() -> str:
    return parseaddr(current_app.config["MAIL_FROM"])[1].rpartition("@")[2].lower() or "localhost"


def unsubscribe_mailto(token: str) -> str:
    return f"mailto:{UNSUBSCRIBE_MAILBOX}@{our_domain()}?subject=unsubscribe-{token}"


def _bounce_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="newsletter-bounce")


def bounce_address(person: User, issue: NewsletterIssue) -> str:
    # A list, not a dict: RFC 5321 allows 64 characters before the @, and this keeps
    # the token near 50 even with seven-digit ids.
    return f"{BOUNCE_PREFIX}{_bounce_serializer().dumps([person.id, issue.id])}@{our_domain()}"


def accepts(address: str) -> bool:
    """Whether `address` is one this server reads (checked at RCPT time)."""
    local, _, domain = address.rpartition("@")
    if domain.lower() != our_domain():
        return False
    return local.lower() == UNSUBSCRIBE_MAILBOX or local.lower().startswith(BOUNCE_PREFIX)


def receive(recipients: list[str], content: bytes) -> list[str]:
    """Act on one received message; returns what was done per recipient (for the log,
    never shown to the sender: a forged token learns nothing)."""
    msg = message_from_bytes(content, policy=policy.default)
    outcomes = []
    for address in recipients:
        local = address.rpartition("@")[0]
        if local.lower() == UNSUBSCRIBE_MAILBOX:
            outcomes.append(_unsubscribe(msg))
        elif local.lower().startswith(BOUNCE_PREFIX):
            outcomes.append(_bounce(local[len(BOUNCE_PREFIX):], msg))
    return outcomes


def _unsubscribe(msg: EmailMessage) -> str:
    found = _TOKEN_IN_SUBJECT.search(str(msg.get("Subject", "")))
    if not found:
        return "unsubscribe: no token in the subject"
    try:
        changed = unsubscribes.by_mail(found.group(1))
    except ServiceError:
        return "unsubscribe: token refused"
    return "unsubscribed" if changed else "unsubscribe: already off"


def _bounce(token: str, msg: EmailMessage) -> str:
    try:
        person_id, issue_id = _bounce_serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return "bounce: token refused"
    if not is_permanent_failure(msg):
        return "bounce: not permanent"
    person = User.get_or_none(User.id == person_id)
    issue = NewsletterIssue.get_or_none(NewsletterIssue.id == issue_id)
    if person is None or issue is None:
        return "bounce: person or issue gone"
    with database.atomic():
        EmailEngagement.create(user=person.id, kind="bounced", campaign=campaign_of(issue))
        suppress(person.email, BOUNCED)
        audit.record(audit.Event("newsletter.bounced", subject=person, details={"issue_id": issue.id}))
    return "bounced"


def is_permanent_failure(msg: EmailMessage) -> bool:
    """True when a delivery status notification reports a permanent failure for any
    recipient. A bounce without one (free text only) is not trusted to be permanent."""
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            return any(status == "5" for status in _STATUS.findall(_delivery_status_text(part)))
    return False


def _delivery_status_text(part) -> str:
    # The email package parses message/delivery-status into a list of header blocks
    # (one per recipient); their text is what the Status: fields are read from.
    payload = part.get_payload()
    if isinstance(payload, list):
        return "\n".join(block.as_string() for block in payload)
    return str(payload)
