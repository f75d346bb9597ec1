"""The Privacy Control Centre: `create_app` builds the whole application."""
from __future__ import annotations

from flask import Flask

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
    )
    Cipher.configure(app.config["DATA_ENCRYPTION_KEY"])
    db.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)

    from app.web import register_web
    register_web(app)
    from app.cli import register_commands
    register_commands(app)
    return app
