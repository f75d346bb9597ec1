"""What can be connected: providers (where to send the person, where tokens come from,
where to revoke them) and, per provider, integrations (what each reads and writes,
the scopes it asks for, the registry categories it fills).

Endpoints come from each provider's OpenID Connect discovery document, so nothing
here hard-codes a token URL. Client ids and secrets come from the environment
(GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, …); a provider without them is listed but
cannot be connected. INTEGRATION_PROVIDERS (JSON) overrides a provider's discovery
URL and API base: the tests point Google at a real authorization server on loopback."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace

from flask import current_app

GOOGLE_LIMITED_USE = (
    "We use what we read from your Google account only to show and sync it in the CRM for you. We do not use it "
    "for advertising, do not sell it, and do not use it to train AI models. Nobody here reads it unless you ask "
    "us to for a specific item, for security, or because the law requires it. When you disconnect, we revoke our "
    "access at Google and, unless you choose otherwise, delete everything this connection brought in. Our use "
    "of information received from Google APIs adheres to the Google API Services User Data Policy, including "
    "the Limited Use requirements.")


@dataclass(frozen=True)
class Provider:
    key: str
    name: str
    discovery_url: str
    env_prefix: str  # <PREFIX>_CLIENT_ID and <PREFIX>_CLIENT_SECRET
    disclosure: str = ""  # shown immediately before the person is sent to consent
    # Its id_tokens pass Authlib's checks, so a connection can name the account.
    # Not Microsoft's multi-tenant "common" endpoint: its issuer is a {tenantid} template.
    names_account: bool = True


@dataclass(frozen=True)
class Integration:
    key: str
    provider: str
    name: str
    reads: str
    writes: str  # "" when it never writes to the provider
    categories: tuple[str, ...]  # registry categories its rows land in
    purpose: str
    read_scopes: tuple[str, ...]
    write_scopes: tuple[str, ...] = ()  # asked for only when the person chooses to sync out
    api_base: str = ""
    adapter: str | None = None  # None: listed, not offered yet
    sign_in_only: bool = False

    @property
    def directions(self) -> tuple[str, ...]:
        return ("in", "out", "two_way") if self.write_scopes else ("in",)


PROVIDERS = {p.key: p for p in (
    Provider("google", "Google", "https://accounts.google.com/.well-known/openid-configuration", "GOOGLE",
             GOOGLE_LIMITED_USE),
    Provider("microsoft", "Microsoft", "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
             "MICROSOFT", names_account=False),
    Provider("linkedin", "LinkedIn", "https://www.linkedin.com/oauth/.well-known/openid-configuration", "LINKEDIN"),
)}

_CONTACTS = "https://www.googleapis.com/auth/contacts"
INTEGRATIONS = {i.key: i for i in (
    Integration("google_contacts", "google", "Google Contacts",
                reads="Your Google contacts: names, email addresses, phone numbers and companies.",
                writes="Contacts you add in the CRM, if you choose to sync them to Google.",
                categories=("Contacts and leads",), purpose="To keep your CRM contact list in step with Google.",
                read_scopes=(_CONTACTS + ".readonly",), write_scopes=(_CONTACTS,),
                api_base="https://people.googleapis.com", adapter="google_contacts"),
    Integration("google_sheets", "google", "Google Sheets lead import",
                reads="The rows of the one spreadsheet you choose, once, at import.",
                writes="", categories=("Contacts and leads",),
                purpose="To add the leads in a spreadsheet to the CRM; nothing of the sheet is kept afterwards.",
                read_scopes=("https://www.googleapis.com/auth/spreadsheets.readonly",),
                api_base="https://sheets.googleapis.com", adapter="google_sheets"),
    Integration("google_calendar", "google", "Google Calendar",
                reads="Your calendar events: title, time, place and attendees.",
                writes="Meetings you plan in the CRM, if you choose to sync them to Google.",
                categories=("Calendar",), purpose="To show your meetings beside your contacts.",
                read_scopes=("https://www.googleapis.com/auth/calendar.readonly",),
                write_scopes=("https://www.googleapis.com/auth/calendar.events",),
                api_base="https://www.googleapis.com/calendar/v3"),
    Integration("google_drive", "google", "Google Drive documents",
                reads="The documents you attach to a contact.", writes="",
                categories=("Uploaded files",), purpose="To attach Drive documents to your contacts.",
                read_scopes=("https://www.googleapis.com/auth/drive.file",), api_base="https://www.googleapis.com/drive/v3"),
    Integration("gmail", "google", "Gmail", reads="The emails you exchanged with your contacts.",
                writes="", categories=("Contacts and leads",), purpose="To show your conversations with a contact.",
                read_scopes=("https://www.googleapis.com/auth/gmail.readonly",),
                api_base="https://gmail.googleapis.com"),
    Integration("microsoft_365", "microsoft", "Microsoft 365 contacts and calendar",
                reads="Your Outlook contacts and calendar.", writes="",
                categories=("Contacts and leads", "Calendar"), purpose="To keep your CRM in step with Outlook.",
                read_scopes=("Contacts.Read", "Calendars.Read", "offline_access"),
                api_base="https://graph.microsoft.com/v1.0"),
    Integration("linkedin", "linkedin", "LinkedIn profile", reads="Your name, email address and profile picture.",
                writes="", categories=("Account",), purpose="To sign you in and fill in your profile.",
                read_scopes=("openid", "profile", "email"), api_base="https://api.linkedin.com/v2",
                sign_in_only=True),
)}


def provider(key: str) -> Provider:
    base = PROVIDERS[key]
    override = _overrides().get(key, {})
    return replace(base, discovery_url=override.get("discovery_url", base.discovery_url))


def integration(key: str) -> Integration | None:
    found = INTEGRATIONS.get(key)
    if found is None:
        return None
    override = _overrides().get(found.provider, {})
    return replace(found, api_base=override.get("api_base", found.api_base))


def credentials(provider_key: str) -> tuple[str, str] | None:
    """(client id, client secret) from the app's config or the environment; None if unset."""
    prefix = PROVIDERS[provider_key].env_prefix
    config = current_app.config
    client_id = config.get(f"{prefix}_CLIENT_ID") or os.environ.get(f"{prefix}_CLIENT_ID")
    secret = config.get(f"{prefix}_CLIENT_SECRET") or os.environ.get(f"{prefix}_CLIENT_SECRET")
    return (client_id, secret) if client_id and secret else None


def offered(i: Integration) -> bool:
    """Connectable here: it has a sync adapter and its provider has credentials."""
    return i.adapter is not None and credentials(i.provider) is not None


def scopes_for(i: Integration, direction: str) -> list[str]:
    return list(i.read_scopes) + (list(i.write_scopes) if direction != "in" else [])


def _overrides() -> dict:
    raw = current_app.config.get("INTEGRATION_PROVIDERS") or "{}"
    return raw if isinstance(raw, dict) else json.loads(raw)
