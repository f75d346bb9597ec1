"""Deterministic demo data: five sign-in accounts and a crowd of end users.

`seed_demo` fills an empty database so every screen has something to show:
alice@example.com has rows in every personal-data category, about fifty other
end users have a profile and a few rows each. Faker and `random.Random` share one
seed, so the same seed gives the same people; only the dates move with "now".
Every address is at example.com/.org/.net and every IP in a documentation range,
so the demo never points at a real mailbox or network.
"""
from __future__ import annotations

import csv
import hashlib
import io
import random
import struct
import zlib
from collections import Counter
from datetime import datetime, time, timedelta
from decimal import Decimal
from email.utils import make_msgid
from pathlib import Path

import peewee
from faker import Faker

from app.db import database
from app.models import (
    CalendarEntry,
    CallLog,
    Company,
    CompanyMember,
    Device,
    EmailEngagement,
    Lead,
    LeadSource,
    LocationCheckin,
    PaymentMethod,
    Profile,
    Role,
    SmsLog,
    Subprocessor,
    SupportInteraction,
    UploadedFile,
    UsageEvent,
    User,
)
from app.models.base import utcnow
from app.models.outbox import OutboxMessage, OutboxStatus
from app.models.consent import ConsentSource, Purpose
from app.models.newsletters import (
    IssueDelivery,
    IssueStatus,
    Newsletter,
    NewsletterIssue,
    PendingSubscription,
    Unsubscribe,
)
from app.models.requests import PrivacyRequest, RequestEvent, RequestKind, RequestNote, RequestStatus
from app.services.accounts.passwords import hash_password
from app.services.agreements import subprocessors
from app.services.consent import ledger
from app.services.consent.purposes import ensure_catalogue
from app.services.newsletters import catalogue
from app.services.platform import audit
from app.services.rights import requests, restrictions
from app.services.rights.deadlines import due_date
from app.services.rights.laws import law_of

DEMO_PASSWORD = "demo"
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXP"
ALICE_EMAIL = "alice@example.com"

DEMO_LOGINS = (
    (ALICE_EMAIL, Role.SUBJECT, "End user with data in every category"),
    ("dpo@example.com", Role.DPO, "Data protection officer: requests and deadlines, dashboard, audit log, register, retention"),
    ("sales@example.com", Role.SALES_OPS, "Sales ops"),
    ("admin@example.com", Role.ADMIN, "Administrator: users, purposes, API keys, scheduled jobs"),
    ("customer@example.com", Role.CUSTOMER_ADMIN, "Business customer admin"),
)
_LOGIN_NAMES = {
    ALICE_EMAIL: "Alice Martin",
    # Plain names: a DPO's name is prefilled as the countersignature on a DPA.
    "dpo@example.com": "Dana Park",
    "sales@example.com": "Sam Rivera",
    "admin@example.com": "Alex Chen",
    "customer@example.com": "Chris Okafor",
}

EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net")
HISTORY_DAYS = 180
CALL_HISTORY_DAYS = 1000
DEMO_NEWSLETTERS = (
    ("Product updates", "One email a month about what is new in the CRM, with tips for the new features.", "Product"),
    ("Events and webinars", "Invitations to our webinars and trade fairs, about four times a year.", "Events"),
)
_K, _S = RequestKind, RequestStatus
# Other people's requests: (days ago, kind, jurisdiction, None if open else (outcome, days to close)).
DEMO_REQUESTS = [
    (35, _K.DELETION, "GDPR", None), (33, _K.OBJECTION, "UK", None), (40, _K.RESTRICTION, "CCPA", None),
    (26, _K.RECTIFICATION, "GDPR", None), (12, _K.DELETION, "CCPA", None), (5, _K.OBJECTION, "GDPR", None),
    (2, _K.RECTIFICATION, "IN", None), (60, _K.DELETION, "GDPR", (_S.COMPLETED, 21)),
    (75, _K.RECTIFICATION, "GDPR", (_S.COMPLETED, 6)), (88, _K.OBJECTION, "CCPA", (_S.COMPLETED, 2)),
    (95, _K.DELETION, "CCPA", (_S.DENIED, 30)), (110, _K.RESTRICTION, "UK", (_S.COMPLETED, 12)),
    (130, _K.DELETION, "GDPR", (_S.COMPLETED, 18)), (150, _K.RECTIFICATION, "GDPR", (_S.COMPLETED, 4)),
    (170, _K.OBJECTION, "GDPR", (_S.COMPLETED, 1)), (45, _K.DELETION, "GDPR", (_S.COMPLETED, 25)),
    (20, _K.OBJECTION, "UK", (_S.COMPLETED, 3)), (9, _K.RECTIFICATION, "GDPR", (_S.DENIED, 5)),
]
BATCH_SIZE = 100
# The sub-processor register: (days ago, name, purpose, country, transfer mechanism, UK Addendum, data).
DEMO_SUBPROCESSORS = (
    (730, "Hetzner Online GmbH", "Hosts the application servers, the database and its encrypted backups.", "DE", "none",
     False, ("Account", "Profile", "Contacts and leads", "Calendar", "Call logs", "Text messages", "Uploaded files",
             "Usage and navigation", "Privacy choices", "Consent records")),
    (400, "ActiveCampaign, LLC (Postmark)", "Delivers the transactional emails and the newsletters.", "US",
     "scc_module_2", True, ("Account", "Newsletter issues sent to you", "Email engagement", "Sign-in links")),
    (300, "OneSignal, Inc.", "Delivers push notifications to the devices people enabled them on.", "US",
     "scc_module_3", True, ("Devices and push tokens",)),
    (200, "Google LLC", "Google Contacts and Google Sheets sync, for the people who connect them.", "US",
     "scc_module_3", True, ("Connected integrations", "Contacts and leads")),
    (500, "Sinch Sweden AB", "Sent the SMS reminders and two-way text messages.", "SE", "none", False,
     ("Account", "Text messages")),
)

# (country, time zone, language, Faker locale, a city centre for check-ins)
COUNTRIES = (
    ("GB", "Europe/London", "en", "en_GB", (51.507351, -0.127758)),
    ("IT", "Europe/Rome", "it", "it_IT", (41.902782, 12.496366)),
    ("DE", "Europe/Berlin", "de", "de_DE", (52.520008, 13.404954)),
    ("FR", "Europe/Paris", "fr", "fr_FR", (48.856613, 2.352222)),
    ("NL", "Europe/Amsterdam", "nl", "nl_NL", (52.367573, 4.904139)),
    ("ES", "Europe/Madrid", "es", "es_ES", (40.416775, -3.703790)),
    ("SE", "Europe/Stockholm", "sv", "sv_SE", (59.329323, 18.068581)),
)

PATHS = ("/", "/leads", "/leads/new", "/calendar", "/calls", "/messages", "/files",
         "/reports/pipeline", "/settings/profile", "/settings/notifications")
USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
)
IP_PREFIXES = ("192.0.2.", "198.51.100.", "203.0.113.")  # RFC 5737 documentation ranges
CAMPAIGNS = (
    ("Spring product update", "https://example.com/blog/spring-update"),
    ("Webinar: keeping your pipeline clean", "https://example.com/webinars/pipeline"),
    ("New: Google Sheets import", "https://example.com/help/sheets-import"),
    ("Your monthly activity summary", "https://example.com/reports"),
    ("Tips: follow up in half the time", "https://example.com/blog/follow-ups"),
)
SMS_TEMPLATES = (
    "Hi {first}, running about 10 minutes late, see you soon.",
    "Thanks for the call today, {first}. Sending the proposal tonight.",
    "Hi, is Thursday at 2pm still good for you?",
    "Got it, thanks! Talk next week.",
    "Could you send me the updated figures before Friday?",
)
MEETING_TITLES = ("Intro call with {name}", "Demo for {company}", "Follow-up: {name}",
                  "Contract review with {company}", "Coffee with {name}")
SUPPORT_TOPICS = (
    ("email", "Google Contacts sync stopped", "My contacts have not synced since Monday. Can you check?"),
    ("chat", "How do I export my leads?", "I'd like a CSV of all my leads for a board report."),
    ("phone", "Charged twice this month", "I see two charges on my card statement for March."),
    ("email", "Change of company name", "We renamed the company; please update our invoices."),
)
DEMO_CHOICES = (("marketing_email", True), ("click_tracking", True), ("open_tracking", True),
                ("push_notifications", True), ("sms_marketing", True), ("sms_marketing", False))
AGENTS = ("Priya (Support)", "Tomás (Support)", "Jonas (Billing)")
CARD_BRANDS = ("visa", "mastercard", "amex")


def seed_demo(instance_path: Path, seed: int = 2026, end_users: int = 50) -> bool:
    """Fill the database with demo data; False (and nothing done) if it is already there."""
    if User.by_email(ALICE_EMAIL) is not None:
        return False
    demo = _DemoBuilder(Path(instance_path) / "uploads", seed)
    ensure_catalogue()
    with database.atomic():
        try:
            demo.build(end_users)
        except Exception:
            demo.remove_written_files()  # the rows roll back; leave no orphan files
            raise
        audit.record(audit.Event("demo.seeded", details=dict(demo.counts)))
    return True


def demo_logins_text(base_url: str) -> str:
    """What to print (or show) so a visitor can sign in to the demo."""
    width = max(len(email) for email, _, _ in DEMO_LOGINS)
    lines = [f'Demo logins (password "{DEMO_PASSWORD}" for all):']
    lines += [f"  {email:<{width}}  {description}" for email, _, description in DEMO_LOGINS]
    lines.append(
        f"DPO and admin use the TOTP secret {DEMO_TOTP_SECRET}: add it to an authenticator app; "
        f"in demo mode the two-factor page also shows the current code.")
    lines.append(f"Caught emails: {base_url.rstrip('/')}/dev/mailbox")
    return "\n".join(lines)


class _DemoBuilder:
    """Holds the seeded randomness, the reference time and what has been made so far."""

    def __init__(self, uploads: Path, seed: int):
        self.uploads = uploads
        self.rng = random.Random(seed)
        # One Faker per locale, each seeded, so names and phones match the country.
        self.fakers = {}
        for _, _, _, locale, _ in COUNTRIES:
            self.fakers[locale] = Faker(locale)
            self.fakers[locale].seed_instance(seed)
        self.now = utcnow()
        self.counts: Counter = Counter()
        self.written: list[Path] = []
        self.emails_taken = {email for email, _, _ in DEMO_LOGINS}
        self.pending: dict[type[peewee.Model], list[dict]] = {}

    # ---- orchestration -------------------------------------------------------

    def build(self, end_users: int) -> None:
        alice = self._create_logins()
        self._alice(alice)
        others = self._others(max(end_users - 1, 0))
        self._flush()
        self._alice_choices(alice)
        self._request_history(others)
        self._newsletters(alice, others)
        self._subprocessors()
        self._company(alice, others)

    def _company(self, alice: User, people: list[int]) -> None:
        """The business customer Alice works for: its admin exports the data of its
        accounts (Alice and ten others) from /customer."""
        company = Company.create(name="Martin & Byrne Consulting", created_at=self._ago(400, 300))
        admin = User.by_email("customer@example.com")
        members = [admin.id, alice.id, *people[:10]]
        CompanyMember.insert_many([{"company": company.id, "user": m, "added_at": company.created_at}
                                   for m in members]).execute()
        self.counts[CompanyMember.__name__] += len(members)

    def _alice_choices(self, alice: User) -> None:
        """Alice said yes to some purposes and changed her mind on one, so her
        preferences, history and receipt have something to show."""
        origin = ledger.Origin(ConsentSource.PORTAL, actor=alice, ip="198.51.100.23",
                                user_agent="Mozilla/5.0 (Macintosh) Demo")
        for key, granted in DEMO_CHOICES:
            ledger.set_consent(alice, Purpose.get(Purpose.key == key), granted, origin)
            self.counts["ConsentEvent"] += 1
        # …and once asked for a correction the privacy team carried out.
        done = requests.file_request(alice, RequestKind.RECTIFICATION,
                                     "My company name is Martin & Byrne Consulting, not Martin Consulting.",
                                     confirm_link=lambda token: "", notify=False)
        requests.approve_request(done.id)
        restrictions.end_pending(done, "Demo data: the correction was made, so its restriction ended.", None,
                                 "system", "demo", notice_sent=False)
        dpo = User.by_email("dpo@example.com")
        RequestNote.create(request=done, author=dpo, author_label=dpo.email,
                           body="Checked the company register: the new name is right.")
        self.counts["PrivacyRequest"] += 1
        # The decision she was emailed, as the outbox keeps it once delivered: no message left.
        OutboxMessage.create(kind="request_decided", recipient=alice.email, ref=f"decision:{done.id}",
                             message_id=make_msgid(domain="privacy.invalid"), status=OutboxStatus.SENT.value,
                             created_at=self.now, next_attempt_at=self.now, attempts=1, finished_at=self.now)

    def _subprocessors(self) -> None:
        """The sub-processor register, with a little history: one changed its SCC
        module, one was removed, so "as of" a past date shows a different list."""
        if Subprocessor.select().exists():
            return
        dpo = User.by_email("dpo@example.com")
        for days_ago, name, purpose, country, mechanism, uk, categories in DEMO_SUBPROCESSORS:
            details = subprocessors.Details(name, purpose, list(categories), country, mechanism, uk,
                                            (self.now - timedelta(days=days_ago)).date())
            row = subprocessors.add_subprocessor(details, "Engaged after a security and transfer review.", dpo,
                                                 now=self.now - timedelta(days=days_ago))
            self.counts["Subprocessor"] += 1
            if mechanism == "scc_module_2":  # the email provider: re-assessed later
                subprocessors.change_subprocessor(
                    row.id, subprocessors.Details(name, purpose, list(categories), country, "scc_module_3", uk,
                                                  details.since),
                    "We process our customers' data as their processor: module 3 applies, not module 2.", dpo,
                    now=self.now - timedelta(days=100))
        sms = Subprocessor.get(Subprocessor.name == "Sinch Sweden AB")
        subprocessors.remove_subprocessor(sms.id, "SMS sending moved to our own gateway; Sinch deleted the data.",
                                          dpo, now=self.now - timedelta(days=45))

    def _newsletters(self, alice: User, people: list[int]) -> None:
        """Two newsletters: Alice reads one; others confirmed, left, or have not
        confirmed yet, so the sales pages show every status with its proof."""
        sales = User.by_email("sales@example.com")
        for i, (name, description, topic) in enumerate(DEMO_NEWSLETTERS):
            newsletter = catalogue.create_newsletter(name, description, topic, True, sales)
            for n, person_id in enumerate(people[i::2][:20]):
                person = User.get_by_id(person_id)
                ledger.set_consent(person, newsletter.purpose, True, ledger.Origin(ConsentSource.IMPORT))
                if n % 5 == 4:
                    ledger.set_consent(person, newsletter.purpose, False, ledger.Origin(ConsentSource.ONE_CLICK))
                    Unsubscribe.create(newsletter=newsletter, reason=self.rng.choice(("too_many", "not_relevant", "")),
                                       source=ConsentSource.ONE_CLICK.value,
                                       occurred_at=self._ago(80).replace(hour=0, minute=0, second=0))
            for person_id in people[i::2][20:23]:
                PendingSubscription.create(newsletter=newsletter, user=person_id, source=ConsentSource.STAFF.value,
                                           evidence="Signed up at the trade fair stand.", requested_at=self.now,
                                           expires_at=self.now + catalogue.CONFIRM_WITHIN)
            self.counts["Newsletter"] += 1
        first, second = Newsletter.select().order_by(Newsletter.id)
        ledger.set_consent(alice, first.purpose, True, ledger.Origin(ConsentSource.EMAIL_LINK, actor=alice))
        self._sent_issue(first, sales, [alice.id])
        PendingSubscription.create(newsletter=second, user=alice, source=ConsentSource.STAFF.value,
                                   evidence="Asked at the spring webinar.", requested_at=self.now,
                                   expires_at=self.now + catalogue.CONFIRM_WITHIN)

    def _sent_issue(self, newsletter: Newsletter, author: User, readers: list[int]) -> None:
        """Last month's issue, as the sending job records it."""
        sent_at = self.now - timedelta(days=20)
        issue = NewsletterIssue.create(newsletter=newsletter, subject="What's new in October",
                                       body="Calendar sync is faster, and call logs can be exported.",
                                       created_by=author, created_at=sent_at, status=IssueStatus.SENT.value,
                                       sent_count=len(readers), sent_at=sent_at)
        for user_id in readers:
            IssueDelivery.create(issue=issue, user=user_id, sent_at=sent_at)

    def _request_history(self, people: list[int]) -> None:
        """Other people's requests, so the DPO's queue, deadlines and dashboard have
        something to show: open ones (two overdue, one due this week) and closed ones."""
        dpo = User.by_email("dpo@example.com")
        for i, (days_ago, kind, jurisdiction, outcome) in enumerate(DEMO_REQUESTS[:len(people)]):
            received = self.now - timedelta(days=days_ago, hours=i)
            due = due_date(received, jurisdiction)
            row = dict(user=people[i], kind=kind.value, jurisdiction=jurisdiction, received_at=received, due_at=due,
                       receipt_confirmed_at=received, confirmed_at=received if kind is RequestKind.DELETION else None,
                       details="Filed from the portal.", assignee=dpo.id if i % 3 == 0 else None)
            if outcome is None:
                request = PrivacyRequest.create(status=RequestStatus.PENDING_REVIEW.value, **row)
            else:
                closed = received + timedelta(days=outcome[1])
                request = PrivacyRequest.create(status=outcome[0].value, decided_at=closed, **row, **(
                    {"completed_at": closed} if outcome[0] is RequestStatus.COMPLETED else
                    {"denial_reason": law_of(jurisdiction).refusal_grounds["manifestly_unfounded"]}))
            RequestEvent.create(request=request, status=RequestStatus.PENDING_REVIEW.value, occurred_at=received,
                                note="Request received.", actor_label="the person")
            if outcome:
                RequestEvent.create(request=request, status=request.status, occurred_at=request.decided_at,
                                    note="Carried out." if outcome[0] is RequestStatus.COMPLETED else "Refused.",
                                    actor_label=dpo.email)
            self.counts["PrivacyRequest"] += 1

    def _create_logins(self) -> User:
        users = {}
        for email, role, _ in DEMO_LOGINS:
            users[email] = User.create(
                email=email, name=_LOGIN_NAMES[email], role=role.value,
                password_hash=hash_password(DEMO_PASSWORD),
                totp_secret=DEMO_TOTP_SECRET if role in (Role.DPO, Role.ADMIN) else None,
                created_at=self._ago(400, 200))
            self.counts[User.__name__] += 1
        return users[ALICE_EMAIL]

    # ---- alice: every category ------------------------------------------------

    def _alice(self, alice: User) -> None:
        country = COUNTRIES[0]
        photo = self._file(alice, "alice-martin.png", "image/png", _avatar_png(self.rng))
        self._add(Profile, user=alice.id, phone=self._faker(country).phone_number(),
                  company="Martin & Byrne Consulting", country=country[0], time_zone=country[1],
                  language=country[2], photo=photo.id, updated_at=self._ago(60))
        leads = [self._create_lead(alice, source) for source in _lead_sources(self.rng, 15)]
        proposal_lead = leads[0]
        self._file(alice, f"Proposal - {proposal_lead.company}.txt", "text/plain",
                   self._proposal_text(proposal_lead), lead=proposal_lead)
        self._file(alice, "pipeline-export.csv", "text/csv", _leads_csv(leads))
        self._activity(alice.id, country, leads, scale=5)
        self._tracking(alice.id, scale=5)
        self._alice_account(alice)

    def _alice_account(self, alice: User) -> None:
        """Her devices, card on file and support history."""
        self._add(Device, owner=alice.id, platform="ios", name="Alice's iPhone 15",
                  push_token=self._hex(32), push_enabled=True, last_seen_at=self._ago(2))
        self._add(Device, owner=alice.id, platform="web", name="Firefox on macOS",
                  push_token=f"https://push.example.net/wpush/v2/{self._hex(24)}",
                  push_enabled=False, last_seen_at=self._ago(10))
        self._add(PaymentMethod, owner=alice.id, cardholder_name="ALICE MARTIN", brand="visa",
                  last4="4242", exp_month=9, exp_year=self.now.year + 2, added_at=self._ago())
        for channel, subject, body in SUPPORT_TOPICS[:3]:
            self._add(SupportInteraction, user=alice.id, channel=channel, subject=subject,
                      body=body, agent=self.rng.choice(AGENTS), created_at=self._ago())

    def _create_lead(self, owner: User, source: str) -> Lead:
        fake = self._faker(self.rng.choice(COUNTRIES))
        self.counts[Lead.__name__] += 1
        return Lead.create(owner=owner, name=fake.name(), email=self._email(fake),
                           phone=fake.phone_number(), company=fake.company(),
                           notes=fake.sentence(nb_words=10), source=source,
                           created_at=self._ago())

    def _proposal_text(self, lead: Lead) -> bytes:
        fake = self._faker(COUNTRIES[0])
        body = "\n\n".join(fake.paragraphs(nb=3))
        return f"Proposal for {lead.company}\nAttn: {lead.name}\n\n{body}\n".encode()

    # ---- everyone else: a profile and a few rows -------------------------------

    def _others(self, count: int) -> None:
        people = []
        for _ in range(count):
            country = self.rng.choice(COUNTRIES)
            fake = self._faker(country)
            created = self._ago(400, HISTORY_DAYS)
            # Imported subscribers and app users alike: only the demo logins have passwords.
            people.append((country, dict(email=self._email(fake), name=fake.name(),
                                         role=Role.SUBJECT.value, password_hash=None,
                                         created_at=created, updated_at=created)))
        for batch in peewee.chunked([row for _, row in people], BATCH_SIZE):
            User.insert_many(batch).execute()
        self.counts[User.__name__] += len(people)
        ids = dict(User.select(User.email, User.id)
                   .where(User.email.in_([row["email"] for _, row in people])).tuples())
        for country, row in people:
            self._other_user(ids[row["email"]], country)
        return list(ids.values())

    def _other_user(self, user_id: int, country: tuple) -> None:
        fake = self._faker(country)
        self._add(Profile, user=user_id, phone=fake.phone_number(), company=fake.company(),
                  country=country[0], time_zone=country[1], language=country[2],
                  updated_at=self._ago())
        for _ in range(self.rng.randint(0, 4)):
            self._add(Lead, owner=user_id, name=fake.name(), email=self._email(fake),
                      phone=fake.phone_number(), company=fake.company(),
                      source=self.rng.choice(list(LeadSource)).value, created_at=self._ago())
        if self.rng.random() < 0.5:
            self._activity(user_id, country, [], scale=1)
        self._tracking(user_id, scale=1)
        if self.rng.random() < 0.3:
            self._add(Device, owner=user_id, platform=self.rng.choice(("ios", "android", "web")),
                      name=f"{fake.first_name()}'s phone", push_token=self._hex(32),
                      push_enabled=self.rng.random() < 0.7, last_seen_at=self._ago(90))
        if self.rng.random() < 0.3:
            self._add(PaymentMethod, owner=user_id, cardholder_name=fake.name().upper(),
                      brand=self.rng.choice(CARD_BRANDS), last4=f"{self.rng.randint(0, 9999):04d}",
                      exp_month=self.rng.randint(1, 12),
                      exp_year=self.now.year + self.rng.randint(1, 4), added_at=self._ago())
        if self.rng.random() < 0.2:
            channel, subject, body = self.rng.choice(SUPPORT_TOPICS)
            self._add(SupportInteraction, user=user_id, channel=channel, subject=subject,
                      body=body, agent=self.rng.choice(AGENTS), created_at=self._ago())

    # ---- shared row makers ---------------------------------------------------

    def _activity(self, owner_id: int, country: tuple, leads: list[Lead], scale: int) -> None:
        """Meetings, calls, texts and check-ins, linked to leads when there are some."""
        fake = self._faker(country)
        for _ in range(self.rng.randint(scale, 3 * scale)):
            self._meeting(owner_id, self._pick(leads), fake)
        for _ in range(self.rng.randint(scale, 4 * scale)):
            self._call(owner_id, self._pick(leads), fake)
        for _ in range(self.rng.randint(scale, 4 * scale)):
            lead = self._pick(leads)
            first = lead.name.split()[0] if lead else fake.first_name()
            self._add(SmsLog, owner=owner_id, lead=lead and lead.id,
                      number=lead.phone if lead else fake.phone_number(),
                      direction=self.rng.choice(("inbound", "outbound")),
                      body=self.rng.choice(SMS_TEMPLATES).format(first=first), sent_at=self._ago())
        for _ in range(self.rng.randint(scale, 2 * scale)):
            lead = self._pick(leads)
            self._add(LocationCheckin, owner=owner_id, lead=lead and lead.id,
                      latitude=self._near(country[4][0]), longitude=self._near(country[4][1]),
                      activity=self.rng.choice(("visit", "meeting", "call")), recorded_at=self._ago())

    def _meeting(self, owner_id: int, lead: Lead | None, fake: Faker) -> None:
        # Business hours on a day from ~6 months ago to a month ahead: an agenda has a future.
        day = self.now.date() - timedelta(days=self.rng.randint(-30, HISTORY_DAYS))
        starts = datetime.combine(day, time(self.rng.randint(8, 17), self.rng.choice((0, 15, 30, 45))))
        name, company = (lead.name, lead.company) if lead else (fake.name(), fake.company())
        self._add(CalendarEntry, owner=owner_id, lead=lead and lead.id,
                  title=self.rng.choice(MEETING_TITLES).format(name=name, company=company),
                  starts_at=starts, ends_at=starts + timedelta(minutes=self.rng.choice((15, 30, 45, 60, 90))),
                  location=self.rng.choice(("Video call", fake.city(), f"{company} office")),
                  attendees=lead.email if lead else "")

    def _call(self, owner_id: int, lead: Lead | None, fake: Faker) -> None:
        direction = self.rng.choice(("inbound", "outbound"))
        missed = self.rng.random() < 0.15
        self._add(CallLog, owner=owner_id, lead=lead and lead.id,
                  number=lead.phone if lead else fake.phone_number(), direction=direction,
                  # Most calls last a few minutes, a few run long; missed ones last 0 s.
                  duration_seconds=0 if missed else min(int(self.rng.lognormvariate(5, 0.9)), 5400),
                  caller_id=(lead.name if lead else fake.name()) if direction == "inbound" else "",
                  # Some calls older than their 24 months: the retention sweep has work to show.
                  called_at=self._ago(CALL_HISTORY_DAYS))

    def _tracking(self, user_id: int, scale: int) -> None:
        """Page visits and newsletter engagement: what our own systems observe."""
        ip = self.rng.choice(IP_PREFIXES) + str(self.rng.randint(1, 254))
        agent = self.rng.choice(USER_AGENTS)
        for _ in range(self.rng.randint(2 * scale, 8 * scale)):
            if self.rng.random() < 0.2:  # people move between networks and browsers
                ip = self.rng.choice(IP_PREFIXES) + str(self.rng.randint(1, 254))
                agent = self.rng.choice(USER_AGENTS)
            self._add(UsageEvent, user=user_id, path=self.rng.choice(PATHS),
                      referrer=self.rng.choice(("", "", "https://www.example.com/")),
                      user_agent=agent, ip=ip, occurred_at=self._ago())
        for campaign, link in self.rng.sample(CAMPAIGNS, self.rng.randint(1, min(len(CAMPAIGNS), 1 + scale))):
            self._engagement(user_id, campaign, link)

    def _engagement(self, user_id: int, campaign: str, link: str) -> None:
        at = self._ago()
        self._add(EmailEngagement, user=user_id, kind="sent", campaign=campaign, occurred_at=at)
        if self.rng.random() < 0.6:
            at = min(at + timedelta(minutes=self.rng.randint(5, 3000)), self.now)
            self._add(EmailEngagement, user=user_id, kind="opened", campaign=campaign, occurred_at=at)
            if self.rng.random() < 0.5:
                at = min(at + timedelta(seconds=self.rng.randint(10, 600)), self.now)
                self._add(EmailEngagement, user=user_id, kind="clicked", campaign=campaign,
                          link_url=link, occurred_at=at)

    def _file(self, owner: User, filename: str, content_type: str, data: bytes,
              lead: Lead | None = None) -> UploadedFile:
        """Write real bytes under uploads/ so downloads and exports work."""
        stored_name = self._hex(16) + Path(filename).suffix
        self.uploads.mkdir(parents=True, exist_ok=True)
        path = self.uploads / stored_name
        path.write_bytes(data)
        self.written.append(path)
        self.counts[UploadedFile.__name__] += 1
        return UploadedFile.create(owner=owner, lead=lead, filename=filename, stored_name=stored_name,
                                   content_type=content_type, size_bytes=len(data),
                                   sha256=hashlib.sha256(data).hexdigest(), uploaded_at=self._ago())

    def remove_written_files(self) -> None:
        for path in self.written:
            path.unlink(missing_ok=True)

    # ---- bulk insert -----------------------------------------------------------

    def _add(self, model: type[peewee.Model], **row) -> None:
        self.pending.setdefault(model, []).append(row)
        self.counts[model.__name__] += 1

    def _flush(self) -> None:
        # No pending row points at another pending row, so the order does not matter.
        for model in self.pending:
            for batch in peewee.chunked(self.pending[model], BATCH_SIZE):
                model.insert_many(batch).execute()
        self.pending.clear()

    # ---- small helpers ---------------------------------------------------------

    def _pick(self, leads: list[Lead]) -> Lead | None:
        return self.rng.choice(leads) if leads else None

    def _faker(self, country: tuple) -> Faker:
        return self.fakers[country[3]]

    def _email(self, fake: Faker) -> str:
        """A fresh address at a reserved example domain, never one already used."""
        while True:
            email = fake.unique.email(domain=self.rng.choice(EXAMPLE_DOMAINS)).lower()
            if email not in self.emails_taken:
                self.emails_taken.add(email)
                return email

    def _ago(self, max_days: int = HISTORY_DAYS, min_days: int = 0) -> datetime:
        return self.now - timedelta(seconds=self.rng.randint(min_days * 86400, max_days * 86400))

    def _near(self, degrees: float) -> Decimal:
        return Decimal(f"{degrees + self.rng.uniform(-0.05, 0.05):.6f}")

    def _hex(self, nbytes: int) -> str:
        return self.rng.getrandbits(8 * nbytes).to_bytes(nbytes, "big").hex()


def _lead_sources(rng: random.Random, count: int) -> list[str]:
    """Every source at least once, the rest mostly typed in by hand."""
    sources = [s.value for s in LeadSource]
    weights = (5, 3, 2, 1)
    sources += rng.choices(sources, weights=weights, k=max(count - len(sources), 0))
    rng.shuffle(sources)
    return sources


def _leads_csv(leads: list[Lead]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("name", "email", "phone", "company", "source"))
    writer.writerows((lead.name, lead.email, lead.phone, lead.company, lead.source) for lead in leads)
    return out.getvalue().encode()


def _avatar_png(rng: random.Random, size: int = 32) -> bytes:
    """A tiny valid PNG: a coloured disc on a light background."""
    colour = bytes(rng.randint(40, 200) for _ in range(3))
    background = b"\xee\xee\xee"
    centre, radius2 = (size - 1) / 2, (size * 0.4) ** 2
    rows = b"".join(
        b"\x00" + b"".join(colour if (x - centre) ** 2 + (y - centre) ** 2 <= radius2 else background
                           for x in range(size))
        for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
