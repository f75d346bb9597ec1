"""The demo's mail catcher, and the scheduler's job."""
import socket
from datetime import timedelta

import pytest

from app import create_app
from app.db import database
from app.devmail import MaildirHandler, read_mailbox
from app.models import SignInLink
from app.models.base import utcnow
from app.services.platform.mail import build_message, deliver
from jobs import build_scheduler, purge_sign_in_links, run_pending_jobs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_caught_mail_shows_at_dev_mailbox_in_demo_mode(database_url, tmp_path):
    from aiosmtpd.controller import Controller
    port = free_port()
    catcher = Controller(MaildirHandler(tmp_path / "mailbox"), hostname="127.0.0.1", port=port)
    catcher.start()
    try:
        app = create_app({"TESTING": True, "DEMO_MODE": "1", "DATABASE_URL": database_url,
                          "INSTANCE_PATH": str(tmp_path), "MAIL_URL": f"smtp://127.0.0.1:{port}"})
        with app.test_request_context():
            deliver(build_message("someone@example.com", "Your sign-in link", "sign_in_link",
                                  link="http://127.0.0.1:5000/login/email/abc", minutes=15))
        page = app.test_client().get("/dev/mailbox").text
    finally:
        catcher.stop()
    assert "Your sign-in link" in page and "someone@example.com" in page
    assert '<a href="http://127.0.0.1:5000/login/email/abc">' in page  # clickable
    assert len(read_mailbox(tmp_path / "mailbox")) == 1


def test_mailbox_escapes_what_it_shows(tmp_path):
    import mailbox
    from email.message import EmailMessage
    msg = EmailMessage()
    msg["To"], msg["Subject"] = "x@example.com", "hi"
    msg.set_content('<script>alert(1)</script> see https://example.com/"onmouseover=x')
    mailbox.Maildir(tmp_path / "mb", create=True).add(msg)
    from app.web.system.mailbox import linkify
    html = str(linkify(read_mailbox(tmp_path / "mb")[0]["text"]))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="https://example.com/"' in html


def test_the_purge_job_deletes_only_links_past_their_retention(app):
    with database.connection_context():
        now = utcnow()
        SignInLink.create(nonce="old", email="a@example.com", expires_at=now - timedelta(days=2))
        SignInLink.create(nonce="recent", email="b@example.com", expires_at=now - timedelta(hours=1))
    assert purge_sign_in_links.run(app) == 1
    with database.connection_context():
        assert [link.nonce for link in SignInLink.select()] == ["recent"]


def test_the_scheduler_registers_each_job_once(app):
    scheduler = build_scheduler(app)
    jobs = scheduler.get_jobs()
    assert [j.id for j in jobs] == ["run_pending_jobs", "deliver_outbox", "end_cooling_off", "purge_sign_in_links",
                                    "purge_expired_exports", "refresh_statistics", "expire_newsletter_sign_ups", "sync_integrations",
                                    "send_dpo_digest", "enforce_retention", "back_up_database"]
    assert jobs[0].args[:2] == (app, run_pending_jobs)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL's autovacuum does it
def test_sqlite_gets_planner_statistics_from_upgrade_and_the_scheduler(app, runner, make_user):
    from app.db import database
    from jobs import refresh_statistics
    make_user()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with database.connection_context():
        analysed = {t for (t,) in database.execute_sql("SELECT DISTINCT tbl FROM sqlite_stat1").fetchall()}
        assert "users" in analysed
        database.execute_sql("DELETE FROM sqlite_stat1")
    refresh_statistics.run(app)
    with database.connection_context():
        assert database.execute_sql("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0
