"""Heartbeats: how a claim left by a scheduler that died is told from one still at work.

While a job (app.services.platform.jobs) or a scheduled run (schedule) is under way, a
thread of the process that claimed it writes the time into its row every BEAT_EVERY
seconds. A claim silent for STALE_AFTER belongs to a process that died, froze or lost
its network, and any scheduler takes it over, on SQLite and PostgreSQL alike.

On PostgreSQL a claim is also a session advisory lock, which the server drops the moment
a killed process's connection closes, so a kill is noticed at once. A session that
outlives its process (a host cut off without closing its connection) keeps its lock; once
its claim has been silent for STALE_AFTER, the next claimer ends that session
(`end_silent_holder`), which both frees the lock and stops the old process writing."""
from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Callable

import peewee

from app.db import database

BEAT_EVERY = 5  # seconds: several beats fit in STALE_AFTER, so a busy moment is not death
STALE_AFTER = timedelta(seconds=30)
_log = logging.getLogger(__name__)


class Heartbeat:
    """`beat()` every `every` seconds in a thread with a connection of its own, from
    `with` until its end (or at once after `soon()`). `beat` returns False once the row
    is no longer this process's claim (another scheduler took it over): `lost` is then
    set and the beating stops."""

    def __init__(self, beat: Callable[[], bool], name: str, every: float = BEAT_EVERY):
        self._beat, self._every = beat, every
        self.lost, self._wake, self._done = threading.Event(), threading.Event(), False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done = True
        self._wake.set()
        self._thread.join()

    def soon(self) -> None:
        """Beat now rather than at the next interval."""
        self._wake.set()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self._every)
            self._wake.clear()
            if self._done:
                return
            try:
                with database.connection_context():
                    if not self._beat():
                        self.lost.set()
                        return
            except peewee.DatabaseError as e:  # busy or unreachable for a moment: the next beat tries again
                _log.warning("%s: heartbeat not written (%s)", self._thread.name, e)


def end_silent_holder(space: int, key: int) -> bool:
    """PostgreSQL: end the session holding advisory lock (space, key), whose claim has
    been silent for STALE_AFTER; True if one was ended. Allowed for sessions of the same
    role (or with pg_signal_backend); refused otherwise, and then the claim stays stuck
    until the server drops the session itself."""
    try:
        ended = database.execute_sql(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 2 AND pid <> pg_backend_pid()",
            (space & 0xFFFFFFFF, key & 0xFFFFFFFF)).fetchall()  # lock keys show as unsigned oids
    except peewee.DatabaseError as e:
        _log.error("cannot end the silent session holding lock (%s, %s): %s", space, key, e)
        return False
    if ended:
        _log.warning("ended %d silent session(s) holding lock (%s, %s)", len(ended), space, key)
    return any(ok for (ok,) in ended)
