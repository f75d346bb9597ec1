"""One place renders every error: a page, or a fragment for htmx, or JSON for APIs."""
from __future__ import annotations

import peewee
from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from app.services.platform.errors import ServiceError

MESSAGES = {
    400: ("Something in that request was not right", "Go back, check what you entered and try again."),
    403: ("You do not have access to this page", "Your account's role does not include this page. If you think it should, ask an administrator."),
    404: ("Page not found", "The page does not exist, or it is not yours to see."),
    405: ("That action is not allowed here", "Use the buttons and forms on the page."),
    410: ("This link no longer works", "It has expired or was already used."),
    413: ("That upload is too large", "Files may be up to 20 MB."),
    415: ("That kind of request is not accepted here", "Send the form from its page in the browser."),
    429: ("Too many attempts", "For your security we limit how often this can be tried. Wait a minute, then try again."),
    500: ("Something went wrong on our side", "The error was logged. Try again in a moment."),
    503: ("The service is unavailable", "Try again in a moment."),
}


def render_error(status: int, detail: str | None = None):
    title, hint = MESSAGES.get(status, MESSAGES[500 if status >= 500 else 400])
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return {"error": title, "detail": detail or hint, "status": status}, status
    if request.headers.get("HX-Request") == "true":
        # Shown in the page's error region, whatever element the request meant to swap.
        body = render_template("errors/_error.html", status=status, title=title, detail=detail or hint)
        return body, status, {"HX-Retarget": "#htmx-error", "HX-Reswap": "innerHTML"}
    return render_template("errors/error.html", status=status, title=title, detail=detail or hint), status


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_error(400, "This form was open too long or came from elsewhere. Reload the page and submit it again.")

    @app.errorhandler(ServiceError)
    def service_error(e):
        return render_error(e.status, e.message)

    @app.errorhandler(peewee.OperationalError)
    def database_down(e):
        app.logger.error("Database unavailable: %s", e)
        return render_error(503)

    @app.errorhandler(HTTPException)
    def http_error(e):
        return render_error(e.code or 500)

    @app.errorhandler(Exception)
    def unexpected(e):
        app.logger.exception("Unhandled error")
        return render_error(InternalServerError.code)
