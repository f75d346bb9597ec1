"""The outbox: mail that matters is never lost and never sent twice.

`queue_email` renders the message and writes it, encrypted, as an OutboxMessage row in
the caller's transaction: a change rolled back sends nothing, a change committed always
sends. Right after the commit the message is tried once (people expect the sign-in link
or the receipt at once); whatever is left, the scheduler's `deliver_outbox` job sends
every 10 seconds (`deliver_due`), retrying with exponential back-off (30 s, 1 min,
2 min… at most an hour apart) for 3 days, then gives up and leaves it on /admin/jobs.
A 5xx answer (no such mailbox) is final at once. Mail whose link expires (a sign-in
link) is not sent after it expired.

Exactly once: a sender first claims the row (one conditional UPDATE, so of two
schedulers, or a request and the job, one wins), sends, then marks it sent. A claim
lapses after CLAIM_FOR, so a sender that died holding it (killed between the mail
server's "250 OK" and the mark) leaves the row to be sent again. The row keeps the
message's bytes, Message-ID included, from the moment it is written: such a repeat,
the only one possible, carries the same Message-ID, which mail servers and clients
recognise as the same message.

The message is deleted once sent or given up; the row is purged 7 days after it was
sent, 30 days after it was given up. What a message reports may act on its outcome
(`follow_up`): a restriction is lifted only once its notice was delivered, a decision
whose email failed notes it on the request's timeline."""
from __future__ import annotations

import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from flask import current_app, has_app_context

from app.db import database, transaction
from app.models import OutboxMessage, OutboxStatus
from app.models.base import utcnow
from app.models.outbox import UNDELIVERED
from app.models.user import normalise_email
from app.services.platform.errors import MailError
from app.services.platform.mail import build_message, deliver_bytes, error_label, refused_for_good

RETRY_FIRST = timedelta(seconds=30)   # doubled after each failure…
RETRY_MAX = timedelta(hours=1)        # …up to this
GIVE_UP_AFTER = timedelta(days=3)
# A sender that died holding a claim must not hold its mail back for long: jobs resume
# within a minute of a restart, and so does this. A live session slower than this (each
# SMTP step may take MAIL's 10 s timeout) can at worst repeat the same Message-ID.
CLAIM_FOR = timedelta(seconds=40)
SENT_KEPT = timedelta(days=7)
UNDELIVERED_KEPT = timedelta(days=30)
BATCH = 100
S = OutboxStatus

# topic ("decision" in ref "decision:42") -> what to do once its message is sent,
# given up or expired; runs in the transaction that records the outcome.
FOLLOW_UPS: dict[str, Callable[[OutboxMessage], None]] = {}


def follow_up(topic: str):
    """Register what happens when a message about `topic` reaches its final status."""
    def register(fn):
        FOLLOW_UPS[topic] = fn
        return fn
    return register


def ref_id(message: OutboxMessage) -> int:
    """The id in the message's ref ("decision:42" -> 42)."""
    return int(message.ref.split(":")[1])


# --- writing ---------------------------------------------------------------------------

def queue_email(to: str, subject: str, template: str, attachments=(), expires_at: datetime | None = None,
                ref: str | None = None, **context) -> OutboxMessage:
    """Write the message to the outbox in the caller's transaction (or its own); it is
    tried as soon as that commits. `expires_at`: not delivered after this."""
    msg = build_message(to, subject, template, attachments, **context)
    data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))  # as SMTP carries it
    now = utcnow()
    with transaction():
        message = OutboxMessage.create(kind=template, recipient=normalise_email(to), message_id=msg["Message-ID"],
                                       body=data, ref=ref, created_at=now, next_attempt_at=now, expires_at=expires_at)
        database.after_commit(lambda: _deliver_after_commit(message.id))
    return message


def _deliver_after_commit(message_id: int) -> None:
    """Run by peewee right after COMMIT, still inside the transaction's exit: it must
    not raise (peewee would try to roll back what is committed). What fails here, the
    job retries; without an app context (a bare script) the job alone sends it."""
    if not has_app_context():
        return
    try:
        deliver(message_id)
    except Exception:
        current_app.logger.exception("Outbox message %s: the first attempt failed; the job retries it", message_id)


def status_of(message: OutboxMessage) -> OutboxStatus | None:
    """Where the message stands now (after the attempt made at commit, for instance);
    None once its row is gone (purged, or erased with its person)."""
    value = OutboxMessage.select(OutboxMessage.status).where(OutboxMessage.id == message.id).scalar()
    return S(value) if value else None


def pending(ref: str) -> bool:
    """Whether a message about `ref` is still on its way."""
    return OutboxMessage.select().where(OutboxMessage.ref == ref,
                                        OutboxMessage.status.in_([S.PENDING.value, S.SENDING.value])).exists()


# --- delivering ------------------------------------------------------------------------

def deliver(message_id: int, now: datetime | None = None) -> OutboxStatus | None:
    """Claim, send and record one message; its new status, or None if it was not ours to send."""
    return _attempt(message_id, now or utcnow())[0]


def deliver_due(now: datetime | None = None) -> int:
    """The job: expire what can no longer go, send what is due, purge what is old.
    Stops at the first sign that the mail server is down: the rest waits its turn."""
    now = now or utcnow()
    _expire(now)
    sent = 0
    due = (OutboxMessage.select(OutboxMessage.id).where(_claimable(now))
           .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(BATCH))
    for (message_id,) in list(due.tuples()):
        status, error = _attempt(message_id, now)
        sent += status is S.SENT
        if error is not None and _server_down(error):
            break
    purge(now)
    return sent


def _claimable(now: datetime):
    m = OutboxMessage
    due = ((m.status == S.PENDING.value) & (m.next_attempt_at <= now)) | \
          ((m.status == S.SENDING.value) & (m.claimed_until < now))  # its sender died
    return due & (m.expires_at.is_null() | (m.expires_at > now))


def _attempt(message_id: int, now: datetime) -> tuple[OutboxStatus | None, MailError | None]:
    token = secrets.token_hex(16)
    with database.atomic():
        claimed = (OutboxMessage.update(status=S.SENDING.value, claim=token, claimed_until=now + CLAIM_FOR,
                                        attempts=OutboxMessage.attempts + 1)
                   .where(OutboxMessage.id == message_id, _claimable(now)).execute())
    if not claimed:
        return None, None
    message = OutboxMessage.get_or_none(OutboxMessage.id == message_id)
    if message is None:  # erased with its person meanwhile
        return None, None
    try:
        deliver_bytes(message.body, message.recipient, message.message_id)
    except MailError as e:
        return _failed(message, token, e, now), e
    return _finish(message, token, S.SENT, now), None


def _failed(message: OutboxMessage, token: str, error: MailError, now: datetime) -> OutboxStatus:
    label = error_label(error)[:120]
    give_up_at = message.created_at + GIVE_UP_AFTER
    if refused_for_good(error) or now >= give_up_at:
        return _finish(message, token, S.FAILED, now, label)
    next_at = min(now + backoff(message.attempts), give_up_at)  # the last try falls on the deadline
    (OutboxMessage.update(status=S.PENDING.value, next_attempt_at=next_at, claim=None, claimed_until=None,
                          last_error=label)
     .where(OutboxMessage.id == message.id, OutboxMessage.claim == token).execute())
    return S.PENDING


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min… at most an hour."""
    return min(RETRY_FIRST * 2 ** min(attempts - 1, 20), RETRY_MAX)


def _finish(message: OutboxMessage, token: str | None, status: OutboxStatus, now: datetime,
            error: str = "") -> OutboxStatus:
    """The final status, with the body gone, and the follow-up, in one transaction."""
    claim = OutboxMessage.claim.is_null() if token is None else (OutboxMessage.claim == token)
    with database.atomic():
        done = (OutboxMessage.update(status=status.value, body=None, claim=None, claimed_until=None,
                                     finished_at=now, last_error=error or message.last_error)
                .where(OutboxMessage.id == message.id, claim,
                       OutboxMessage.status.in_([S.PENDING.value, S.SENDING.value])).execute())
        if not done:
            # Our claim lapsed and another sender took the message: it sends the same bytes.
            current_app.logger.warning("Outbox message %s was claimed again meanwhile", message.id)
            return status
        message.status, message.last_error = status.value, error or message.last_error
        _run_follow_up(message)
    return status


def _run_follow_up(message: OutboxMessage) -> None:
    fn = FOLLOW_UPS.get((message.ref or "").partition(":")[0])
    if fn is None:
        return
    try:
        with database.atomic():  # a savepoint: a failing follow-up never unmarks a sent message
            fn(message)
    except Exception:
        current_app.logger.exception("Outbox message %s: its follow-up failed", message.id)


def _server_down(error: MailError) -> bool:
    return isinstance(error.__cause__, (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError))


def _expire(now: datetime) -> None:
    m = OutboxMessage
    lapsed = (m.status == S.PENDING.value) | ((m.status == S.SENDING.value) & (m.claimed_until < now))
    for message in m.select().where(lapsed, m.expires_at <= now):
        _finish(message, message.claim, S.EXPIRED, now, "expired before delivery")


def purge(now: datetime | None = None) -> int:
    """Delete rows past their retention (the registry's): 7 days after sending, 30 after giving up."""
    now = now or utcnow()
    m = OutboxMessage
    return m.delete().where(((m.status == S.SENT.value) & (m.finished_at < now - SENT_KEPT))
                            | (m.status.in_([S.FAILED.value, S.EXPIRED.value])
                               & (m.finished_at < now - UNDELIVERED_KEPT))).execute()


# --- what staff see --------------------------------------------------------------------

@dataclass(frozen=True)
class Undelivered:
    kind: str
    to: str            # masked
    created_at: datetime
    attempts: int
    last_error: str
    status: str
    next_attempt_at: datetime | None


def undelivered(limit: int = 100) -> tuple[int, list[Undelivered]]:
    """Mail not delivered (waiting, given up or expired), newest first, and how many in
    all: never the message, and the address masked."""
    m = OutboxMessage
    query = m.select().where(m.status.in_([s.value for s in UNDELIVERED]))
    rows = [Undelivered(r.kind, mask_address(r.recipient), r.created_at, r.attempts, r.last_error, r.status,
                        r.next_attempt_at if r.status == S.PENDING.value else None)
            for r in query.order_by(m.created_at.desc(), m.id.desc()).limit(limit)]
    return query.count(), rows


def mask_address(address: str) -> str:
    """jane.doe@example.com -> j…@e….com: enough to tell two apart, not to read one."""
    if not address:
        return "(address forgotten)"
    local, _, domain = address.partition("@")
    name, dot, tld = domain.rpartition(".")
    return f"{local[:1]}…@{name[:1]}…{dot}{tld}" if name else f"{local[:1]}…@{domain[:1]}…"
