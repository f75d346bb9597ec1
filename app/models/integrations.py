"""Connected integrations: a person's grant to a third-party account (Google, Microsoft,
LinkedIn) over OAuth, with its tokens encrypted at rest."""
from __future__ import annotations

import enum

import peewee

from app.models.base import BaseModel, utcnow
from app.models.fields import EncryptedTextField
from app.models.jobs import Job
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.user import User


class ConnectionStatus(enum.StrEnum):
    CONNECTED = "connected"
    NEEDS_RECONNECT = "needs_reconnect"  # the provider refused our tokens: revoked or expired grant
    DISCONNECTING = "disconnecting"  # revoked; its imported data is being deleted


class Direction(enum.StrEnum):
    INTO_CRM = "in"
    OUT_OF_CRM = "out"
    TWO_WAY = "two_way"


@personal_data(
    audience=Audience.END_USERS,
    category="Connected integrations",
    holds="The third-party accounts you connected (such as Google Contacts): which, the account's email address, "
          "the access you granted, "
          "the sync direction you chose, when it last synced, and the access tokens, encrypted.",
    source="You, when you connected the account; the provider, which issues the tokens.",
    purpose="To sync the data you asked us to sync, and nothing else (Google's Limited Use rules).",
    legal_basis=LegalBasis.CONSENT,
    recipients=("The provider you connected (Google, Microsoft or LinkedIn)",),
    retention="Until you disconnect; the tokens are revoked at the provider and deleted at once.",
    erasure=Erasure.DELETE,
    person="user",
    secret_fields=("access_token", "refresh_token"),
)
class Connection(BaseModel):
    user = peewee.ForeignKeyField(User, backref="connections", on_delete="CASCADE")
    integration = peewee.CharField(max_length=40)  # a key of app.services.integrations.catalogue.INTEGRATIONS
    status = peewee.CharField(max_length=20, default=ConnectionStatus.CONNECTED.value)
    direction = peewee.CharField(max_length=10, default=Direction.INTO_CRM.value)
    granted_scopes = peewee.TextField(default="")  # space-separated, as the provider returned them
    account_email = peewee.CharField(max_length=320, default="")  # which account, from the id_token; "" if not told
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField(null=True)
    token_expires_at = peewee.DateTimeField(null=True)
    connected_at = peewee.DateTimeField(default=utcnow)
    last_synced_at = peewee.DateTimeField(null=True)
    last_error = peewee.TextField(default="")
    sync_job = peewee.ForeignKeyField(Job, null=True, unique=True, backref="+", on_delete="SET NULL")
    delete_imported = peewee.BooleanField(default=True)  # the person's choice when disconnecting
    disconnect_job = peewee.ForeignKeyField(Job, null=True, unique=True, backref="+", on_delete="SET NULL")

    class Meta:
        indexes = ((("user", "integration"), True),)  # one connection per integration and person

    @property
    def scopes(self) -> list[str]:
        return self.granted_scopes.split()


@personal_data(
    audience=Audience.END_USERS,
    category="Accounts you sign in with",
    holds="The account at Google (or another provider) you signed in with: which provider, and its fixed account id.",
    source="The provider, when you first signed in with it.",
    purpose="To let only that provider account sign in to yours, even if its email address later changes hands.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("None",),
    retention="Until you close your account.",
    erasure=Erasure.DELETE,
    person="user",
)
class ProviderIdentity(BaseModel):
    user = peewee.ForeignKeyField(User, backref="provider_identities", on_delete="CASCADE")
    provider = peewee.CharField(max_length=20)
    subject = peewee.CharField(max_length=255)  # the id_token's `sub`: stable, never reassigned
    linked_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("provider", "subject"), True), (("user", "provider"), True))


class PendingRevocation(BaseModel):
    """A grant to revoke at its provider after the person it belonged to was erased:
    the erasure forgets the connection at once and queues its token here, so that a
    provider that is down, or settings that are missing (a restore on another
    machine), delay the revocation but never the erasure. No link to the person
    remains: the row names a provider and an encrypted token, and goes once revoked.
    Not in the registry for that reason (nothing ties it to anyone in our data)."""
    provider = peewee.CharField(max_length=40)
    token = EncryptedTextField()
    token_type_hint = peewee.CharField(max_length=20)
    queued_at = peewee.DateTimeField(default=utcnow)
    attempts = peewee.IntegerField(default=0)
    last_error = peewee.TextField(default="")

    class Meta:
        table_name = "pending_revocation"
