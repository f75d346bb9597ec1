"""Every setting, declared once: its name, default and what it is for.

Values come from environment variables; `create_app(overrides)` may replace them
(tests do). The README's configuration table lists each one; a test checks it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str


SETTINGS = (
    Setting("DATABASE_URL", "sqlite:///instance/privacy.db",
            "Database; `sqlite:///path` (relative to the project) or `postgresql://user:pass@host/db`."),
    Setting("SECRET_KEY", None,
            "Signs sessions and email links. Default: generated once into `instance/secret_key`."),
    Setting("DATA_ENCRYPTION_KEY", None,
            "Fernet key for secrets at rest (TOTP seeds, OAuth tokens). Default: generated once into `instance/data_key`."),
    Setting("SUPPRESSION_KEY", None,
            "Key of the suppression list's address hashes. Never change it: suppressed people would be mailed "
            "again. Default: generated once into `instance/suppression_key`."),
    Setting("MAIL_URL", "smtp://127.0.0.1:8025",
            "Outgoing SMTP server: `smtp://[user:pass@]host:port`, `smtp+starttls://…` or `smtps://…`."),
    Setting("MAIL_FROM", "Privacy Centre <privacy@example.com>", "Sender of every email."),
    Setting("INBOUND_MAIL_BIND", "127.0.0.1:8026",
            "Where `flask inbound run` listens for mail that comes back: `unsubscribe@` and `bounces+…@` at "
            "MAIL_FROM's domain (point the domain's MX, or a relay rule for those addresses, here)."),
    Setting("INTEGRATION_PROVIDERS", "{}",
            "JSON overriding a provider's `discovery_url` and `api_base`, e.g. "
            "`{\"google\": {\"discovery_url\": \"https://…/.well-known/openid-configuration\"}}`."),
    Setting("GOOGLE_CLIENT_ID", None, "OAuth client of the Google integrations (with GOOGLE_CLIENT_SECRET); "
            "unset: they are listed but cannot be connected."),
    Setting("GOOGLE_CLIENT_SECRET", None, "Secret of the Google OAuth client."),
    Setting("MICROSOFT_CLIENT_ID", None, "OAuth client of the Microsoft 365 integration (with MICROSOFT_CLIENT_SECRET)."),
    Setting("MICROSOFT_CLIENT_SECRET", None, "Secret of the Microsoft OAuth client."),
    Setting("LINKEDIN_CLIENT_ID", None, "OAuth client of the LinkedIn integration (with LINKEDIN_CLIENT_SECRET)."),
    Setting("LINKEDIN_CLIENT_SECRET", None, "Secret of the LinkedIn OAuth client."),
    Setting("CONTROLLER_NAME", "Example CRM Ltd", "The data controller named in consent receipts and notices."),
    Setting("CONTROLLER_CONTACT", "privacy@example.com, 1 Example Street, London EC1A 1AA",
            "How to reach the controller (and its postal address), shown in receipts and email footers."),
    Setting("CONTROLLER_REGISTRATION", "Registered in England and Wales, company number 00000000",
            "The company's registration, printed for it as the processor in every DPA."),
    Setting("CONTROLLER_COUNTRY", "GB", "Country (ISO 3166 code) of the company's postal address, for DPAs."),
    Setting("DPO_CONTACT", "Data Protection Officer, dpo@example.com, 1 Example Street, London EC1A 1AA",
            "How to reach the Data Protection Officer: on /privacy, in every page footer and every email."),
    Setting("SUPERVISORY_AUTHORITY", "the Information Commissioner's Office (ico.org.uk)",
            "The data protection authority people may complain to, named on /privacy."),
    Setting("CHILD_CONSENT_AGE", "16",
            "Age of digital consent where no country rule applies (GDPR Art. 8(1)). Below it, consent-based "
            "purposes need a parent's consent; countries that set another age (UK and US 13, India 18, …) keep "
            "theirs (app/services/consent/age.py)."),
    Setting("BASE_URL", "http://127.0.0.1:5000", "Public address of the app, used in links inside emails."),
    Setting("PORT", "5000", "Port `make run` serves on (always on 127.0.0.1)."),
    Setting("DEMO_MODE", "0",
            "`1` turns on the demo: the public caught-mail page `/dev/mailbox`, and the current code shown "
            "on the two-factor page for accounts on the published demo secret. Refused unless BASE_URL is "
            "on this machine. `make run` sets it."),
    Setting("TRUSTED_PROXIES", "0",
            "How many reverse proxies sit in front of the app; their X-Forwarded-For/-Proto/-Host "
            "headers are then trusted for client IPs (rate limits, audit log)."),
    Setting("RATELIMIT_STORAGE_URI", "memory://",
            "Flask-Limiter storage. Per process by default; use `redis://…` or `memcached://…` with several workers."),
    Setting("RATELIMIT_ENABLED", "1", "`0` turns rate limits off (load tests and benchmarks only)."),
    Setting("INSTANCE_PATH", str(PROJECT_ROOT / "instance"),
            "Folder for keys, the SQLite database, uploads and caught mail."),
)


def load_config(overrides: dict | None = None) -> dict:
    """Read every declared setting from the environment, then apply overrides."""
    config = {s.name: os.environ.get(s.name, s.default) for s in SETTINGS}
    config.update(overrides or {})
    for flag in ("DEMO_MODE", "RATELIMIT_ENABLED"):
        config[flag] = str(config[flag]).lower() in ("1", "true", "yes")
    return config
