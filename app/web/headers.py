"""Security headers on every response. A privacy product loads nothing from anyone
else: the policy names no origin but our own, and allows no inline script."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g, request


def content_security_policy(form_targets: set[str] = frozenset()) -> str:
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        " ".join(["form-action 'self'", *sorted(form_targets)]),
        "frame-ancestors 'none'",
    ])


CONTENT_SECURITY_POLICY = content_security_policy()


def allow_form_target(url: str) -> None:
    """Let this page's forms lead to `url`'s origin: browsers apply form-action to
    the redirect after a submit too, and connecting an account redirects to the
    provider's consent page."""
    parts = urlsplit(url)
    g.setdefault("form_targets", set()).add(f"{parts.scheme}://{parts.netloc}")


def add_security_headers(response):
    h = response.headers
    h.setdefault("Content-Security-Policy", content_security_policy(g.get("form_targets", set())))
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["BASE_URL"].startswith("https://"):
        h.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if request.endpoint != "static":
        # Pages show personal data: never keep them in shared caches or on disk.
        h.setdefault("Cache-Control", "no-store")
        h.add("Vary", "HX-Request")
    return response
