"""What sales ops see on /sales: unsubscribes per week, by newsletter and by reason
(from the anonymous Unsubscribe rows), and how many double opt-in sign-ups get
confirmed, and the permanent bounces of newsletter issues (app.services.newsletters.inbound_mail)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.models import AuditEvent, ConsentEvent, EmailEngagement, Newsletter, Purpose, Unsubscribe
from app.models.base import utcnow
from app.models.consent import ConsentSource
from app.services.newsletters.unsubscribes import REASONS
from app.services.platform.weekly import WEEKS, WeekCount, count_per_week, week_starts

ALL_MARKETING = "All marketing"
NO_REASON = "No reason given"


@dataclass(frozen=True)
class Series:
    label: str
    weeks: list[WeekCount]

    @property
    def total(self) -> int:
        return sum(w.count for w in self.weeks)

    @property
    def trend(self) -> list[int]:
        return [w.count for w in self.weeks]


@dataclass(frozen=True)
class Conversion:
    asked: int
    confirmed: int

    @property
    def percent(self) -> int | None:
        return round(100 * self.confirmed / self.asked) if self.asked else None


def unsubscribes_per_week(now: datetime | None = None) -> list[WeekCount]:
    return count_per_week(Unsubscribe, Unsubscribe.occurred_at, now=now)


def bounces_per_week(now: datetime | None = None) -> list[WeekCount]:
    return count_per_week(EmailEngagement, EmailEngagement.occurred_at, EmailEngagement.kind == "bounced", now=now)


def unsubscribes_by_newsletter(now: datetime | None = None) -> list[Series]:
    named = [Series(n.purpose.name, count_per_week(Unsubscribe, Unsubscribe.occurred_at,
                                                   Unsubscribe.newsletter == n.id, now=now))
             for n in Newsletter.select(Newsletter, Purpose).join(Purpose).order_by(Purpose.name)]
    everything = Series(ALL_MARKETING, count_per_week(Unsubscribe, Unsubscribe.occurred_at,
                                                      Unsubscribe.newsletter.is_null(), now=now))
    return [s for s in [*named, everything] if s.total]


def unsubscribes_by_reason(now: datetime | None = None) -> list[Series]:
    labels = {**REASONS, "": NO_REASON}
    series = [Series(label, count_per_week(Unsubscribe, Unsubscribe.occurred_at, Unsubscribe.reason == code, now=now))
              for code, label in labels.items()]
    return sorted([s for s in series if s.total], key=lambda s: -s.total)


def opt_in_conversion(now: datetime | None = None) -> Conversion:
    """Of the double opt-in sign-ups asked for in the last WEEKS weeks, how many the
    person confirmed from the email."""
    since = datetime.combine(week_starts(now or utcnow(), WEEKS)[0], datetime.min.time())
    asked = AuditEvent.select().where(AuditEvent.action == "newsletter.sign_up_requested",
                                      AuditEvent.occurred_at >= since).count()
    newsletter_purposes = Newsletter.select(Newsletter.purpose)
    confirmed = ConsentEvent.select().where(ConsentEvent.purpose.in_(newsletter_purposes), ConsentEvent.granted,
                                            ConsentEvent.source == ConsentSource.EMAIL_LINK.value,
                                            ConsentEvent.occurred_at >= since).count()
    return Conversion(asked, min(confirmed, asked))
