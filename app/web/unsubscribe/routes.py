"""/u/<token>: the unsubscribe link of every newsletter email (List-Unsubscribe and
the footer). POST with `List-Unsubscribe=One-Click` is the mailbox provider's
one-click (RFC 8058); GET shows a page where the person confirms. The rules are in
app.services.newsletters.unsubscribes."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from app.extensions import csrf, limiter
from app.services.newsletters import unsubscribes
from app.services.platform.errors import ServiceError
from app.web.access import public

bp = Blueprint("unsubscribe", __name__)
ONE_CLICK_BODY = ("List-Unsubscribe", "One-Click")


def _token_key() -> str:
    return request.view_args.get("token", "")


@bp.get("/u/<token>")
@public  # the signed token is the credential; no login, so it works from any mailbox
@limiter.limit("60/minute")
def page(token):
    # Never unsubscribes: link scanners and previews fetch links nobody clicked.
    try:
        target = unsubscribes.target_for(token)
    except ServiceError as e:
        return render_template("unsubscribe/invalid.html", message=e.message), e.status
    return render_template("unsubscribe/page.html", target=target, token=token, reasons=unsubscribes.REASONS,
                           subscribed=unsubscribes.is_subscribed(target), error=None)


@bp.post("/u/<token>")
@public
# No CSRF token, for both ways in. The one-click POST comes from the mailbox provider
# with no cookie, so it can carry none (RFC 8058). The page's form needs none either:
# CSRF abuses a session's ambient authority, and this endpoint has none to abuse;
# its only authority is the signed token in the URL, which a forging site would need
# to know, and anyone who knows it may unsubscribe by the one-click POST anyway.
@csrf.exempt
# Mailbox providers post from a few addresses on behalf of many people, so the limit
# per address is generous; the tight one is per link.
@limiter.limit("300/minute")
@limiter.limit("10/minute", key_func=_token_key)
def submit(token):
    if request.form.get(ONE_CLICK_BODY[0]) == ONE_CLICK_BODY[1]:
        return _one_click(token)
    return _confirm(token)


def _one_click(token: str):
    """200 with a tiny body, never a redirect: providers do not follow one."""
    text = {"Content-Type": "text/plain; charset=utf-8"}
    try:
        unsubscribes.one_click(token, request.remote_addr, request.user_agent.string)
    except ServiceError as e:
        return e.message + "\n", e.status, text
    return "You are unsubscribed.\n", 200, text


def _confirm(token: str):
    try:
        target = unsubscribes.target_for(token)
        scope = unsubscribes.Scope(request.form.get("scope", ""))
    except ServiceError as e:
        return render_template("unsubscribe/invalid.html", message=e.message), e.status
    except ValueError:
        return render_template("unsubscribe/page.html", target=target, token=token, reasons=unsubscribes.REASONS,
                               subscribed=unsubscribes.is_subscribed(target),
                               error="Choose what to unsubscribe from."), 400
    unsubscribes.confirm_on_page(token, scope, request.form.get("reason", ""), request.remote_addr,
                                 request.user_agent.string)
    flash(_done_message(target, scope), "success")
    return redirect(url_for("unsubscribe.page", token=token), 303)


def _done_message(target: unsubscribes.Target, scope: unsubscribes.Scope) -> str:
    if scope is unsubscribes.Scope.ALL_MARKETING:
        return "Done: you will receive no more marketing emails from us."
    return f"Done: you are unsubscribed from {target.newsletter.purpose.name}."
