"""Every model, in dependency order; importing this fills the personal-data REGISTRY."""
from app.models.activity import CalendarEntry, CallLog, LocationCheckin, SmsLog
from app.models.api_key import ApiKey
from app.models.audit import AuditEvent
from app.models.billing import PaymentMethod, SupportInteraction
from app.models.companies import Company, CompanyExport, CompanyMember
from app.models.consent import ConsentEvent, ConsentSource, ConsentState, Purpose, PurposeKind, PurposeNotice
from app.models.contacts import Lead, LeadSource
from app.models.dpa import DpaDocument, DpaFile, DpaSignature, DpaStatus
from app.models.files import UploadedFile
from app.models.jobs import DataExport, Job, JobStatus
from app.models.integrations import Connection, ConnectionStatus, Direction, ProviderIdentity, PendingRevocation
from app.models.imports import ImportEvidence, ImportStatus, SubscriberImport
from app.models.outbox import OutboxMessage, OutboxStatus
from app.models.newsletters import IssueDelivery, IssueStatus, Newsletter, NewsletterIssue, PendingSubscription, Unsubscribe
from app.models.profile import Profile
from app.models.registry import REGISTRY
from app.models.restrictions import Restriction, RestrictionReason
from app.models.retention import RetentionPolicy, RetentionRun, ScheduledRun
from app.models.subprocessors import Subprocessor, SubprocessorVersion
from app.models.subprocessor_notices import SubprocessorNotice
from app.models.requests import (
    PrivacyRequest, RequestEvent, RequestKind, RequestNote, RequestStatus, Suppression,
)
from app.models.usage import Device, EmailEngagement, UsageEvent
from app.models.user import ROLES_REQUIRING_TOTP, Role, SignInLink, User

ALL_MODELS = (
    User, SignInLink, Job, Connection, ProviderIdentity, Lead, UploadedFile, Profile, CalendarEntry, CallLog, SmsLog,
    LocationCheckin, UsageEvent, EmailEngagement, Device, PaymentMethod,
    SupportInteraction, AuditEvent, Purpose, PurposeNotice, ConsentEvent, ConsentState, ApiKey, DataExport,
    PrivacyRequest, RequestEvent, RequestNote, Suppression, Newsletter, PendingSubscription,
    NewsletterIssue, IssueDelivery, Unsubscribe,
    SubscriberImport, ImportEvidence, RetentionPolicy, RetentionRun, ScheduledRun,
    Subprocessor, SubprocessorVersion,
    DpaDocument, DpaFile, DpaSignature,
    SubprocessorNotice, PendingRevocation, Restriction,
    Company, CompanyMember, CompanyExport,
    OutboxMessage,
)

__all__ = [m.__name__ for m in ALL_MODELS] + [
    "ALL_MODELS", "ConnectionStatus", "Direction", "DpaStatus", "ImportStatus", "IssueStatus", "JobStatus", "RequestKind", "RequestStatus", "RestrictionReason", "REGISTRY", "ConsentSource", "LeadSource", "OutboxStatus", "PurposeKind", "Role", "ROLES_REQUIRING_TOTP"]
