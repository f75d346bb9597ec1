"""/preferences: one switch per purpose, saved at once (htmx) or by plain POST.
/p/<token>: the same page from an email's signed "Manage preferences" link."""
from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import limiter
from app.models import ConsentSource, Role
from app.services.consent import devices, ledger
from app.services.consent.preference_links import person_for_token, send_fresh_link
from app.services.consent.receipts import consent_receipt
from app.services.platform.errors import ServiceError
from app.services.platform.links import external_url
from app.web.access import public, roles
from app.web.limits import link_holder
from app.web.preferences.context import PreferenceContext
from app.web.preferences.forms import FreshLinkForm

bp = Blueprint("preferences", __name__)


def gpc_requested() -> bool:
    return request.headers.get("Sec-GPC", "").strip() == "1"


@bp.before_app_request
def honour_gpc_for_signed_in_people():
    """Global Privacy Control from a signed-in person's browser: opt out of sale and
    sharing at once, with nothing more asked (CCPA §7025)."""
    if (gpc_requested() and request.endpoint != "static" and current_user.is_authenticated
            and current_user.role_enum is Role.SUBJECT):
        ctx = _me()
        ledger.honour_gpc(ctx.person, ctx.origin(ConsentSource.GPC))


# --- shared by both ways in -------------------------------------------------------

def _page(ctx: PreferenceContext):
    if gpc_requested() and ctx.link_token:  # signed-in people: done by the hook above
        ledger.honour_gpc(ctx.person, ctx.origin(ConsentSource.GPC))
    choices = ledger.choices_for(ctx.person)
    return render_template(
        "preferences/page.html", ctx=ctx, choices=choices, gpc=gpc_requested(),
        reconfirm=[c for c in choices if c.needs_reconfirmation],
        devices=devices.push_devices(ctx.person) if not ctx.link_token else [])


def _toggle(ctx: PreferenceContext, key: str):
    purpose = ledger.purpose_by_key(key)
    choice = ledger.toggle(ctx.person, purpose, request.form.get("granted") == "1", ctx.origin())
    message = f"{purpose.name} is now {'on' if choice.granted else 'off'}. Saved."
    cascaded = key == ledger.MARKETING_EMAIL and not choice.granted
    if cascaded:
        message += " Newsletters come by email, so they are off too."
    if request.htmx:
        # Marketing email off also switched the newsletters off: their rows follow.
        newsletters = ledger.newsletter_choices(ctx.person) if cascaded else []
        return render_template("preferences/_toggled.html", ctx=ctx, choice=choice, status=message,
                               newsletters=newsletters)
    flash(message, "success")
    return redirect(ctx.url("page") + f"#purpose-{key}", 303)


def _stop_marketing(ctx: PreferenceContext):
    withdrawn = ledger.stop_all_marketing(ctx.person, ctx.origin())
    message = (f"All marketing is off ({len(withdrawn)} switched off). Saved." if withdrawn
               else "All marketing was already off.")
    if request.htmx:
        return render_template("preferences/_purpose_list.html", ctx=ctx,
                               choices=ledger.choices_for(ctx.person), status=message)
    flash(message, "success")
    return redirect(ctx.url("page"), 303)


# --- signed in ---------------------------------------------------------------------

def _me() -> PreferenceContext:
    return PreferenceContext(current_user._get_current_object())


@bp.get("/preferences")
@roles(Role.SUBJECT)
def page():
    return _page(_me())


@bp.post("/preferences/<key>")
@roles(Role.SUBJECT)
def toggle(key):
    return _toggle(_me(), key)


@bp.post("/preferences/stop-marketing")
@roles(Role.SUBJECT)
def stop_marketing():
    return _stop_marketing(_me())


@bp.post("/preferences/devices/<int:device_id>")
@roles(Role.SUBJECT)
def device_push(device_id):
    enabled = request.form.get("enabled") == "1"
    device = devices.set_device_push(current_user, device_id, enabled, request.remote_addr)
    message = f"Push notifications on {device.name} are now {'on' if enabled else 'off'}. Saved."
    if request.htmx:
        return render_template("preferences/_device_row.html", device=device, status=message)
    flash(message, "success")
    return redirect(url_for("preferences.page") + "#devices", 303)


@bp.post("/preferences/devices")
@roles(Role.SUBJECT)
def all_devices_push():
    enabled = request.form.get("enabled") == "1"
    count = devices.set_all_push(current_user, enabled, request.remote_addr)
    message = f"Push notifications are now {'on' if enabled else 'off'} on all {count} devices. Saved."
    if request.htmx:
        return render_template("preferences/_devices.html", devices=devices.push_devices(current_user),
                               status=message)
    flash(message, "success")
    return redirect(url_for("preferences.page") + "#devices", 303)


@bp.get("/preferences/history")
@roles(Role.SUBJECT)
def history():
    return render_template("preferences/history.html", events=ledger.history(current_user))


@bp.get("/preferences/receipt.json")
@roles(Role.SUBJECT)
def receipt():
    body = consent_receipt(current_user, external_url("preferences.page"))
    return Response(json.dumps(body, indent=2, ensure_ascii=False), mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="consent-receipt.json"'})


# --- by signed link ----------------------------------------------------------------

def _by_link(token: str, action, *args):
    try:
        ctx = PreferenceContext(person_for_token(token), token)
    except ServiceError as e:
        return render_template("preferences/link_invalid.html", message=e.message,
                               form=FreshLinkForm(formdata=None)), e.status
    return action(ctx, *args)


@bp.get("/p/<token>")
@public
def link_page(token):
    return _by_link(token, _page)


def _link_person(token: str) -> str:
    return f"person:{person_for_token(token).id}"


@bp.post("/p/<token>/purposes/<key>")
@public
@limiter.limit("60/minute", key_func=link_holder(_link_person))
def link_toggle(token, key):
    return _by_link(token, _toggle, key)


@bp.post("/p/<token>/stop-marketing")
@public
@limiter.limit("20/minute", key_func=link_holder(_link_person))
def link_stop_marketing(token):
    return _by_link(token, _stop_marketing)


@bp.route("/preferences/new-link", methods=["GET", "POST"])
@public
@limiter.limit("5/minute;20/hour", methods=["POST"])
def fresh_link():
    form = FreshLinkForm()
    if form.validate_on_submit():
        send_fresh_link(form.email.data, lambda token: external_url("preferences.link_page", token=token))
        flash("If that address is on file, a fresh link is on its way. It works for 90 days.", "success")
        return redirect(url_for("preferences.fresh_link"), 303)
    return render_template("preferences/fresh_link.html", form=form), 400 if form.errors else 200
