"""Change notices for sub-processors (GDPR Art. 28(2), the DPA's sub-processor
clause): when the register gains or changes a sub-processor, every customer admin
with a signed (or countersigned) DPA is emailed what changed and the deadline to
object by; they object from the console, and the DPO sees the objections.

One notice per (version, admin): sending twice for the same version is a no-op. Its
emails go through the outbox, in the notice's transaction; one the mail server
refused, or that is still undelivered after the outbox's 3 days, is recorded on the
notice (`mail_failed`), never raised: the register change has already been
committed, and the notice is still on the customer's console page."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app

from app.db import transaction
from app.models import OutboxStatus, Role, User
from app.models.base import utcnow
from app.models.dpa import SIGNED_STATUSES, DpaDocument, DpaStatus
from app.models.subprocessor_notices import SubprocessorNotice
from app.models.subprocessors import SubprocessorVersion
from app.services.agreements import subprocessors
from app.services.platform import audit
from app.services.platform.errors import ServiceError
from app.services.platform.links import external_url
from app.services.platform import outbox
from app.services.platform.outbox import queue_email

NOTICE_DAYS = 30  # the default objection period
REASON_MAX = 2000


class NoticeError(ServiceError):
    """What is wrong with an objection, per form field."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


def recipients() -> list[User]:
    """Active customer admins with at least one signed or countersigned DPA, once each."""
    signed = (DpaDocument.select(DpaDocument.customer_admin)
              .where(DpaDocument.status.in_(SIGNED_STATUSES)))
    return list(User.select().where(User.id.in_(signed), User.role == Role.CUSTOMER_ADMIN.value,
                                    User.active == True)  # noqa: E712
                .order_by(User.id))


def notify_customers(version: SubprocessorVersion, now: datetime | None = None,
                     days: int = NOTICE_DAYS) -> list[SubprocessorNotice]:
    """Tell every recipient of `version` (an added or changed sub-processor); the new notices."""
    if version.change not in (subprocessors.ADDED, subprocessors.CHANGED):
        return []
    now = now or utcnow()
    deadline = now.date() + timedelta(days=days)
    previous = (SubprocessorVersion.get_or_none((SubprocessorVersion.subprocessor == version.subprocessor_id)
                                                & (SubprocessorVersion.number == version.number - 1))
                if version.number > 1 else None)
    sent: list[SubprocessorNotice] = []
    admins = recipients()
    dpas, mailed = _dpas_in_force({u.id for u in admins}), set()
    for user in admins:
        with transaction():  # the notice and its emails together
            if SubprocessorNotice.select().where((SubprocessorNotice.version == version.id)
                                                 & (SubprocessorNotice.user == user.id)).exists():
                continue
            (SubprocessorNotice.insert(version=version.id, user=user.id, sent_at=now, objection_deadline=deadline,
                                       objection_reason="", mail_failed=False)
             .on_conflict_ignore().execute())
            notice = SubprocessorNotice.get((SubprocessorNotice.version == version.id)
                                            & (SubprocessorNotice.user == user.id))
            if notice.sent_at != now:
                continue  # someone else sent it meanwhile
            # To the DPA's contact (Annex I, Part A, where clause 6.2 promises notices), and to
            # the admin who answers them in the console; each address once per change.
            doc = dpas.get(user.id)
            for address in dict.fromkeys(filter(None, (doc.contact_email if doc else "", user.email))):
                if address.lower() in mailed:
                    continue
                mailed.add(address.lower())
                queue_email(address, _subject(version), "subprocessor_change", version=version, previous=previous,
                            deadline=deadline, link=external_url("customer.notices"),
                            ref=f"subprocessor_notice:{notice.id}")
        sent.append(SubprocessorNotice.get_by_id(notice.id))  # after the first attempt at its emails
    if sent:
        audit.record(audit.Event("subprocessor_notice.sent", details={
            "version_id": version.id, "notices": len(sent), "mail_failed": sum(n.mail_failed for n in sent)}))
    return sent


def _subject(version: SubprocessorVersion) -> str:
    what = "New sub-processor" if version.change == subprocessors.ADDED else "Sub-processor change"
    return f"{what}: {version.name}"


def notices_of(user: User) -> list[SubprocessorNotice]:
    """A customer admin's notices, newest first."""
    return list(SubprocessorNotice.select(SubprocessorNotice, SubprocessorVersion)
                .join(SubprocessorVersion).where(SubprocessorNotice.user == user.id)
                .order_by(SubprocessorNotice.sent_at.desc(), SubprocessorNotice.id.desc()))


def object_to(user: User, notice_id: int, reason: str, ip: str | None = None,
              now: datetime | None = None) -> SubprocessorNotice:
    """Record the recipient's objection, before the deadline only. Anyone else's
    notice is "not found", exactly like one that does not exist."""
    now = now or utcnow()
    with transaction():
        notice = SubprocessorNotice.get_or_none((SubprocessorNotice.id == notice_id)
                                                & (SubprocessorNotice.user == user.id))
        if notice is None:
            raise ServiceError("There is no such notice.", 404)
        if notice.objected_at is not None:
            raise ServiceError("You have already objected to this change.", 409)
        if now.date() > notice.objection_deadline:
            raise ServiceError(f"The deadline to object passed on {_day(notice.objection_deadline)}.", 409)
        reason = (reason or "").strip()
        if not reason:
            raise NoticeError({"reason": "Say why your company objects to this change."})
        if len(reason) > REASON_MAX:
            raise NoticeError({"reason": f"Keep it to {REASON_MAX:,} characters."})
        notice.objected_at, notice.objection_reason = now, reason
        notice.save()
        # Ids only: the reason is free text and stays on the notice.
        audit.record(audit.Event("subprocessor_notice.objected", actor=user, ip=ip, details={
            "notice_id": notice.id, "version_id": notice.version_id}))
    return notice


def objections_for_dpo() -> list[SubprocessorNotice]:
    """Every objection, newest first, with the version, the customer admin and
    `company`: the legal name on their newest signed DPA (the company that objects)."""
    objections = list(SubprocessorNotice.select(SubprocessorNotice, SubprocessorVersion, User)
                      .join(SubprocessorVersion).switch(SubprocessorNotice).join(User)
                      .where(SubprocessorNotice.objected_at.is_null(False))
                      .order_by(SubprocessorNotice.objected_at.desc(), SubprocessorNotice.id.desc()))
    dpas = _dpas_in_force({n.user_id for n in objections})
    for notice in objections:
        notice.company = dpas[notice.user_id].legal_name if notice.user_id in dpas else ""
    return objections


def _dpas_in_force(user_ids: set[int]) -> dict[int, DpaDocument]:
    """Each admin's DPA in force: the countersigned one, else their newest signed one
    (awaiting our countersignature). Its company and contact are the ones to use."""
    chosen: dict[int, DpaDocument] = {}
    for doc in (DpaDocument.select().where(DpaDocument.customer_admin.in_(list(user_ids)),
                                           DpaDocument.status.in_(SIGNED_STATUSES))
                .order_by(DpaDocument.id)):
        current = chosen.get(doc.customer_admin_id)
        if current is None or current.status != DpaStatus.COUNTERSIGNED.value or \
                doc.status == DpaStatus.COUNTERSIGNED.value:
            chosen[doc.customer_admin_id] = doc  # newer wins, unless it would replace a countersigned one
    return chosen


def _day(day: date) -> str:
    return day.strftime("%d %B %Y")


def _notify(version: SubprocessorVersion) -> None:
    try:
        notify_customers(version)
    except Exception:  # the register change stands; a failed notice run is logged, not raised
        current_app.logger.exception("Sub-processor change notices for version %s failed", version.id)


@outbox.follow_up("subprocessor_notice")
def _mail_outcome(message) -> None:
    if message.status != OutboxStatus.SENT.value:
        SubprocessorNotice.update(mail_failed=True).where(SubprocessorNotice.id == outbox.ref_id(message)).execute()


if _notify not in subprocessors.AFTER_CHANGE:
    subprocessors.AFTER_CHANGE.append(_notify)


object = object_to  # noqa: A001  (the service's name for it: `subprocessor_notices.object(...)`)
