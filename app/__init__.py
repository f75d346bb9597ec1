"""The Privacy Control Centre: `create_app` builds the whole application."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import db
from app.config import PROJECT_ROOT, load_config
from app.extensions import csrf, htmx, limiter, login_manager
from app.keys import load_keys
from app.models.fields import Cipher


def create_app(overrides: dict | None = None) -> Flask:
    config = load_config(overrides)
    load_keys(config)
    app = Flask(__name__, instance_path=config["INSTANCE_PATH"],
                template_folder=str(PROJECT_ROOT / "templates"),
                static_folder=str(PROJECT_ROOT / "static"))
    app.config.update(config)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config["BASE_URL"].startswith("https://"),
        REMEMBER_COOKIE_SECURE=config["BASE_URL"].startswith("https://"),
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead; forms left open overnight still work
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        # Sessions live in signed cookies; this bounds how long a copied one works.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
    )
    _refuse_unsafe_demo(config)
    if int(config["TRUSTED_PROXIES"]):
        n = int(config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    Cipher.configure(app.config["DATA_ENCRYPTION_KEY"])
    db.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)

    # Job handlers (and outbox follow-ups) register themselves on import; every process
    # (web, CLI, scheduler) must know them all, since any of them may queue a job the
    # scheduler runs, or deliver a message whose outcome a follow-up acts on.
    from app.services.agreements import customer_exports, subprocessor_notices  # noqa: F401
    from app.services.integrations import adapters  # noqa: F401
    from app.services.newsletters import sending, subscriber_import  # noqa: F401
    from app.services.retention import policies  # noqa: F401
    from app.services.rights import dpo, erasure, exports, restrictions  # noqa: F401
    from app.web import register_web
    register_web(app)
    from app.cli import register_commands
    register_commands(app)
    # /admin/jobs lists the scheduler's jobs; handed over here because the web layer
    # may not import the scheduler process (jobs/) that sits above it.
    from jobs import scheduled_jobs
    app.extensions["scheduled_jobs"] = scheduled_jobs
    return app


def _refuse_unsafe_demo(config: dict) -> None:
    """Demo mode publishes caught mail and the demo's TOTP codes: never on the internet."""
    host = (urlsplit(config["BASE_URL"]).hostname or "")
    if config["DEMO_MODE"] and host not in ("127.0.0.1", "localhost", "::1"):
        raise RuntimeError(f"DEMO_MODE is for a laptop: refusing to start with BASE_URL {config['BASE_URL']}")
