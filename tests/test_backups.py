"""Encrypted backups (issue 7, item 4): the file names nobody in clear, a damaged file
is refused and changes nothing, old snapshots are purged, and a restored backup older
than an erasure does not bring the erased person back."""
import os
import signal
import struct
import subprocess
import sys
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.db import database
from app.models import REGISTRY, AuditEvent, Connection, PendingRevocation, PrivacyRequest, Profile, Role, User
from app.models.registry import Erasure
from app.services.consent.suppression import is_suppressed
from app.services.demo import seed_demo
from app.services.platform import jobs
from app.services.platform.audit import verify_chain
from app.services.retention import backups
from app.services.rights import erasure
from app.services.rights.personal_data import rows_of
from tests.conftest import TEST_PASSWORD
from tests.support.forms import post_form
from tests.test_erasure import approve_after_cooling_off, ask_for_erasure, scan_for

NOW = datetime(2025, 6, 30, 12, 0, 0)


@contextmanager
def service(app):
    with app.app_context(), database.connection_context():
        yield


@pytest.fixture
def alice(app, client):
    """The demo (Alice has data in every category), Alice signed in on `client`."""
    with service(app):
        seed_demo(Path(app.instance_path))
        user = User.by_email("alice@example.com")
        phone = Profile.get(Profile.user == user.id).phone
    post_form(client, "/login", {"email": user.email, "password": "demo"})
    return user, phone


def approve_alices_erasure(app, client, runner, smtp) -> int:
    post_form(app.test_client(), ask_for_erasure(client, smtp))
    return approve_after_cooling_off(app, runner)


def run_jobs(app) -> None:
    with service(app):
        jobs.run_pending()


def sign_in(app, email: str, password: str) -> int:
    return post_form(app.test_client(), "/login", {"email": email, "password": password}).status_code


def account(user_id: int) -> dict:
    return User.select().where(User.id == user_id).dicts().get()


def exists(email: str) -> bool:
    return User.select().where(User.email == email).exists()


def table_counts() -> dict:
    return {t: database.execute_sql(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in database.get_tables()}


def test_a_backup_is_a_private_file_naming_nobody_in_clear(app, alice):
    _, phone = alice
    with service(app):
        path = backups.create_backup()
    data = path.read_bytes()
    assert path.parent == Path(app.instance_path) / "backups"
    assert path.name.startswith("backup-") and path.suffix == ".pccbak"
    assert path.stat().st_mode & 0o777 == 0o600
    for clear in (b"alice@example.com", b"Alice Martin", phone.encode(), b"SQLite format", b"PGDMP", b"CREATE TABLE"):
        assert clear not in data, clear
    assert os.listdir(path.parent) == [path.name]  # no plaintext temporary file left behind


def test_a_restored_backup_older_than_an_erasure_does_not_bring_the_person_back(
        app, client, runner, alice, smtp, make_user):
    user, phone = alice
    make_user(Role.SUBJECT, email="bob@example.com", name="Bob Before")
    with service(app):
        snapshot = backups.create_backup()
    approve_alices_erasure(app, client, runner, smtp)
    run_jobs(app)
    with service(app):
        erased = account(user.id)
    assert erased["email"].endswith("@erased.invalid")
    log = Path(app.instance_path) / "erasure-log.jsonl"
    assert log.stat().st_mode & 0o777 == 0o600
    make_user(Role.SUBJECT, email="carol@example.com")  # after the snapshot: the restore drops her

    with service(app):
        restored = backups.restore_backup(snapshot)
    assert (restored.logged_since, restored.replayed) == (1, 1)

    with service(app):
        assert not exists("carol@example.com")  # the database really is the snapshot
        assert account(user.id) == erased  # anonymised exactly as by the erasure itself
        assert is_suppressed("Alice@Example.com")
        for entry in REGISTRY.values():
            if entry.erasure is Erasure.DELETE:
                assert rows_of(entry, user).count() == 0, entry.category
        assert verify_chain()[0]
        assert AuditEvent.select().where(AuditEvent.action == "backup.erasure_replayed",
                                         AuditEvent.subject_ref == user.id).count() == 1
        assert User.by_email("bob@example.com").name == "Bob Before"
    assert scan_for(app, ["alice@example.com", "Alice Martin", phone]) == []
    assert sign_in(app, "alice@example.com", "demo") == 401
    assert sign_in(app, "bob@example.com", TEST_PASSWORD) == 303

    with service(app):  # replaying again changes nothing more
        before = table_counts()
        assert backups.replay_erasures(restored.created_at) == 0
        assert table_counts() == before


def test_a_request_the_backup_holds_open_is_closed_and_the_person_not_mailed_again(app, client, runner, alice, smtp):
    user, _ = alice
    request_id = approve_alices_erasure(app, client, runner, smtp)
    with service(app):
        snapshot = backups.create_backup()  # holds the approved request and its queued job
    run_jobs(app)
    assert smtp.wait_for("alice@example.com")["Subject"] == "Your data has been erased"
    with service(app):
        backups.restore_backup(snapshot)
        assert PrivacyRequest.get_by_id(request_id).status == "completed"
        assert account(user.id)["email"].endswith("@erased.invalid")
    smtp.clear()
    run_jobs(app)  # the snapshot's queued erasure job finds nothing left to do
    assert [m["Subject"] for m in smtp.messages] == []
    with service(app):
        assert PrivacyRequest.get_by_id(request_id).status == "completed"


def chunk_offsets(data: bytes) -> list[int]:
    """Where each encrypted chunk starts (after the header)."""
    at = len(backups.MAGIC) + 3 + struct.unpack(">H", data[len(backups.MAGIC) + 1:len(backups.MAGIC) + 3])[0]
    offsets = []
    while at < len(data):
        offsets.append(at)
        at += 4 + struct.unpack(">I", data[at:at + 4])[0]
    return offsets


def test_a_damaged_or_altered_backup_is_refused_and_changes_nothing(app, alice, make_user, monkeypatch, tmp_path):
    monkeypatch.setattr(backups, "CHUNK_SIZE", 4096)  # many chunks, to drop and reorder them
    with service(app):
        good = backups.create_backup()
    make_user(Role.SUBJECT, email="carol@example.com")  # a restore that ran would drop her
    data = good.read_bytes()
    chunks = chunk_offsets(data)
    assert len(chunks) > 3
    a, b, c = chunks[1], chunks[2], chunks[3]
    year = data.index(b'"created_at": "') + len(b'"created_at": "') + 3
    variants = {
        "flipped byte": data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 1]) + data[len(data) // 2 + 1:],
        "truncated": data[:-10],
        "last chunk dropped": data[:chunks[-1]],
        "chunks swapped": data[:a] + data[b:c] + data[a:b] + data[c:],
        "chunk dropped": data[:a] + data[b:],
        "header edited": data[:year] + bytes([data[year] ^ 1]) + data[year + 1:],  # the snapshot's year
        "garbage appended": data + b"x",
        "not a backup": b"hello",
    }
    for name, damaged in variants.items():
        path = tmp_path / f"{name.replace(' ', '-')}.pccbak"
        path.write_bytes(damaged)
        with service(app), pytest.raises(backups.BackupError, match="damaged|cut short|Not a backup"):
            backups.restore_backup(path)
        with service(app):
            assert exists("carol@example.com"), name
    monkeypatch.setitem(app.config, "DATA_ENCRYPTION_KEY", Fernet.generate_key().decode())
    with service(app), pytest.raises(backups.BackupError, match="another DATA_ENCRYPTION_KEY"):
        backups.restore_backup(good)
    monkeypatch.undo()
    assert os.listdir(good.parent) == [good.name]  # no decrypted leftovers
    with service(app):
        backups.restore_backup(good)  # the intact file, by contrast, restores
        assert not exists("carol@example.com")


def test_purge_removes_only_snapshots_older_than_90_days(app, alice):
    with service(app):
        old = backups.create_backup(NOW - timedelta(days=91))
        recent = backups.create_backup(NOW - timedelta(days=89))
        today = backups.create_backup(NOW)
    folder = old.parent
    unreadable_old, unreadable_new = folder / "backup-old-junk.pccbak", folder / "backup-new-junk.pccbak"
    for junk in (unreadable_old, unreadable_new):
        junk.write_bytes(b"not a backup")
    stamp = (NOW - timedelta(days=100)).timestamp()
    os.utime(unreadable_old, (stamp, stamp))  # no header: judged by the file's time
    other = folder / "notes.txt"
    other.write_text("kept")
    with service(app):
        assert [b.path for b in backups.list_backups()][1:4] == [today, recent, old]
        assert backups.purge_old_backups(NOW) == 2
        assert backups.purge_old_backups(NOW) == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [recent.name, today.name, unreadable_new.name, other.name])


def test_the_backup_commands(app, runner, alice, make_user):
    assert runner.invoke(args=["backup", "list"]).output == "No backup yet.\n"
    created = runner.invoke(args=["backup", "create"])
    assert created.exit_code == 0, created.output
    assert created.output.startswith("Backup written: ")
    [path] = (Path(app.instance_path) / "backups").glob("*.pccbak")
    listed = runner.invoke(args=["backup", "list"])
    assert str(path) in listed.output and ("postgresql" if "postgresql" in app.config["DATABASE_URL"]
                                           else "sqlite") in listed.output
    make_user(Role.SUBJECT, email="carol@example.com")

    declined = runner.invoke(args=["backup", "restore", str(path)], input="n\n")
    assert declined.exit_code == 1 and "Replace the whole database" in declined.output
    with service(app):
        assert exists("carol@example.com")

    damaged = path.with_name("damaged.pccbak")
    damaged.write_bytes(path.read_bytes()[:-1])
    refused = runner.invoke(args=["backup", "restore", "--yes", str(damaged)])
    assert refused.exit_code == 1 and "nothing was restored" in refused.output
    with service(app):
        assert exists("carol@example.com")

    restored = runner.invoke(args=["backup", "restore", "--yes", str(path)])
    assert restored.exit_code == 0, restored.output
    assert "Restored the backup of" in restored.output and "0 person(s) erased again" in restored.output
    with service(app):
        assert not exists("carol@example.com") and exists("alice@example.com")


# --- a restore fails closed, and needs no other system -----------------------------------

def erased_after_snapshot(app, client, runner, smtp, alice) -> Path:
    """A snapshot holding Alice, then Alice erased, then Carol signing up."""
    with service(app):
        snapshot = backups.create_backup()
    approve_alices_erasure(app, client, runner, smtp)
    run_jobs(app)
    return snapshot


def nothing_of_alice_is_back(app, alice) -> None:
    user, phone = alice
    with service(app):
        assert account(user.id)["email"].endswith("@erased.invalid")
        assert not Connection.select().where(Connection.user == user.id).exists()
    assert scan_for(app, ["alice@example.com", "Alice Martin", phone, "1//alice-refresh"]) == []
    assert sign_in(app, "alice@example.com", "demo") == 401


def test_a_restore_without_the_provider_settings_erases_again_and_queues_the_revocation(
        app, client, runner, alice, smtp, make_user):
    user, _ = alice
    with service(app):  # connected while Google was configured; this machine has no client settings
        Connection.create(user=user.id, integration="google_contacts", access_token="ya29.alice",
                          refresh_token="1//alice-refresh")
    snapshot = erased_after_snapshot(app, client, runner, smtp, alice)
    make_user(Role.SUBJECT, email="carol@example.com")
    with service(app):
        restored = backups.restore_backup(snapshot)
    assert restored.replayed == 1
    nothing_of_alice_is_back(app, alice)
    with service(app):
        assert not exists("carol@example.com")
        [pending] = PendingRevocation.select()
        assert (pending.provider, pending.token) == ("google", "1//alice-refresh")
    run_jobs(app)  # tried, and kept for later: no client is configured for Google here
    with service(app):
        assert PendingRevocation.get_by_id(pending.id).attempts >= 1


def test_a_restore_with_the_provider_settings_revokes_the_grant_the_snapshot_held(
        app, client, runner, alice, smtp, provider):
    from tests.test_integrations import connect
    user, _ = alice
    provider.add_user(user.email, "Alice")
    connect(client, provider, user.email)
    run_jobs(app)
    refresh = provider.issued_refresh_tokens[-1]
    snapshot = erased_after_snapshot(app, client, runner, smtp, alice)
    assert [r["token"] for r in provider.revoked] == [refresh]
    with service(app):
        backups.restore_backup(snapshot)
    run_jobs(app)
    assert [r["token"] for r in provider.revoked] == [refresh, refresh]  # the snapshot's copy too
    with service(app):
        assert not PendingRevocation.select().exists()
    nothing_of_alice_is_back(app, alice)


def test_an_error_during_the_replay_leaves_the_previous_database_and_restores_nobody(
        app, client, runner, alice, smtp, make_user, monkeypatch):
    snapshot = erased_after_snapshot(app, client, runner, smtp, alice)
    make_user(Role.SUBJECT, email="carol@example.com")  # only in the previous database
    with service(app):
        before = table_counts()

    def failing(user, holds):
        raise RuntimeError("the disk filled up")
    monkeypatch.setattr(erasure, "erase_again", failing)
    with service(app), pytest.raises(RuntimeError):
        backups.restore_backup(snapshot)
    with service(app):
        assert exists("carol@example.com") and table_counts() == before
    nothing_of_alice_is_back(app, alice)


KILLED_RESTORE = """
import os, signal, sys
from app import create_app
from app.db import database
from app.services.retention import backups
from app.services.rights import erasure

erase_again = erasure.erase_again
def erase_then_die(user, holds):
    erase_again(user, holds)
    os.kill(os.getpid(), signal.SIGKILL)  # half-way: erased in the copy, nothing swapped in
erasure.erase_again = erase_then_die
app = create_app({"DATABASE_URL": sys.argv[1], "INSTANCE_PATH": sys.argv[2], "SECRET_KEY": sys.argv[3]})
with app.app_context(), database.connection_context():
    backups.restore_backup(sys.argv[4])
"""


def test_a_restore_killed_half_way_leaves_the_previous_database(app, client, runner, alice, smtp, make_user):
    snapshot = erased_after_snapshot(app, client, runner, smtp, alice)
    make_user(Role.SUBJECT, email="carol@example.com")
    with service(app):
        before = table_counts()
    database.close_all()
    killed = subprocess.run([sys.executable, "-c", KILLED_RESTORE, app.config["DATABASE_URL"], app.instance_path,
                             app.config["SECRET_KEY"], str(snapshot)], capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = list((Path(app.instance_path) / "backups").glob(".tmp-*"))
    assert left  # the killed process's decrypted copy: removed by the next backup command
    with service(app):
        assert exists("carol@example.com") and table_counts() == before
        backups.list_backups()
    assert not any(path.exists() for path in left)
    nothing_of_alice_is_back(app, alice)
    with service(app):  # and the same backup then restores
        assert backups.restore_backup(snapshot).replayed == 1
        assert not exists("carol@example.com")
    nothing_of_alice_is_back(app, alice)
