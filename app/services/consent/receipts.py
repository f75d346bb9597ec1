"""Consent receipts: a person's choices and their proof as JSON. Field names follow
ISO/IEC TS 27560 (consent record information structure) and the Kantara Consent
Receipt 1.1 where a field fits; the schema is named in the document."""
from __future__ import annotations

from collections import defaultdict

from flask import current_app

from app.models import User
from app.models.base import utcnow
from app.models.consent import ConsentEvent, PurposeNotice
from app.services.consent.ledger import choices_for, history

SCHEMA = "ISO/IEC TS 27560:2023 consent record (subset; Kantara Consent Receipt 1.1 names where they fit)"


def _state_label(choice) -> str:
    if choice.locked:
        return "required"
    if choice.needs_reconfirmation:
        return "pending_reconfirmation"
    if choice.state is None:
        return "default_on" if choice.granted else "not_given"
    return "given" if choice.granted else "withdrawn"


def consent_receipt(user: User, preferences_url: str) -> dict:
    notices = {(n.purpose_id, n.version): n.text for n in PurposeNotice.select()}
    events = defaultdict(list)
    for e in history(user).order_by(ConsentEvent.id):
        events[e.purpose.key].append({
            "eventId": e.id, "eventTime": e.occurred_at.isoformat() + "Z",
            "eventType": "given" if e.granted else "withdrawn", "eventState": "granted" if e.granted else "withdrawn",
            "noticeVersion": e.notice_version, "noticeText": notices.get((e.purpose_id, e.notice_version)),
            "collectionMethod": e.source,
            "actor": e.actor_label, "ipAddress": e.ip, "userAgent": e.user_agent})
    config = current_app.config
    return {
        "schema": SCHEMA,
        "recordId": f"pcc-{user.id}-{utcnow():%Y%m%dT%H%M%S}",
        "recordCreatedAt": utcnow().isoformat() + "Z",
        "piiPrincipalId": user.email,
        "language": "en",
        "jurisdiction": "EU (GDPR), UK (UK GDPR), US-CA (CCPA)",
        "piiControllers": [{"piiController": config["CONTROLLER_NAME"], "contact": config["CONTROLLER_CONTACT"]}],
        "withdrawalMethod": f"Switch the purpose off at {preferences_url}, or use the unsubscribe link in any email.",
        "purposes": [{
            "purposeId": c.purpose.key, "purpose": c.purpose.name, "purposeCategory": c.purpose.kind,
            "lawfulBasis": c.purpose.legal_basis, "notice": {"text": c.purpose.description,
                                                              "version": c.purpose.notice_version},
            "state": _state_label(c), "granted": c.granted, "events": events.get(c.purpose.key, []),
        } for c in choices_for(user)],
    }
