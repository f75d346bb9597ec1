"""Who may reach which view. Deny by default: a view without a declared rule is
refused (and a test fails), so no route can be forgotten."""
from __future__ import annotations

import time
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from app.models import Role

PUBLIC = "public"


def public(view):
    """Anyone, signed in or not."""
    view.access = PUBLIC
    return view


def roles(*allowed: Role):
    """Only signed-in users with one of these roles."""
    def mark(view):
        view.access = frozenset(allowed)
        return view
    return mark


def check_access() -> None:
    """before_request: enforce the view's rule."""
    if request.endpoint in (None, "static"):  # 404/405 answered by Flask; static files are public
        return None
    view = current_app.view_functions[request.endpoint]
    rule = getattr(view, "access", None)
    if rule == PUBLIC:
        return None
    if not current_user.is_authenticated:
        if request.headers.get("HX-Request") == "true":
            # A redirect would be followed by htmx and the login page swapped into a
            # fragment; send the whole window there instead, back to the page after.
            here = urlsplit(request.headers.get("HX-Current-URL") or request.path)
            back = here.path + (f"?{here.query}" if here.query else "")
            return "", 401, {"HX-Redirect": url_for("auth.login", next=back)}
        return current_app.login_manager.unauthorized()
    if rule is None or current_user.role_enum not in rule:
        abort(403)
    return None


FRESH_LOGIN_SECONDS = 15 * 60


def fresh_login(view):
    """Before disclosing or correcting data, or erasing it: a sign-in within the last
    15 minutes (GDPR identity checks; CCPA §7060-7062). Otherwise sign in again and
    come back."""
    @wraps(view)
    def guarded(*args, **kwargs):
        signed_in_at = session.get("signed_in_at", 0)
        if time.time() - signed_in_at > FRESH_LOGIN_SECONDS:
            back = request.path if request.method == "GET" else (request.referrer or request.path)
            back = urlsplit(back)._replace(scheme="", netloc="").geturl()
            logout_user()
            session.clear()
            flash("For your protection, sign in again to continue.", "info")
            return redirect(url_for("auth.login", next=back))
        return view(*args, **kwargs)
    return guarded
