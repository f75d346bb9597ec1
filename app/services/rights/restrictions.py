"""Restriction of processing (GDPR Art. 18): the data is stored but not otherwise used.

A restriction starts in one of three ways:
- the person asked for one and the DPO approved it (it then lasts until the DPO lifts it);
- a correction was filed: the accuracy is contested, so the data is restricted while it
  is checked (Art. 18(1)(a));
- an objection that the DPO must weigh was filed (Art. 18(1)(d)). An objection to
  direct marketing is absolute and takes effect at once, so nothing is pending.

What "not used" means here, each kept by its own check on `Restriction`:
newsletters are not sent to the person, their integrations are not synced, email
opens and clicks are not recorded, the consent API answers every purpose but the
essential ones as refused with `restricted: true` (so partners, trackers and analytics
that ask before acting skip the person), and the retention sweep leaves their rows
as they are: neither anonymised nor deleted at the end of the period, since a
restriction asks us to keep the data unchanged (Art. 18(1)(b)-(c): the person may need
it for a legal claim, or opposed its erasure). The sweep catches up once it is lifted.

Before a restriction is lifted the person is told (Art. 18(3)). The notice is an
email, sent through the outbox, and the restriction ends only once the mail server
accepted it: while the server is down the person stays restricted, and a notice that
is never delivered leaves them restricted. A pending correction or objection is
lifted by its decision, whose email carries the notice (app.services.rights.dpo);
when the person cancels their own request, they know, and it ends at once."""
from __future__ import annotations

from app.db import database
from app.models import OutboxMessage, OutboxStatus, PrivacyRequest, RequestEvent, RequestKind, User
from app.models.base import utcnow
from app.models.restrictions import Restriction, RestrictionReason
from app.services.platform import audit
from app.services.platform import outbox
from app.services.platform.errors import ServiceError
from app.services.platform.outbox import queue_email

R = RestrictionReason
PENDING_REASONS = {RequestKind.RECTIFICATION.value: R.RECTIFICATION_PENDING,
                   RequestKind.OBJECTION.value: R.OBJECTION_PENDING}
WHILE_PENDING = ("While we review it, your data is restricted: we store it but do not use it "
                 "(GDPR Art. 18(1)).")
ENDS_WITH_DECISION = "The restriction of your data that applied while we reviewed it ends now."
LIFT_NOTICE = "restriction_lift"  # the outbox ref of a lift's notice: "restriction_lift:<id>"


def is_restricted(user: User) -> bool:
    return Restriction.applies_to(user.id)


def restrictions_of(user: User) -> list[Restriction]:
    return list(Restriction.active().where(Restriction.user == user.id).order_by(Restriction.id))


def active() -> list[Restriction]:
    """For the DPO: who is restricted, why and since when, oldest first."""
    return list(Restriction.active().join(User, on=(Restriction.user == User.id))
                .select(Restriction, User).order_by(Restriction.started_at, Restriction.id))


def get_active(restriction_id: int) -> Restriction:
    restriction = Restriction.active().where(Restriction.id == restriction_id).first()
    if restriction is None:
        raise ServiceError("There is no such restriction in force (it may have been lifted already).", 404)
    return restriction


def pending_on(request: PrivacyRequest) -> list[Restriction]:
    return list(Restriction.active().where(Restriction.request == request.id,
                                           Restriction.reason.in_([r.value for r in PENDING_REASONS.values()])))


def _start(request: PrivacyRequest, reason: RestrictionReason, note: str, actor: User | None,
           actor_label: str) -> Restriction:
    """One restriction per request and reason: a repeated call finds the one in force."""
    with database.atomic():
        existing = Restriction.active().where(Restriction.request == request.id, Restriction.reason == reason.value)
        if (found := existing.first()) is not None:
            return found
        restriction = Restriction.create(user=request.user_id, reason=reason.value, request=request.id)
        RequestEvent.create(request=request, status=request.status, note=note, actor_label=actor_label)
        audit.record(audit.Event("restriction.started", actor=actor, subject=User.get_by_id(request.user_id),
                                 details={"restriction_id": restriction.id, "request_id": request.id,
                                          "reason": reason.value}))
    return restriction


def start_while_pending(request: PrivacyRequest) -> Restriction | None:
    """A correction or an objection for the DPO to weigh was filed: restrict at once."""
    reason = PENDING_REASONS.get(request.kind)
    if reason is None:
        return None
    return _start(request, reason, WHILE_PENDING, None, "system")


def start_approved(request: PrivacyRequest, actor: User | None) -> Restriction:
    return _start(request, R.REQUEST_APPROVED,
                  "Restriction in force: your data is stored but not used. We will tell you before we lift it.",
                  actor, actor.email if actor else "the privacy team")


def _lift(restriction: Restriction, note: str, actor: User | None, actor_label: str, reason: str,
          notice_sent: bool) -> bool:
    """Guarded: of two lifts racing, one wins. Timeline of its request, and audit."""
    now = utcnow()
    with database.atomic():
        lifted = (Restriction.update(lifted_at=now, lift_notice_sent_at=now if notice_sent else None,
                                     lifted_by=actor_label, lift_reason=reason[:2000])
                  .where(Restriction.id == restriction.id, Restriction.lifted_at.is_null()).execute())
        if not lifted:
            return False
        request = PrivacyRequest.get_or_none(PrivacyRequest.id == restriction.request_id)
        if request is not None:
            RequestEvent.create(request=request, status=request.status, note=note, actor_label=actor_label)
        audit.record(audit.Event("restriction.lifted", actor=actor, subject=User.get_by_id(restriction.user_id),
                                 details={"restriction_id": restriction.id, "reason": restriction.reason,
                                          "notice_sent": notice_sent}))
    return True


def lift(restriction_id: int, reason: str, actor: User) -> Restriction:
    """The DPO lifts a restriction: the person is emailed first (Art. 18(3)), and the
    restriction ends only once the mail server accepted that notice. The notice goes
    through the outbox: when the server is down it waits there, and the restriction
    is lifted when it is delivered (`_lift_notice_outcome`). The restriction returned
    carries `notice`, how the notice stands after its first attempt."""
    restriction = get_active(restriction_id)
    reason = reason.strip()
    if len(reason) < 10:
        raise ServiceError("Say why the restriction is lifted: the person will read it.")
    person = User.get_by_id(restriction.user_id)
    ref = f"{LIFT_NOTICE}:{restriction.id}"
    with database.atomic():
        if outbox.pending(ref):
            raise ServiceError("The notice to the person is already on its way: the restriction is lifted as soon "
                               "as it is delivered.", 409)
        # Who lifts it and why, kept until the notice is delivered; lifted_at stays empty till then.
        Restriction.update(lifted_by=actor.email, lift_reason=reason[:2000]).where(
            Restriction.id == restriction.id, Restriction.lifted_at.is_null()).execute()
        notice = queue_email(person.email, "We are lifting the restriction on your data", "restriction_lifted",
                             ref=ref, restriction=restriction, reason=reason)
    restriction = Restriction.get_by_id(restriction.id)
    restriction.notice = outbox.status_of(notice)
    if restriction.notice in (OutboxStatus.FAILED, OutboxStatus.EXPIRED):
        raise ServiceError("The person's mail server refused the notice, so the restriction stays in force: the "
                           "law says they must be told first. Check the address, or tell them another way.", 409)
    return restriction


@outbox.follow_up(LIFT_NOTICE)
def _lift_notice_outcome(message: OutboxMessage) -> None:
    """The notice was delivered: lift. It never will be: the restriction stays, and says so."""
    restriction = Restriction.get_or_none(Restriction.id == outbox.ref_id(message))
    if restriction is None or restriction.lifted_at is not None:
        return
    if message.status == OutboxStatus.SENT.value:
        _lift(restriction, "Restriction lifted after the person was emailed that it ends (GDPR Art. 18(3)): "
                           f"{restriction.lift_reason}", User.by_email(restriction.lifted_by), restriction.lifted_by,
              restriction.lift_reason, notice_sent=True)
        return
    Restriction.update(lifted_by="", lift_reason="").where(Restriction.id == restriction.id).execute()
    request = PrivacyRequest.get_or_none(PrivacyRequest.id == restriction.request_id)
    if request is not None:
        RequestEvent.create(request=request, status=request.status, actor_label="system",
                            note=f"The notice that the restriction ends could not be delivered "
                                 f"({message.last_error or message.status}), so the restriction stays in force.")


def end_with_decision(request: PrivacyRequest, actor: User | None, told: bool) -> int:
    """A pending correction or objection was decided. Its decision email carried the
    notice (ENDS_WITH_DECISION); if that email could not be sent, the restriction stays
    until the DPO lifts it from the restrictions page, which tells the person first."""
    if not told:
        return 0
    return end_pending(request, "The restriction that applied while this was reviewed ended; the decision "
                                "email told the person.", actor, actor.email if actor else "the privacy team",
                       "decided", notice_sent=True)


def end_on_cancel(request: PrivacyRequest, actor_label: str) -> int:
    """The person cancelled their correction or objection: they know, nothing to tell."""
    return end_pending(request, "The restriction that applied while this was pending ended with the cancellation.",
                       None, actor_label, "cancelled by the person", notice_sent=False)


def end_pending(request: PrivacyRequest, note: str, actor: User | None, actor_label: str, reason: str,
                notice_sent: bool) -> int:
    return sum(_lift(r, note, actor, actor_label, reason, notice_sent) for r in pending_on(request))
