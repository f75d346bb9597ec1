"""The targets of tracked links and the open pixel in newsletter emails. They exist
in a message only for people who consented to that tracking (app.services.
newsletter_sending decides); here an event is recorded only while that consent is
still on."""
from __future__ import annotations

import base64

from flask import Blueprint, Response, redirect

from app.extensions import limiter
from app.services.newsletters import sending
from app.web.access import public

bp = Blueprint("tracking", __name__, url_prefix="/t")
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")  # 1x1 transparent GIF


@bp.get("/c/<token>")
@public  # followed from a mail client, signed in or not
@limiter.limit("300/minute")  # mail security scanners follow links from few addresses
def clicked(token):
    return redirect(sending.record_click(token), 302)


@bp.get("/o/<token>")
@public
@limiter.limit("300/minute")  # image proxies (e.g. Gmail's) fetch for many people
def opened(token):
    sending.record_open(token)
    return Response(PIXEL, mimetype="image/gif", headers={"Cache-Control": "no-store"})
