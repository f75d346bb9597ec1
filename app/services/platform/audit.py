"""Writing and verifying the hash-chained audit log.

Services describe what happened as typed events; `record` appends them. Each
record's hash covers its content and the previous hash, so editing or deleting a
past record breaks every hash after it, and `verify_chain` finds where.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass, field

from app.db import database, is_postgres, transaction
from app.models import AuditEvent, User
from app.models.base import utcnow
from app.prepared import Prepared

GENESIS = "0" * 64
_CHAIN_LOCK_ID = 0x41554449  # 'AUDI': serialises appends across PostgreSQL sessions


@dataclass(frozen=True)
class Event:
    action: str
    actor: User | None = None
    subject: User | None = None
    details: dict = field(default_factory=dict)
    ip: str | None = None


def _digest(prev_hash: str, occurred_at, action, actor_ref, subject_ref, details, ip) -> str:
    # Ids, not addresses: erasing a person rewrites the readable labels, never the chain.
    payload = json.dumps(
        [prev_hash, occurred_at.isoformat(), action, actor_ref, subject_ref, details, ip],
        separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def truncate_ip(ip: str | None) -> str | None:
    """Keep the network, drop the host: /24 for IPv4, /48 for IPv6 (IPv4-mapped
    IPv6 addresses count as IPv4). Anything unparseable is not stored at all."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


_LAST_HASH = Prepared(lambda slot: AuditEvent.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
_FIELDS = ("occurred_at", "action", "actor", "actor_ref", "actor_label", "subject", "subject_ref", "details", "ip",
           "prev_hash", "hash")
_INSERT = Prepared(lambda slot: AuditEvent.insert({getattr(AuditEvent, f): slot(f) for f in _FIELDS}))


def record(event: Event) -> AuditEvent:
    """Append one event to the chain (inside the caller's transaction, if any)."""
    with transaction():
        if is_postgres():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_CHAIN_LOCK_ID,))
        last = _LAST_HASH.first()
        prev = last.hash if last else GENESIS
        now = utcnow()
        actor_id = event.actor.id if event.actor else None
        subject_id = event.subject.id if event.subject else None
        details = json.loads(json.dumps(event.details, sort_keys=True, default=str))
        ip = truncate_ip(event.ip)
        row = dict(occurred_at=now, action=event.action, actor=actor_id, actor_ref=actor_id,
                   actor_label=event.actor.email if event.actor else "system", subject=subject_id,
                   subject_ref=subject_id, details=json.dumps(details, sort_keys=True), ip=ip, prev_hash=prev,
                   hash=_digest(prev, now, event.action, actor_id, subject_id, details, ip))
        return AuditEvent(id=_INSERT.insert(**row), **row)


def verify_chain() -> tuple[bool, int, int | None]:
    """Walk the chain in order. Returns (intact, records checked, id of the first bad record)."""
    prev = GENESIS
    count = 0
    for row in AuditEvent.select().order_by(AuditEvent.id).iterator():
        expected = _digest(prev, row.occurred_at, row.action, row.actor_ref, row.subject_ref,
                           json.loads(row.details), row.ip)
        if row.prev_hash != prev or row.hash != expected:
            return False, count, row.id
        prev = row.hash
        count += 1
    return True, count, None


def recent_events(limit: int = 20):
    return AuditEvent.select().order_by(AuditEvent.id.desc()).limit(limit)


def search_events(action: str = "", actor: str = "", subject_id: int | None = None,
                  before: int | None = None, page_size: int = 50) -> tuple[list[AuditEvent], int | None]:
    """The log, newest first, filtered; keyset on id (`before`): every page is one index range."""
    query = AuditEvent.select().order_by(AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if actor:
        query = query.where(AuditEvent.actor_label.contains(actor.strip().lower()))
    if subject_id:
        query = query.where(AuditEvent.subject_ref == subject_id)
    if before:
        query = query.where(AuditEvent.id < before)
    rows = list(query.limit(page_size + 1))
    return rows[:page_size], (rows[page_size - 1].id if len(rows) > page_size else None)


def actions() -> list[str]:
    return [a for (a,) in AuditEvent.select(AuditEvent.action).distinct().order_by(AuditEvent.action).tuples()]


def pseudonymise_person(user_id: int) -> int:
    """Erasure: the log keeps what happened, but no longer says to whom by name.
    The hash covers the ids, so the chain still verifies."""
    return AuditEvent.update(actor_label=f"erased person #{user_id}").where(AuditEvent.actor_ref == user_id).execute()
