"""Sending a newsletter issue: sales compose a draft, then a job mails it to every
active person whose consent to the newsletter is on at the moment their message
goes out, and whose address is not suppressed.

Every message carries the RFC 8058 one-click unsubscribe headers and a footer with
"Unsubscribe" and "Manage preferences". Tracking needs consent (EDPB Guidelines
2/2023): only people who said yes to click tracking get tracked links, and only
people who said yes to open tracking get the pixel; everyone else gets plain links
and no pixel.

Resumable and at most once: before a message is handed to SMTP, an IssueDelivery row
claims the person for the issue (unique on issue and person). A job killed half-way
runs again from the start and skips everyone already claimed. The one person whose
message was in flight at the kill stays claimed without `sent_at`: we cannot know
whether the server took it, and mailing nobody twice is the promise we keep."""
from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Callable

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup, escape
from peewee import IntegrityError

from app.db import database
from app.models import (
    ConsentState,
    EmailEngagement,
    IssueDelivery,
    IssueStatus,
    Job,
    Newsletter,
    NewsletterIssue,
    Purpose,
    User,
)
from app.models.base import utcnow
from app.models.restrictions import Restriction
from app.services.consent import ledger
from app.services.consent.preference_links import make_token as preferences_token
from app.services.consent.suppression import is_suppressed
from app.services.newsletters import inbound_mail, unsubscribes
from app.services.newsletters.catalogue import campaign_of
from app.services.platform import audit, jobs
from app.services.platform.errors import MailError, ServiceError
from app.services.platform.links import external_url
from app.services.platform.mail import build_message, deliver

JOB_KIND = "newsletter_issue"
BATCH = 200
CLICK_TRACKING, OPEN_TRACKING = "click_tracking", "open_tracking"
_LINK = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?)]}"  # punctuation that ends a sentence, not the link


# --- drafts -------------------------------------------------------------------------

def compose(newsletter: Newsletter, subject: str, body: str, actor: User) -> NewsletterIssue:
    subject, body = subject.strip(), body.strip()
    if newsletter.archived_at:
        raise ServiceError("This newsletter is archived: nothing more is sent to it.", 409)
    if not subject or not body:
        raise ServiceError("Give the issue a subject and some text.")
    with database.atomic():
        issue = NewsletterIssue.create(newsletter=newsletter.id, subject=subject[:200], body=body, created_by=actor)
        audit.record(audit.Event("newsletter.issue_composed", actor=actor,
                                 details={"newsletter_id": newsletter.id, "issue_id": issue.id}))
    return issue


def issues_of(newsletter: Newsletter):
    return NewsletterIssue.select().where(NewsletterIssue.newsletter == newsletter.id).order_by(
        NewsletterIssue.id.desc())


def get_issue(issue_id: int) -> NewsletterIssue:
    issue = (NewsletterIssue.select(NewsletterIssue, Newsletter, Purpose).join(Newsletter).join(Purpose)
             .where(NewsletterIssue.id == issue_id).first())
    if issue is None:
        raise ServiceError("There is no such issue.", 404)
    return issue


def job_of(issue: NewsletterIssue) -> Job | None:
    return Job.get_or_none(Job.id == issue.job_id) if issue.job_id else None


def audience_size(newsletter: Newsletter) -> int:
    """Roughly who would receive it now: consenting active people. Suppressed
    addresses and anyone who unsubscribes before their turn are skipped at send time."""
    return _consenting(newsletter).count()


# --- sending ------------------------------------------------------------------------

def send_issue(issue: NewsletterIssue, actor: User) -> NewsletterIssue:
    """Queue the sending job. An issue goes out once: the status moves from draft
    only once, so a double click or a second tab cannot send it twice."""
    with database.atomic():
        if Newsletter.get_by_id(issue.newsletter_id).archived_at:
            raise ServiceError("This newsletter is archived: nothing more is sent to it.", 409)
        job = jobs.enqueue(JOB_KIND)
        moved = (NewsletterIssue.update(status=IssueStatus.SENDING.value, job=job.id)
                 .where(NewsletterIssue.id == issue.id, NewsletterIssue.status == IssueStatus.DRAFT.value).execute())
        if not moved:  # raising rolls the job back with the rest
            raise ServiceError("This issue has already been sent: an issue goes out once. Write a new one.", 409)
        audit.record(audit.Event("newsletter.issue_send_requested", actor=actor,
                                 details={"newsletter_id": issue.newsletter_id, "issue_id": issue.id}))
    return get_issue(issue.id)


@jobs.handler(JOB_KIND)
def send_job(job: Job, progress: jobs.Progress) -> None:
    issue = get_issue(NewsletterIssue.get(NewsletterIssue.job == job.id).id)
    if issue.status == IssueStatus.SENT.value:
        return  # a re-run after it finished: nothing to do
    tracking = _tracking_purposes()
    progress.total(_pending(issue).count())
    after = 0
    while batch := list(_pending(issue).where(User.id > after).order_by(User.id).limit(BATCH)):
        for person in batch:
            _send_to(issue, person, tracking)
            progress.advance()
        after = batch[-1].id
    _finish(issue)


def _consenting(newsletter: Newsletter):
    """Active people whose current consent state is on and whose data is not
    restricted (Art. 18: stored, not used). The notice-version check, the suppression
    list and a restriction started since are checked per person just before sending
    (_may_mail)."""
    return (User.select().join(ConsentState, on=(ConsentState.user == User.id))
            .where(ConsentState.purpose == newsletter.purpose_id, ConsentState.granted, User.active,
                   User.id.not_in(Restriction.restricted_people())))


def _pending(issue: NewsletterIssue):
    claimed = IssueDelivery.select(IssueDelivery.user).where(IssueDelivery.issue == issue.id)
    return _consenting(issue.newsletter).where(User.id.not_in(claimed))


def _may_mail(person: User, purpose: Purpose) -> bool:
    """Read fresh for each person: someone who unsubscribed since the batch was read,
    or since the issue was composed, is not mailed."""
    return (ledger.choice_for(person, purpose).granted and not is_suppressed(person.email)
            and not Restriction.applies_to(person.id))


@dataclass(frozen=True)
class Tracking:
    clicks: Purpose
    opens: Purpose


def _tracking_purposes() -> Tracking:
    return Tracking(ledger.purpose_by_key(CLICK_TRACKING), ledger.purpose_by_key(OPEN_TRACKING))


def _send_to(issue: NewsletterIssue, person: User, tracking: Tracking) -> None:
    if not _may_mail(person, issue.newsletter.purpose) or not _claim(issue, person):
        return
    msg = build_issue_message(issue, person, track_clicks=ledger.choice_for(person, tracking.clicks).granted,
                              track_opens=ledger.choice_for(person, tracking.opens).granted)
    try:
        deliver(msg, sender=inbound_mail.bounce_address(person, issue))
    except MailError as e:
        if isinstance(e.__cause__, smtplib.SMTPRecipientsRefused):
            return  # this mailbox refused it: stays claimed and unsent; the others still get theirs
        _release(issue, person)  # the server is down: not sent, so a retry of the job may send it
        raise
    with database.atomic():
        IssueDelivery.update(sent_at=utcnow()).where(IssueDelivery.issue == issue.id,
                                                     IssueDelivery.user == person.id).execute()
        EmailEngagement.create(user=person.id, kind="sent", campaign=campaign_of(issue))


def _claim(issue: NewsletterIssue, person: User) -> bool:
    try:
        with database.atomic():
            IssueDelivery.create(issue=issue.id, user=person.id)
        return True
    except IntegrityError:  # claimed by an earlier run
        return False


def _release(issue: NewsletterIssue, person: User) -> None:
    IssueDelivery.delete().where(IssueDelivery.issue == issue.id, IssueDelivery.user == person.id,
                                 IssueDelivery.sent_at.is_null()).execute()


def _finish(issue: NewsletterIssue) -> None:
    sent = IssueDelivery.select().where(IssueDelivery.issue == issue.id, IssueDelivery.sent_at.is_null(False)).count()
    with database.atomic():
        NewsletterIssue.update(status=IssueStatus.SENT.value, sent_count=sent, sent_at=utcnow()).where(
            NewsletterIssue.id == issue.id).execute()
        audit.record(audit.Event("newsletter.issue_sent", details={"issue_id": issue.id, "sent": sent}))


# --- the message --------------------------------------------------------------------

def build_issue_message(issue: NewsletterIssue, person: User, track_clicks: bool, track_opens: bool) -> EmailMessage:
    unsubscribe_url = external_url("unsubscribe.page", token=unsubscribes.make_token(person, issue.newsletter))
    link_for = _tracked_link(issue, person) if track_clicks else (lambda index, url: url)
    msg = build_message(
        person.email, issue.subject, "newsletter_issue", newsletter_name=issue.newsletter.purpose.name,
        body_html=render_body(issue.body, link_for), body_text=issue.body, unsubscribe_url=unsubscribe_url,
        preferences_url=external_url("preferences.link_page", token=preferences_token(person)),
        pixel_url=external_url("tracking.opened", token=_tracking_token(issue, person)) if track_opens else None,
        controller=current_app.config["CONTROLLER_NAME"], contact=current_app.config["CONTROLLER_CONTACT"])
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>, <{_mailto(person, issue)}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # The default 78-column policy would turn these long URLs into RFC 2047 encoded
    # words, which no mailbox provider reads as a List-Unsubscribe URL. 998 is the
    # RFC 5322 line limit: the headers go out as written.
    msg.policy = msg.policy.clone(max_line_length=998)
    return msg


def _mailto(person: User, issue: NewsletterIssue) -> str:
    """RFC 2369's mail fallback, read by app.cli.inbound (see app.services.newsletters.inbound_mail)."""
    return inbound_mail.unsubscribe_mailto(unsubscribes.make_token(person, issue.newsletter))


def links_in(body: str) -> list[str]:
    """The issue's links, each once, in order: a tracked link names one by its index,
    so the redirect can only ever lead to a link the issue contains."""
    found = []
    for match in _LINK.finditer(body):
        url = match.group().rstrip(_TRAILING)
        if url not in found:
            found.append(url)
    return found


def preview(issue: NewsletterIssue) -> Markup:
    """The body as sales check it before sending: plain links, no tracking."""
    return render_body(issue.body, lambda index, url: url)


def render_body(body: str, link_for: Callable[[int, str], str]) -> Markup:
    """Plain text as written by sales, escaped, in paragraphs, with its links live."""
    links = links_in(body)
    paragraphs = [p for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
    return Markup("\n").join(Markup("<p>%s</p>") % _linkify(p, links, link_for) for p in paragraphs)


def _linkify(text: str, links: list[str], link_for) -> Markup:
    out, last = [], 0
    for match in _LINK.finditer(text):
        url = match.group().rstrip(_TRAILING)
        out.append(escape(text[last:match.start()]))
        out.append(Markup('<a href="%s">%s</a>') % (link_for(links.index(url), url), url))
        last = match.start() + len(url)
    out.append(escape(text[last:]))
    return Markup("").join(out).replace("\n", Markup("<br>\n"))


# --- tracking -----------------------------------------------------------------------

def _tracking_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="newsletter-tracking")


def _tracking_token(issue: NewsletterIssue, person: User, link: int | None = None) -> str:
    data = {"i": issue.id, "u": person.id}
    return _tracking_serializer().dumps(data if link is None else {**data, "l": link})


def _tracked_link(issue: NewsletterIssue, person: User) -> Callable[[int, str], str]:
    return lambda index, url: external_url("tracking.clicked", token=_tracking_token(issue, person, index))


def _tracked(token: str) -> tuple[NewsletterIssue, User | None, dict]:
    try:
        data = _tracking_serializer().loads(token)
    except BadSignature:
        raise ServiceError("This link is not valid: it may have been cut short or changed.", 404)
    issue = NewsletterIssue.get_or_none(NewsletterIssue.id == data.get("i"))
    if issue is None:
        raise ServiceError("This link no longer works.", 410)
    return issue, User.get_or_none(User.id == data.get("u")), data


def record_click(token: str) -> str:
    """Where a tracked link leads: one of the issue's own links, never a URL from the
    request (no open redirect). Counted only while the person's consent is on."""
    issue, person, data = _tracked(token)
    links = links_in(issue.body)
    index = data.get("l")
    if not isinstance(index, int) or not 0 <= index < len(links):
        raise ServiceError("This link is not valid.", 404)
    _record(person, issue, CLICK_TRACKING, "clicked", links[index])
    return links[index]


def record_open(token: str) -> None:
    issue, person, _ = _tracked(token)
    _record(person, issue, OPEN_TRACKING, "opened")


def _record(person: User | None, issue: NewsletterIssue, purpose_key: str, kind: str, url: str = "") -> None:
    # Consent may have been withdrawn since the email was sent, or the person's data
    # restricted (Art. 18): then nothing is kept.
    if (person is not None and ledger.choice_for(person, ledger.purpose_by_key(purpose_key)).granted
            and not Restriction.applies_to(person.id)):
        EmailEngagement.create(user=person.id, kind=kind, campaign=campaign_of(issue), link_url=url[:500])
