"""Outgoing email over SMTP. Bodies are templates: email/<name>.txt and .html."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template

from app.services.platform.errors import MailError

SCHEMES = {"smtp": (smtplib.SMTP, False), "smtp+starttls": (smtplib.SMTP, True), "smtps": (smtplib.SMTP_SSL, False)}


def build_message(to: str, subject: str, template: str, attachments=(), **context) -> EmailMessage:
    """`attachments`: (file name, bytes, MIME type) triples."""
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain="privacy.invalid")
    msg.set_content(render_template(f"email/{template}.txt", **context))
    msg.add_alternative(render_template(f"email/{template}.html", **context), subtype="html")
    for name, data, mimetype in attachments:
        maintype, subtype = mimetype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def deliver(msg: EmailMessage, mail_url: str | None = None, sender: str | None = None) -> None:
    """`sender`: the envelope sender (where bounces go), if not the From address."""
    url = urlsplit(mail_url or current_app.config["MAIL_URL"])
    if url.scheme not in SCHEMES:
        raise ValueError(f"MAIL_URL scheme must be one of {', '.join(SCHEMES)}")
    smtp_class, starttls = SCHEMES[url.scheme]
    try:
        with smtp_class(url.hostname, url.port or (465 if url.scheme == "smtps" else 25), timeout=10) as smtp:
            if starttls:
                smtp.starttls()
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(msg, from_addr=sender)
    except (smtplib.SMTPException, OSError) as e:
        current_app.logger.error("Mail %s not sent: %s", msg["Message-ID"], e)  # no address in logs
        raise MailError("We could not send the email just now. Nothing was lost: try again in a few minutes.") from e


def send_email(to: str, subject: str, template: str, attachments=(), **context) -> None:
    deliver(build_message(to, subject, template, attachments, **context))
