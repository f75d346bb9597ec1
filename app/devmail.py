"""The demo's catch-all SMTP server: aiosmtpd accepts every message and files it in a
Maildir under the instance folder, where /dev/mailbox reads it. Files, not memory, so
the web workers and this process share nothing but a folder."""
from __future__ import annotations

import mailbox
import time
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, path: Path):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        box = mailbox.Maildir(self.path, create=True)
        box.add(mailbox.MaildirMessage(envelope.content))
        return "250 Message accepted for delivery"


def serve_forever(path: Path, host: str, port: int) -> None:
    controller = Controller(MaildirHandler(path), hostname=host, port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def read_mailbox(path: Path) -> list[dict]:
    """Caught messages, newest first, with their plain-text body."""
    if not path.exists():
        return []
    box = mailbox.Maildir(path, create=False)
    messages = []
    for key, raw in box.iteritems():
        msg = message_from_bytes(raw.as_bytes(), policy=policy.default)
        body = msg.get_body(preferencelist=("plain",))
        messages.append({"key": key, "to": msg["To"], "subject": msg["Subject"], "date": msg["Date"],
                         "received": raw.get_date(), "text": body.get_content() if body else ""})
    return sorted(messages, key=lambda m: m["received"], reverse=True)
