"""Outgoing email over SMTP. Bodies are templates: email/<name>.txt and .html.

Mail that matters goes through the outbox (app.services.platform.outbox), which
builds its message here and delivers it with `deliver_bytes`; newsletter issues are
built and delivered here directly (app.services.newsletters.sending)."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
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
    _session(lambda smtp: smtp.send_message(msg, from_addr=sender), msg["Message-ID"], mail_url)


def deliver_bytes(data: bytes, to: str, message_id: str) -> None:
    """Send an already built message exactly as it is (the outbox's: the same bytes,
    so the same Message-ID, on every attempt). The envelope sender is MAIL_FROM's address."""
    sender = parseaddr(current_app.config["MAIL_FROM"])[1]
    _session(lambda smtp: smtp.sendmail(sender, [to], data), message_id)


def _session(send, message_id: str, mail_url: str | None = None) -> None:
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
            send(smtp)
    except (smtplib.SMTPException, OSError) as e:
        current_app.logger.error("Mail %s not sent: %s", message_id, error_label(e))  # no address in logs
        raise MailError("We could not send the email just now. Nothing was lost: try again in a few minutes.") from e


def refused_for_good(error: MailError) -> bool:
    """The server answered 5xx to the recipient or the message (RFC 5321's permanent
    failures: no such mailbox, message rejected): trying again will not help. A server
    that is down, busy (4xx) or refuses our own login or sender is worth retrying."""
    cause = error.__cause__
    if isinstance(cause, smtplib.SMTPRecipientsRefused):
        return bool(cause.recipients) and all(code >= 500 for code, _ in cause.recipients.values())
    return isinstance(cause, smtplib.SMTPDataError) and cause.smtp_code >= 500


def error_label(error: BaseException) -> str:
    """What went wrong, for logs and staff: the error's class and SMTP code, never an address."""
    error = error.__cause__ if isinstance(error, MailError) and error.__cause__ else error
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in error.recipients.values()})
        return f"{type(error).__name__} {'/'.join(map(str, codes))}".strip()
    code = getattr(error, "smtp_code", None)
    return f"{type(error).__name__} {code}" if code else type(error).__name__
