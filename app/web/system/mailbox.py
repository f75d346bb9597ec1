"""/dev/mailbox: the demo's caught mail, so sign-in links work on a laptop.
Registered only when DEMO_MODE is on."""
from __future__ import annotations

import re
from pathlib import Path

from flask import Blueprint, current_app, render_template
from markupsafe import Markup, escape

from app.devmail import read_mailbox
from app.web.access import public

bp = Blueprint("mailbox", __name__, url_prefix="/dev")
URL = re.compile(r"https?://[^\s<>\"]+")


def linkify(text: str) -> Markup:
    """Escape the text, then turn its URLs into links (only http/https)."""
    out, last = [], 0
    for m in URL.finditer(text):
        out += [escape(text[last:m.start()]), Markup('<a href="{0}">{0}</a>').format(m.group())]
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


@bp.get("/mailbox")
@public
def mailbox():
    messages = read_mailbox(Path(current_app.instance_path) / "mailbox")
    return render_template("system/mailbox.html", messages=messages, linkify=linkify)
