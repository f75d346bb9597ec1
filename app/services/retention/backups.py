"""Encrypted database backups, and a restore that never brings an erased person back.

`create_backup` snapshots the database (SQLite's online backup API, or `pg_dump`) into
`<instance>/backups/`, encrypted with a key derived from DATA_ENCRYPTION_KEY. It writes a
temporary file and gives it its `backup-….pccbak` name only once complete and synced, so
a backup killed half-way leaves nothing that looks like a backup (the next one removes
the leftover). The scheduler makes one every night as a job (`queue_backup`), which a
restarted scheduler runs again if it was killed half-way.
`restore_backup` puts one back, then erases again everyone the erasure log says was
erased since the snapshot, before it returns. The log (app.services.rights.erasure_log)
lives outside the database, so no restore rolls it back."""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import secrets
import shutil
import sqlite3
import struct
import subprocess
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO, Callable
from urllib.parse import unquote, urlsplit, urlunsplit

import peewee
import psycopg2
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from playhouse.db_url import connect as connect_url

from app.db import database, is_postgres
from app.models import Job, JobStatus, RequestStatus, User
from app.models.base import utcnow
from app.services.consent.suppression import ERASURE, suppress_hash
from app.services.platform import audit, jobs
from app.services.platform.errors import ServiceError
from app.services.platform.utc import iso_z, naive_utc, parse_iso_z
from app.services.rights import erasure, legal_holds, requests
from app.services.rights.erasure_log import read_erasure_log

KEEP_DAYS = 90
JOB_KIND = "backup"

# The file format, version 1:
#   b"PCCBAK", a version byte, a 2-byte length, then that many bytes of JSON header
#   ({"database", "created_at", "nonce"}: readable without the key, for listing and purging);
#   then chunks, each a 4-byte length and a Fernet token of
#   [8-byte index][1-byte "last chunk"][SHA-256 of the header][up to 1 MiB of the database].
# Written by hand because Fernet has no streaming API and a database may be larger than
# memory. Each token is authenticated, and its index, last-chunk flag and header digest
# make reordered, dropped, spliced or truncated chunks and an edited header fail too.
MAGIC = b"PCCBAK"
FORMAT_VERSION = 1
CHUNK_SIZE = 1 << 20
_MAX_TOKEN = 2 * (1 << 20)  # a 1 MiB chunk's token is about 1.4 MiB
_CHUNK = struct.Struct(">Q?32s")
_KEY_INFO = b"privacy-control-centre backup v1"  # the backup key differs from the data key


class BackupError(ServiceError):
    """A backup that could not be written, read or restored; the database is unchanged."""


@dataclass(frozen=True)
class Backup:
    path: Path
    created_at: datetime  # UTC, naive like every time the app stores
    database: str  # "sqlite", "postgresql", or "unknown" when the header is unreadable
    size: int


@dataclass(frozen=True)
class Restored:
    backup: Path
    created_at: datetime
    logged_since: int  # erasures logged at or after the snapshot
    replayed: int  # people the restore had brought back, erased again


# --- create, list, purge -----------------------------------------------------------------

def create_backup(now: datetime | None = None, each_chunk: Callable[[], None] = lambda: None) -> Path:
    """Write an encrypted snapshot of the database; return its path (mode 0600).
    `each_chunk` is called after every chunk written (the job's progress and safe point)."""
    created = naive_utc(now or utcnow())
    kind = _kind()
    header = _header(kind, created)
    folder = _folder()
    part = _temp(folder, ".part")
    try:
        with open(part, "wb") as out:
            (_dump_postgres if kind == "postgresql" else _dump_sqlite)(out, header, folder, each_chunk)
            out.flush()
            os.fsync(out.fileno())
        return _publish(part, folder, created)
    finally:
        part.unlink(missing_ok=True)


def queue_backup() -> Job:
    """The nightly backup, as a job; the one already waiting or running if there is one."""
    with database.atomic():
        waiting = Job.select().where(Job.kind == JOB_KIND,
                                     Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])).first()
        return waiting or jobs.enqueue(JOB_KIND)


@jobs.handler(JOB_KIND)
def back_up(job: Job, progress: jobs.Progress) -> None:
    """Re-run after a kill: a kill before the file got its name left no backup, so one is
    made now; a kill after it did left this job's backup, which is kept as it is."""
    if any(b.created_at >= naive_utc(job.created_at) and b.database != "unknown" for b in list_backups()):
        return
    create_backup(each_chunk=progress.advance)


def list_backups() -> list[Backup]:
    """Every snapshot in the backups folder, newest first."""
    found = []
    for path in _folder().glob("backup-*.pccbak"):
        try:
            with open(path, "rb") as f:
                meta = _read_header(f)[1]
            created, kind = parse_iso_z(meta["created_at"]), meta["database"]
        except (BackupError, OSError):
            created, kind = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(tzinfo=None), "unknown"
        found.append(Backup(path, created, kind, path.stat().st_size))
    return sorted(found, key=lambda b: (b.created_at, b.path.name), reverse=True)


def purge_old_backups(now: datetime | None = None, keep_days: int = KEEP_DAYS) -> int:
    """Delete snapshots taken more than `keep_days` ago (by their header's time, else the
    file's); return how many."""
    cutoff = naive_utc(now or utcnow()) - timedelta(days=keep_days)
    old = [b for b in list_backups() if b.created_at < cutoff]
    for backup in old:
        backup.path.unlink(missing_ok=True)
    return len(old)


# --- restore ----------------------------------------------------------------------------

def restore_backup(path: Path | str) -> Restored:
    """Replace the database with the snapshot at `path`, with the erasure log applied.
    Fails closed: the snapshot is decrypted and checked, loaded into a staging copy, and
    the erasures made since it was taken are replayed there in one transaction; only
    then does the copy replace the database. Any error, or a kill, before that leaves
    the previous database in place and restores nobody. The app must not be serving
    meanwhile."""
    path = Path(path)
    entries = read_erasure_log()  # an unreadable log stops the restore before it starts
    plain = _temp(_folder(), ".restore")
    try:
        meta = _decrypt_checked(path, plain)
        created = parse_iso_z(meta["created_at"])
        since = [e for e in entries if parse_iso_z(e["at"]) >= created]
        swap_in = _restore_postgres if meta["database"] == "postgresql" else _restore_sqlite
        replayed = swap_in(plain, lambda: replay_erasures(created, since))
    finally:
        _remove_sqlite_file(plain)
    return Restored(path, created, len(since), replayed)


def _decrypt_checked(path: Path, plain: Path) -> dict:
    try:
        with open(path, "rb") as f:
            header, meta = _read_header(f)
            if meta["database"] != _kind():
                raise BackupError(f"{path.name} is a {meta['database']} backup; this database is {_kind()}.")
            with open(plain, "wb") as out:
                _decrypt(f, out, header, path.name)
    except OSError as e:
        raise BackupError(f"Cannot restore {path}: {e.strerror}; nothing was restored.")
    return meta


def _replayed_in(staging: peewee.Database, replay) -> int:
    """Run `replay` against the staging copy, in one transaction: the proxy points at
    the copy meanwhile (nothing else may use the database during a restore)."""
    live = database.obj
    database.initialize(staging)
    try:
        with database.connection_context(), database.atomic():
            return replay()
    finally:
        staging.close()
        database.initialize(live)


def _restore_sqlite(plain: Path, replay) -> int:
    replayed = _replayed_in(peewee.SqliteDatabase(str(plain), pragmas={"foreign_keys": 1}), replay)
    # One step of SQLite's backup API: the live file changes whole, or not at all.
    with closing(sqlite3.connect(plain)) as src, closing(sqlite3.connect(database.obj.database, timeout=30)) as dst:
        src.backup(dst)
    return replayed


def _restore_postgres(plain: Path, replay) -> int:
    """Into a new database beside the live one, replayed there, then loaded into the
    live one by pg_restore in a single transaction: all of it, or nothing."""
    live_name = urlsplit(current_app.config["DATABASE_URL"]).path.lstrip("/")
    staging_name = f"{live_name[:40]}_restore_{secrets.token_hex(4)}"
    replayed_copy = _temp(plain.parent, ".replayed")
    _admin(f'CREATE DATABASE "{staging_name}" TEMPLATE template0')
    try:
        _load_postgres(plain, staging_name)
        staging_url = urlsplit(current_app.config["DATABASE_URL"])._replace(path="/" + staging_name)
        replayed = _replayed_in(connect_url(urlunsplit(staging_url)), replay)
        _dump_plain_postgres(staging_name, replayed_copy)
        _load_postgres(replayed_copy, live_name, clean=True)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{staging_name}" WITH (FORCE)')
        replayed_copy.unlink(missing_ok=True)
    return replayed


def _dump_plain_postgres(dbname: str, out: Path) -> None:
    dsn, env = _libpq(dbname)
    result = subprocess.run([_tool("pg_dump"), "--format=custom", f"--dbname={dsn}", f"--file={out}"],
                            capture_output=True, text=True, env=env)
    if result.returncode:
        raise BackupError("pg_dump of the replayed copy failed; the database is unchanged: "
                          + result.stderr.strip()[-500:])


def _admin(sql: str) -> None:
    """A statement that must run outside any database being replaced (and outside a
    transaction block): on the server's maintenance database."""
    url = urlsplit(current_app.config["DATABASE_URL"])
    conn = psycopg2.connect(urlunsplit(url._replace(path="/postgres")))
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


# --- restoring the erasures a backup predates -------------------------------------------

def replay_erasures(since: datetime, entries: list[dict] | None = None) -> int:
    """Erase again everyone logged as erased at or after `since` whom the database holds
    unerased, and keep each such address suppressed; return how many were erased again.
    Idempotent: an erased account is recognised and left alone."""
    replayed = 0
    for entry in read_erasure_log() if entries is None else entries:
        if parse_iso_z(entry["at"]) < since:
            continue
        suppress_hash(entry["address_hash"], ERASURE)
        user = User.get_or_none(User.id == entry["user_id"])
        if user is None or user.created_at.isoformat() != entry["user_created_at"]:
            continue  # not in this snapshot, or the id now names somebody else
        done = erasure.erase_again(user, [legal_holds.Hold(**h) for h in entry["holds"]])
        if done is None:
            continue
        # Its request, if the snapshot holds it open, is closed: it must not run again.
        open_statuses = [s for s in RequestStatus if s not in
                         (RequestStatus.COMPLETED, RequestStatus.DENIED, RequestStatus.CANCELLED)]
        requests.move(entry["request_id"], open_statuses, RequestStatus.COMPLETED,
                      "Erased again after a backup taken before the erasure was restored.", "system",
                      completed_at=utcnow(), report=json.dumps({"done": done, "notice_to": None}))
        audit.record(audit.Event("backup.erasure_replayed", subject=user,
                                 details={"erased_at": entry["at"], "request_id": entry["request_id"]}))
        replayed += 1
    return replayed


# --- encryption ----------------------------------------------------------------------------

def _fernet() -> MultiFernet:
    """One derived key per configured data key: the first encrypts, all decrypt (rotation)."""
    keys = [k.strip() for k in current_app.config["DATA_ENCRYPTION_KEY"].split(",") if k.strip()]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(
        HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(base64.urlsafe_b64decode(k))))
        for k in keys])


def _header(kind: str, created: datetime) -> bytes:
    body = json.dumps({"database": kind, "created_at": iso_z(created), "nonce": secrets.token_hex(16)}).encode()
    return MAGIC + bytes([FORMAT_VERSION]) + struct.pack(">H", len(body)) + body


def _read_header(f: BinaryIO) -> tuple[bytes, dict]:
    start = f.read(len(MAGIC) + 3)
    if len(start) < len(MAGIC) + 3 or not start.startswith(MAGIC):
        raise BackupError("Not a backup of this app (no PCCBAK header).")
    if start[len(MAGIC)] != FORMAT_VERSION:
        raise BackupError(f"Backup format version {start[len(MAGIC)]} is not supported.")
    body = f.read(struct.unpack(">H", start[-2:])[0])
    try:
        meta = json.loads(body)
        valid = meta["database"] in ("sqlite", "postgresql") and bool(parse_iso_z(meta["created_at"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        valid = False
    if not valid:
        raise BackupError("The backup's header is damaged.")
    return start + body, meta


def _encrypt(source: BinaryIO, out: BinaryIO, header: bytes, each_chunk: Callable[[], None]) -> None:
    """Stream `source` into `out`, one chunk at a time, reading one chunk ahead to know
    which is the last."""
    fernet, bound = _fernet(), hashlib.sha256(header).digest()
    out.write(header)
    chunk = source.read(CHUNK_SIZE)
    for index in itertools.count():
        following = source.read(CHUNK_SIZE)
        token = fernet.encrypt(_CHUNK.pack(index, not following, bound) + chunk)
        out.write(struct.pack(">I", len(token)) + token)
        each_chunk()
        if not following:
            return
        chunk = following


def _decrypt(source: BinaryIO, out: BinaryIO, header: bytes, name: str) -> None:
    fernet, bound = _fernet(), hashlib.sha256(header).digest()
    damaged = BackupError(f"{name} is damaged or was altered; nothing was restored.")
    for index in itertools.count():
        size = source.read(4)
        length = struct.unpack(">I", size)[0] if len(size) == 4 else 0
        token = source.read(length) if 0 < length <= _MAX_TOKEN else b""
        if not token or len(token) < length:
            raise BackupError(f"{name} is cut short or damaged; nothing was restored.")
        try:
            plain = fernet.decrypt(token)
        except InvalidToken:
            raise BackupError(f"{name} is damaged, was altered, or was made with another DATA_ENCRYPTION_KEY; "
                              "nothing was restored.")
        got_index, last, got_bound = _CHUNK.unpack_from(plain)
        if got_index != index or got_bound != bound:
            raise damaged
        out.write(plain[_CHUNK.size:])
        if last:
            if source.read(1):
                raise damaged
            return


# --- the databases ------------------------------------------------------------------------

def _dump_sqlite(out: BinaryIO, header: bytes, folder: Path, each_chunk: Callable[[], None]) -> None:
    snapshot = _temp(folder, ".db")
    try:
        with closing(sqlite3.connect(database.obj.database)) as src, closing(sqlite3.connect(snapshot)) as dst:
            src.backup(dst)  # a consistent copy while the app keeps writing
        with open(snapshot, "rb") as f:
            _encrypt(f, out, header, each_chunk)
    finally:
        _remove_sqlite_file(snapshot)


def _dump_postgres(out: BinaryIO, header: bytes, folder: Path, each_chunk: Callable[[], None]) -> None:
    dsn, env = _libpq()
    with tempfile.TemporaryFile() as stderr:
        dump = subprocess.Popen([_tool("pg_dump"), "--format=custom", f"--dbname={dsn}"],
                                stdout=subprocess.PIPE, stderr=stderr, env=env)
        try:
            _encrypt(dump.stdout, out, header, each_chunk)
        finally:
            dump.stdout.close()
            code = dump.wait()
        if code:
            stderr.seek(0)
            raise BackupError("pg_dump failed: " + stderr.read().decode(errors="replace").strip()[-500:])


def _load_postgres(plain: Path, dbname: str, clean: bool = False) -> None:
    """pg_restore in one transaction: a failure half-way leaves the database as it was."""
    dsn, env = _libpq(dbname)
    replace = ["--clean", "--if-exists"] if clean else []
    result = subprocess.run([_tool("pg_restore"), *replace, "--no-owner", "--single-transaction", "--exit-on-error",
                             f"--dbname={dsn}", str(plain)], capture_output=True, text=True, env=env)
    if result.returncode:
        raise BackupError("pg_restore failed; the database is unchanged: " + result.stderr.strip()[-500:])


def _libpq(dbname: str | None = None) -> tuple[str, dict]:
    """DATABASE_URL (or another database of its server) for pg_dump/pg_restore, its
    password moved into the environment (a command line is readable by every user)."""
    url = urlsplit(current_app.config["DATABASE_URL"])
    if dbname:
        url = url._replace(path="/" + dbname)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = unquote(url.password)
        credentials, _, host = url.netloc.rpartition("@")
        url = url._replace(netloc=f"{credentials.partition(':')[0]}@{host}")
    return urlunsplit(url), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise BackupError(f"{name} not found on PATH: install PostgreSQL's client programs "
                          "(the server's major version or newer).")
    return path


# --- files and times -------------------------------------------------------------------------

def _kind() -> str:
    return "postgresql" if is_postgres() else "sqlite"


def _folder() -> Path:
    folder = Path(current_app.instance_path) / "backups"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _remove_orphans(folder)
    return folder


def _temp(folder: Path, suffix: str) -> Path:
    # The owner's pid in the name: a file whose process is gone was left by a kill.
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".tmp-{os.getpid()}-", suffix=suffix)  # mode 0600
    os.close(fd)
    return Path(name)


def _remove_orphans(folder: Path) -> None:
    """Temporary files of a backup or restore that was killed: a half-written snapshot,
    or a decrypted one (personal data in clear). Every backup command, and the nightly
    purge, removes them first."""
    for path in folder.glob(".tmp-*"):
        pid = path.name.split("-")[1]
        if not pid.isdigit() or not _alive(int(pid)):
            _remove_sqlite_file(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user's
    return True


def _remove_sqlite_file(path: Path) -> None:
    for extra in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{extra}").unlink(missing_ok=True)


def _publish(part: Path, folder: Path, created: datetime) -> Path:
    """Give the finished file its name; a link never replaces an existing backup."""
    stem = f"backup-{created:%Y%m%dT%H%M%SZ}"
    for n in itertools.count(1):
        path = folder / (f"{stem}.pccbak" if n == 1 else f"{stem}-{n}.pccbak")
        try:
            os.link(part, path)
            return path
        except FileExistsError:
            continue
