"""The database: one peewee proxy, opened per request, SQLite or PostgreSQL by URL."""
from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import weakref
from pathlib import Path

import peewee
from flask import Flask
from peewee_migrate import Router
from playhouse.db_url import connect
from playhouse.pool import PooledSqliteDatabase

from app.config import PROJECT_ROOT

database = peewee.DatabaseProxy()
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
POOL_SIZE = 32  # per process: gunicorn threads plus the scheduler's
BUSY_TIMEOUT_MS = 5000
# The widest integer every column can hold on both backends: ids are PostgreSQL's
# `integer` (peewee's AutoField is SERIAL); SQLite's integers are wider. The web layer
# turns a larger number from outside into "not found" or "bad request", never a query.
MAX_INTEGER = 2**31 - 1
SQLITE_PRAGMAS = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": BUSY_TIMEOUT_MS, "synchronous": "normal"}


class SqliteOneWriterAtATime(PooledSqliteDatabase):
    """SQLite has one writer at a time. Writers queue for it on locks that wake the
    next one the moment it is free, instead of in SQLite's busy handler, which polls
    with sleeps of up to 100 ms: measured, those sleeps were the p99 of concurrent
    preference toggles. Threads of one process queue on a Python lock; processes (the
    gunicorn workers, the scheduler, the CLI) on an flock of a file beside the
    database, which the kernel hands to the next waiter at once. The busy handler
    stays as the last resort for a writer that bypasses both (the sqlite3 shell)."""

    def __init__(self, path, *args, **kwargs):
        super().__init__(path, *args, **kwargs)
        self._writer = threading.Lock()
        self._lock_path = None if path == ":memory:" else f"{path}-writer.lock"
        self._lock_fd, self._lock_pid = None, None
        self._mine = threading.local()

    def begin(self, lock_type=None):
        if not self._writer.acquire(timeout=BUSY_TIMEOUT_MS / 1000):
            raise peewee.OperationalError("database is locked")
        self._mine.held = True
        try:
            self._lock_across_processes()
            super().begin(lock_type)
        except BaseException:
            self._release()
            raise

    def commit(self):
        try:
            return super().commit()
        finally:
            self._release()

    def rollback(self):
        try:
            return super().rollback()
        finally:
            self._release()

    def _lock_across_processes(self):
        if self._lock_path is None:
            return
        if self._lock_pid != os.getpid():
            # Opened per process: an flock belongs to the open file, which a forked
            # child (a gunicorn worker) would otherwise share with its parent.
            self._lock_fd, self._lock_pid = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            weakref.finalize(self, os.close, self._lock_fd)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)  # blocks without holding the GIL

    def _release(self):
        if getattr(self._mine, "held", False):
            self._mine.held = False
            if self._lock_pid == os.getpid():
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self._writer.release()


def open_database(url: str) -> peewee.Database:
    """A peewee database for `url`; relative SQLite paths are relative to the project.

    Pooled (playhouse.pool): each request still checks out one connection and gives it
    back at teardown, but does not pay for connecting, SQLite's pragmas, or the WAL
    checkpoint SQLite runs when its last connection closes."""
    pool = {"max_connections": POOL_SIZE, "stale_timeout": 300, "timeout": 10}
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        path = PROJECT_ROOT / url.removeprefix("sqlite:///")
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    if url.startswith("sqlite:"):
        # IMMEDIATE: every transaction takes the write lock at BEGIN. A deferred one
        # that reads and then writes fails at once ("database is locked") when another
        # writer committed in between; the busy timeout cannot save it.
        return SqliteOneWriterAtATime(url.removeprefix("sqlite:///"), pragmas=SQLITE_PRAGMAS,
                                      lock_type="IMMEDIATE", check_same_thread=False, **pool)
    if url.startswith(("postgresql:", "postgres:")):
        return connect("postgres+pool:" + url.split(":", 1)[1], **pool)
    raise ValueError("DATABASE_URL must start with sqlite:/// or postgresql://")


def transaction():
    """A transaction, or the caller's if one is open. Unlike `database.atomic()`,
    nesting adds no savepoint (two more statements): for steps that never recover
    from their own failure, whose error rolls the caller's whole transaction back."""
    return contextlib.nullcontext() if database.in_transaction() else database.atomic()


def is_postgres(db: peewee.Database | None = None) -> bool:
    return isinstance((db or database).obj, peewee.PostgresqlDatabase)


def refresh_statistics() -> None:
    """Give SQLite's query planner statistics (PostgreSQL's autovacuum keeps its own):
    without them it picks the status index for the DPO queue and sorts, 4x slower at
    100,000 requests. analysis_limit bounds the cost on a large database."""
    if not is_postgres():
        database.execute_sql("PRAGMA analysis_limit=1000")
        database.execute_sql("ANALYZE")


def migration_router(db: peewee.Database | None = None) -> Router:
    return Router(db or database.obj, migrate_dir=MIGRATIONS_DIR, ignore=["basemodel"])


def upgrade(db: peewee.Database | None = None) -> list[str]:
    """Apply every pending migration; return their names."""
    router = migration_router(db)
    pending = router.diff
    router.run()
    return pending


def init_app(app: Flask) -> None:
    database.initialize(open_database(app.config["DATABASE_URL"]))

    # peewee opens the connection at the first query of a request (so static files
    # and an unreachable database cost nothing up front); it is closed here.
    @app.teardown_appcontext
    def _close(exc):
        if not database.is_closed():
            database.close()

