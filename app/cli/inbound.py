"""The SMTP server for mail that comes back (app.services.newsletters.inbound_mail): the mailbox
provider's unsubscribe mails and the bounces of newsletter issues. The domain's MX
(or a relay rule for `unsubscribe@` and `bounces+*@`) points here.

aiosmtpd speaks SMTP; each message is handled in a worker thread, inside the Flask
app and a database connection, so a slow database never stalls the SMTP dialogue."""
from __future__ import annotations

import asyncio
import logging
import time

from aiosmtpd.controller import Controller
from flask import Flask

from app.db import database
from app.services.newsletters import inbound_mail

log = logging.getLogger(__name__)


class InboundHandler:
    def __init__(self, app: Flask):
        self.app = app

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.app.app_context():
            known = inbound_mail.accepts(address)
        if not known:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        outcomes = await asyncio.get_running_loop().run_in_executor(
            None, self._receive, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
        log.info("Inbound message: %s", ", ".join(outcomes) or "nothing to do")
        return "250 OK"

    def _receive(self, recipients: list[str], content: bytes) -> list[str]:
        with self.app.app_context(), database.connection_context():
            return inbound_mail.receive(recipients, content)


def start(app: Flask, host: str, port: int) -> Controller:
    controller = Controller(InboundHandler(app), hostname=host, port=port)
    controller.start()
    return controller


def serve_forever(app: Flask, host: str, port: int) -> None:
    controller = start(app, host, port)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()
