"""Absolute links for emails, built from BASE_URL, never from the request's Host
header (which a client controls: a forged Host would put its domain in our mail).
Works in a request and in the scheduler process alike."""
from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    if has_request_context():
        path = url_for(endpoint, **values)
    else:
        with current_app.test_request_context():
            path = url_for(endpoint, **values)
    return current_app.config["BASE_URL"].rstrip("/") + path
