"""The consent API for other systems. Authenticated by API key, not by session."""
from __future__ import annotations

from flask import Blueprint, current_app, request

from app.extensions import csrf, limiter
from app.services.accounts.api_keys import authenticate_api_key, consent_status
from app.services.platform.errors import ServiceError
from app.web.access import public
from app.web.api.openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)  # no cookies: a bearer key cannot be forged cross-site


@bp.get("/v1/consent")
@public  # the API key below is the credential
@limiter.limit("600/minute")
def consent():
    authenticate_api_key(request.headers.get("Authorization"))
    email = request.args.get("email", "").strip()
    if not email:
        raise ServiceError("Give the person's address: ?email=name@example.com", 400)
    status = consent_status(email)
    if status is None:
        raise ServiceError("Nobody with that email address is on file.", 404)
    return status


@bp.get("/openapi.json")
@public
def openapi():
    return openapi_document(current_app.config["BASE_URL"])
