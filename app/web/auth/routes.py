"""Sign in (password or email link), the staff second factor, sign out."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup

from app.extensions import limiter
from app.models import User
from app.models.fields import Cipher
from app.models.user import normalise_email
from app.services.accounts import auth
from app.services.demo import DEMO_TOTP_SECRET
from app.services.integrations import catalogue, provider_sign_in
from app.services.platform.errors import AuthError, ServiceError
from app.services.platform.links import external_url
from app.web.access import public
from app.web.auth.forms import EmptyForm, PasswordLoginForm, SignInLinkForm, TotpForm
from app.web.headers import allow_form_target
from app.web.navigation import home_endpoint

bp = Blueprint("auth", __name__)
PENDING = "pending_second_factor"  # session: {"user_id", "method", "since"} between factors
PENDING_LIFETIME_SECONDS = 600


# Sign-in counts attempts per network address (get_remote_address), and per account
# or address tried, whoever is signed in: these limits hold off password guessing.
def _email_key() -> str:
    return "email:" + normalise_email(request.form.get("email", ""))


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never send people to another host after login."""
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") else None


def _finish(user: User, method: str):
    next_url = _safe_next(session.get("next_url"))
    session.clear()  # nothing from before the sign-in carries over
    login_user(user)
    session["signed_in_at"] = int(time.time())  # for pages that want a recent sign-in
    auth.complete_sign_in(user, method, request.remote_addr)
    return redirect(next_url or url_for(home_endpoint(user)), 303)


def _after_first_factor(user: User, method: str):
    if not user.needs_totp:
        return _finish(user, method)
    session[PENDING] = {"user_id": user.id, "method": method, "since": int(time.time())}
    return redirect(url_for("auth.totp" if user.totp_secret else "auth.totp_setup"), 303)


@bp.get("/")
@public
def index():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user)))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit("10/minute;50/hour", methods=["POST"], key_func=get_remote_address)
@limiter.limit("5/minute;20/hour", methods=["POST"], key_func=_email_key)
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for(home_endpoint(current_user)))
    form = PasswordLoginForm()
    if request.method == "GET" and request.args.get("next"):
        session["next_url"] = _safe_next(request.args["next"])
    if form.validate_on_submit():
        try:
            user = auth.authenticate(form.email.data, form.password.data, request.remote_addr)
        except AuthError as e:
            form.password.errors.append(e.message)
            return _login_page(form, e.status)
        return _after_first_factor(user, "password")
    return _login_page(form, 400 if form.errors else 200)


def _login_page(form, status: int):
    providers = provider_sign_in.providers_offered()
    for p in providers:
        allow_form_target(catalogue.provider(p.key).discovery_url)
    return render_template("auth/login.html", form=form, providers=providers,
                           provider_form=EmptyForm()), status


@bp.post("/login/with/<provider>")
@public
@limiter.limit("20/minute", key_func=get_remote_address)
def sign_in_with(provider):
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("auth.login"), 303)
    try:
        return provider_sign_in.begin(provider, external_url("auth.signed_in_with", provider=provider))
    except ServiceError as e:
        flash(e.message, "error")
        return redirect(url_for("auth.login"), 303)


@bp.get("/login/with/<provider>/callback")
@public
@limiter.limit("20/minute", key_func=get_remote_address)
def signed_in_with(provider):
    try:
        user = provider_sign_in.complete(provider, request.remote_addr)
    except ServiceError as e:
        flash(e.message, "error")
        return redirect(url_for("auth.login"), 303)
    return _after_first_factor(user, f"oidc:{provider}")


@bp.route("/login/email", methods=["GET", "POST"])
@public
@limiter.limit("5/minute;30/hour", methods=["POST"], key_func=get_remote_address)
@limiter.limit("3/10minutes", methods=["POST"], key_func=_email_key)
def sign_in_link():
    form = SignInLinkForm()
    if form.validate_on_submit():
        auth.send_sign_in_link(form.email.data, lambda token: external_url("auth.redeem_link", token=token))
        session["link_sent_to"] = normalise_email(form.email.data)
        return redirect(url_for("auth.link_sent"), 303)
    return render_template("auth/sign_in_link.html", form=form), 400 if form.errors else 200


@bp.get("/login/email/sent")
@public
def link_sent():
    return render_template("auth/link_sent.html", email=session.get("link_sent_to"))


@bp.route("/login/email/<token>", methods=["GET", "POST"])
@public
@limiter.limit("20/minute", methods=["POST"], key_func=get_remote_address)
def redeem_link(token):
    # GET only shows a button: mail scanners that prefetch links must not use up
    # the single-use link, so the sign-in itself is a POST.
    form = EmptyForm()
    if form.validate_on_submit():
        try:
            user = auth.redeem_sign_in_link(token)
        except AuthError as e:
            return render_template("auth/sign_in_link.html", form=SignInLinkForm(formdata=None),
                                   link_error=e.message), e.status
        return _after_first_factor(user, "email link")
    return render_template("auth/redeem_link.html", form=form)


def _pending_user() -> tuple[User, str] | None:
    """The person between password and second factor; that state lasts 10 minutes."""
    pending = session.get(PENDING)
    if not pending or time.time() - pending.get("since", 0) > PENDING_LIFETIME_SECONDS:
        session.pop(PENDING, None)
        return None
    user = User.get_or_none(User.id == pending["user_id"])
    return (user, pending["method"]) if user and user.active else None


def _pending_key() -> str:
    pending = session.get(PENDING) or {}
    return f"pending:{pending.get('user_id')}"


@bp.route("/login/two-factor", methods=["GET", "POST"])
@public
@limiter.limit("10/minute;60/hour", methods=["POST"], key_func=get_remote_address)
@limiter.limit("5/minute;20/hour", methods=["POST"], key_func=_pending_key)  # per account, too
def totp():
    pending = _pending_user()
    if pending is None:
        flash("Sign in first, then enter your code.", "info")
        return redirect(url_for("auth.login"))
    user, method = pending
    form = TotpForm()
    if form.validate_on_submit():
        try:
            auth.verify_totp(user, form.code.data)
        except AuthError as e:
            form.code.errors.append(e.message)
            return render_template("auth/totp.html", form=form, demo_code=_demo_code(user)), e.status
        return _finish(user, f"{method} + TOTP")
    return render_template("auth/totp.html", form=form, demo_code=_demo_code(user)), 400 if form.errors else 200


def _demo_code(user: User) -> str | None:
    """In demo mode, accounts on the published demo secret are shown their code, so
    the demo can be tried without an authenticator app. Nobody else ever is."""
    if current_app.config["DEMO_MODE"] and user.totp_secret == DEMO_TOTP_SECRET:
        return auth.unused_code(user)
    return None


@bp.route("/login/two-factor/setup", methods=["GET", "POST"])
@public
@limiter.limit("10/minute;60/hour", methods=["POST"], key_func=get_remote_address)
@limiter.limit("5/minute;20/hour", methods=["POST"], key_func=_pending_key)
def totp_setup():
    pending = _pending_user()
    if pending is None or pending[0].totp_secret:
        return redirect(url_for("auth.login"))
    user, method = pending
    # The candidate secret waits in the session cookie until a code proves it works;
    # encrypted there, since Flask's cookie is signed but readable.
    if "totp_candidate" not in session:
        session["totp_candidate"] = Cipher.get().encrypt(auth.new_totp_secret().encode()).decode()
    secret = Cipher.get().decrypt(session["totp_candidate"].encode()).decode()
    form = TotpForm()
    if form.validate_on_submit():
        try:
            auth.enrol_totp(user, secret, form.code.data)
        except AuthError as e:
            form.code.errors.append(e.message)
        else:
            session.pop("totp_candidate", None)
            flash("Two-factor sign-in is set up.", "success")
            return _finish(user, f"{method} + TOTP")
    uri = auth.totp_uri(user, secret)
    qr = Markup(segno.make(uri, error="m").svg_inline(scale=5, title="QR code for your authenticator app"))
    return render_template("auth/totp_setup.html", form=form, secret=secret, qr=qr), 400 if form.errors else 200


@bp.post("/logout")
@public
def logout():
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("auth.login"), 303)
