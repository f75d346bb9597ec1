"""Fixtures: the app on SQLite and on a throwaway PostgreSQL cluster, a real SMTP
server, a live server and a real browser.

Every test that uses the database (through `app`) runs twice, once per backend;
its id says which (`[sqlite]` / `[postgresql]`)."""
from __future__ import annotations

import logging
import socket
import threading
import uuid
from contextlib import contextmanager

import peewee
import pyotp
import pytest
from werkzeug.serving import make_server

from app import create_app
from app.db import database, open_database, upgrade
from app.models import ALL_MODELS, Role, User
from app.services.accounts.passwords import hash_password
from app.services.consent.purposes import ensure_catalogue
from tests.support.forms import post_form
from tests.support.postgres import PostgresCluster
from tests.support.smtp import SmtpServer

BACKENDS = ["sqlite", "postgresql"]
TEST_PASSWORD = "correct horse battery staple"
TEST_TOTP_SECRET = "KRSXG5CUN5KWCY3UN5SGS43QMFRGK2LT"  # 160 bits


def pytest_report_header(config):
    return "database backends: SQLite (file, WAL) and PostgreSQL (throwaway cluster started by the tests)"


# A skipped test proves nothing: the run fails, naming it, instead of passing quietly.
_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append(report.nodeid)


def pytest_collectreport(report):
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _skipped:
        terminalreporter.write_line(f"FAILED: {len(_skipped)} test(s) skipped; every test must run: "
                                    + ", ".join(_skipped[:10]), red=True)


@pytest.fixture(scope="session")
def postgres_cluster():
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """A migrated, empty database per backend, shared by the tests of that backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    else:
        url = request.getfixturevalue("postgres_cluster").create_database(f"pcc_{uuid.uuid4().hex[:8]}")
    db = open_database(url)
    upgrade(db)
    db.close()
    database.initialize(open_database(url))
    with database.connection_context():
        ensure_catalogue()
    return url


@pytest.fixture(scope="session")
def password_hash():
    return hash_password(TEST_PASSWORD)  # argon2 is slow on purpose: hash once


@pytest.fixture(scope="session")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def mail_down(app):
    """`with mail_down():` the app's mail server is down (nothing listens at MAIL_URL)."""
    @contextmanager
    def down():
        working = app.config["MAIL_URL"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            app.config["MAIL_URL"] = f"smtp://127.0.0.1:{s.getsockname()[1]}"
        try:
            yield
        finally:
            app.config["MAIL_URL"] = working
    return down


@pytest.fixture
def app(database_url, smtp, tmp_path):
    smtp.clear()
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "MAIL_URL": smtp.url,
        "BASE_URL": "http://localhost",
        "SECRET_KEY": "test-secret-key-not-for-production",
    })
    yield app
    _empty_tables()
    database.close_all()  # the next test's app opens its own pool


def _empty_tables():
    database.connect(reuse_if_open=True)
    tables = [m._meta.table_name for m in ALL_MODELS]
    if isinstance(database.obj, peewee.PostgresqlDatabase):
        database.execute_sql(f"TRUNCATE {', '.join(map(repr_ident, tables))} RESTART IDENTITY CASCADE")
    else:
        with database.atomic():
            for model in reversed(ALL_MODELS):
                model.delete().execute()
    ensure_catalogue()  # reference data every test starts with
    database.close()


def repr_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture
def db(app):
    """An open connection for tests that call services directly."""
    with app.app_context(), database.connection_context():
        yield database


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_user(app, password_hash):
    """Create a user of a role, with the test password (and TOTP secret for staff that need it)."""
    def make(role: Role = Role.SUBJECT, email: str | None = None, **fields) -> User:
        with database.connection_context():
            defaults = {"password_hash": password_hash, "name": f"Test {role.value}"}
            if role in (Role.DPO, Role.ADMIN):
                defaults["totp_secret"] = TEST_TOTP_SECRET
            return User.create(email=email or f"{role.value}-{uuid.uuid4().hex[:6]}@example.com",
                               role=role.value, **{**defaults, **fields})
    return make


@pytest.fixture
def login_as(client, make_user):
    """Sign a fresh user of `role` in through the real forms (password, then TOTP)."""
    def login(role: Role, **fields) -> User:
        user = make_user(role, **fields)
        response = post_form(client, "/login", {"email": user.email, "password": TEST_PASSWORD})
        assert response.status_code == 303, response.text
        if user.needs_totp:
            response = post_form(client, "/login/two-factor", {"code": pyotp.TOTP(TEST_TOTP_SECRET).now()})
            assert response.status_code == 303, response.text
        return user
    return login


def _read_whole_file(file, buffer_size=8192):
    """A `wsgi.file_wrapper` that reads the file at once and closes it. Werkzeug's dev
    server skips closing the response when a browser drops the connection mid-file
    (a favicon, say), and the open file then fails the run with a ResourceWarning."""
    with file:
        return [file.read()]


def _closing_files(app):
    def serve(environ, start_response):
        environ["wsgi.file_wrapper"] = _read_whole_file
        return app(environ, start_response)
    return serve


@pytest.fixture
def live_server(app):
    """The app served over real HTTP on loopback, in a thread."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # keep request lines out of test output
    server = make_server("127.0.0.1", 0, _closing_files(app), threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    thread.join()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@contextmanager
def browser_tab(chromium, live_server, request, other_origins: tuple[str, ...] = ()):
    """A fresh browser tab on the live server. Fails the test if the page asked any
    origin but the app's own (and `other_origins`), or if the browser reported a CSP
    violation. Leaves a screenshot in test-artifacts/."""
    from playwright.sync_api import expect

    from tests.support.browser import HANG_GUARD_MS
    context = chromium.new_context(base_url=live_server)
    context.set_default_timeout(HANG_GUARD_MS)  # waits end on the event; this is only a hang guard
    context.set_default_navigation_timeout(HANG_GUARD_MS)
    expect.set_options(timeout=HANG_GUARD_MS)
    tab = context.new_page()
    allowed = (live_server, *other_origins)
    foreign, console_errors = [], []
    tab.on("request", lambda r: None if r.url.startswith(allowed) else foreign.append(r.url))
    tab.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    yield tab
    shots = request.config.rootpath / "test-artifacts"
    shots.mkdir(exist_ok=True)
    tab.screenshot(path=str(shots / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert not foreign, f"requests to other origins: {foreign}"
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


@pytest.fixture
def page(chromium, live_server, request):
    with browser_tab(chromium, live_server, request) as tab:
        yield tab


@pytest.fixture
def job_worker(app):
    """The scheduler's job loop, in a thread, for journeys that wait on jobs."""
    from app.services.platform.jobs import run_pending
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            with app.app_context(), database.connection_context():
                run_pending()
            stop.wait(0.2)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


@pytest.fixture
def sales(make_user):
    return make_user(Role.SALES_OPS)


@pytest.fixture
def newsletter(app, sales):
    """A single opt-in newsletter, made by sales ops."""
    from app.services.newsletters import catalogue
    with app.app_context(), database.connection_context():
        return catalogue.create_newsletter("Spring news", "Our seasonal offers, four times a year.", "Offers",
                                             False, sales)


CLIENT_ID, CLIENT_SECRET = "crm-client", "crm-secret"  # our OAuth client at the test provider


@pytest.fixture
def provider(app):
    """A real OAuth 2.0 / OpenID Connect server on loopback standing in for Google,
    with the app configured to use it."""
    from tests.support.oauth_provider import OAuthProvider
    server = OAuthProvider().start()
    server.add_client(CLIENT_ID, CLIENT_SECRET, [f"http://localhost/integrations/{key}/callback"
                                                 for key in ("google_contacts", "google_sheets")]
                      + ["http://localhost/login/with/google/callback"])
    app.config.update(GOOGLE_CLIENT_ID=CLIENT_ID, GOOGLE_CLIENT_SECRET=CLIENT_SECRET,
                      INTEGRATION_PROVIDERS={"google": {"discovery_url": server.discovery_url, "api_base": server.url}})
    yield server
    server.stop()

