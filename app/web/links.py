"""Absolute links for emails, built from BASE_URL, never from the request's Host
header (which a client controls: a forged Host would put its domain in our mail)."""
from flask import current_app, url_for


def external_url(endpoint: str, **values) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + url_for(endpoint, **values)
