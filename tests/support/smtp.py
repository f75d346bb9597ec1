"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


class _Collector:
    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.refused: set[str] = set()
        self.held: set[str] = set()
        self.holding: set[str] = set()  # held addresses a client is waiting on now
        self.arrived = threading.Condition()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return "550 5.1.1 Mailbox unavailable"
        while address.lower() in self.held:  # a slow server: the message is not taken yet
            with self.arrived:
                self.holding.add(address.lower())
                self.arrived.notify_all()
            await asyncio.sleep(0.02)
        self.holding.discard(address.lower())
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        msg.envelope_from = envelope.mail_from  # the return path, where bounces would go
        with self.arrived:
            self.messages.append(msg)
            self.arrived.notify_all()
        return "250 OK"


class SmtpServer:
    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._collector = _Collector()
        self._controller = Controller(self._collector, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self._collector.messages

    def start(self):
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()

    def clear(self):
        self._collector.messages.clear()
        self._collector.refused.clear()
        self._collector.held.clear()

    def hold(self, address: str) -> None:
        """Keep a client that sends to `address` waiting at RCPT TO, before the message is
        taken, until `release`: the moment a sender can die with the mail not sent."""
        self._collector.held.add(address.lower())

    def release(self, address: str) -> None:
        self._collector.held.discard(address.lower())

    def wait_until_holding(self, address: str, timeout: float = 60.0) -> None:
        """Until a client is waiting at RCPT TO `address` (woken by it, not polling)."""
        with self._collector.arrived:
            if not self._collector.arrived.wait_for(lambda: address.lower() in self._collector.holding, timeout):
                raise AssertionError(f"nobody sent to {address} within {timeout}s")

    def refuse(self, address: str) -> None:
        """Answer RCPT TO `address` with 550, as a server does for an unknown mailbox."""
        self._collector.refused.add(address.lower())

    def wait_for(self, to: str, timeout: float = 120.0) -> EmailMessage:
        """The newest message to `to`, waiting for its arrival (woken by it, not polling).
        The timeout only keeps a mail that never comes from hanging the suite."""
        deadline = time.monotonic() + timeout
        with self._collector.arrived:
            while True:
                found = [m for m in self.messages if to.lower() in m["To"].lower()]
                if found:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no email to {to} within {timeout}s; got {[m['To'] for m in self.messages]}")
                self._collector.arrived.wait(left)


def text_of(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()
