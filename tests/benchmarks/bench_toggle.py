"""Toggling a preference through the real HTTP stack (gunicorn, session cookie, CSRF
token) under 32 concurrent clients on loopback, on SQLite and on PostgreSQL, beside a
bare Flask endpoint served the same way in the same run.

Targets: at least 25% of the bare endpoint's throughput, and p99 at most 100 ms."""
from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from app.db import database, open_database, upgrade
from app.models import Role, User
from app.services.accounts.passwords import hash_password
from app.services.consent.purposes import ensure_catalogue
from tests.benchmarks.load import Result, run_clients
from tests.benchmarks.summary import ms, record

CLIENTS = 32
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
ROOT = Path(__file__).resolve().parents[2]
WORKERS, THREADS = os.environ.get("BENCH_WORKERS", "4"), os.environ.get("BENCH_THREADS", "1")
GUNICORN = [sys.executable, "-m", "gunicorn", "--workers", WORKERS, "--threads", THREADS, "--keep-alive", "30",
            "--log-level", "warning"]
TARGET_RATIO, TARGET_P99 = 0.25, 0.100
PASSWORD = "bench password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app_path: str, env: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([*GUNICORN, "--bind", f"127.0.0.1:{port}", app_path], cwd=ROOT,
                            env={**os.environ, **env}, start_new_session=True)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn for {app_path} did not start")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def prepare_database(url: str) -> None:
    db = open_database(url)
    database.initialize(db)
    upgrade(db)
    with database.connection_context():
        ensure_catalogue()
        hashed = hash_password(PASSWORD)
        User.insert_many([{"email": f"bench{i}@example.com", "role": Role.SUBJECT.value, "name": f"Bench {i}",
                           "password_hash": hashed} for i in range(CLIENTS)]).execute()
    db.close()


class Session:
    """A cookie-keeping client on one keep-alive connection."""

    def __init__(self, conn: http.client.HTTPConnection):
        self.conn, self.cookies = conn, {}

    def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None):
        body = urlencode(form) if form is not None else None
        h = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        if body is not None:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        status, text, response = exchange(self.conn, method, path, body, h)
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";")[0]
        return status, text


def exchange(conn, method, path, body, headers):
    """One request; a keep-alive connection the server closed meanwhile is reopened once."""
    for attempt in (1, 2):
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode(), response
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            conn.close()
            if attempt == 2:
                raise


def token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def toggling_client(conn, index):
    s = Session(conn)
    _, page = s.request("GET", "/login")
    status, _ = s.request("POST", "/login", {"csrf_token": token(page), "email": f"bench{index}@example.com",
                                             "password": PASSWORD})
    assert status == 303, status
    _, page = s.request("GET", "/preferences")
    csrf = token(page)
    state = {"granted": True}

    def toggle():
        status, body = s.request("POST", "/preferences/click_tracking",
                                 {"csrf_token": csrf, "granted": "1" if state["granted"] else "0"},
                                 {"HX-Request": "true"})
        expected = 'aria-checked="true"' if state["granted"] else 'aria-checked="false"'
        assert status == 200 and expected in body, (status, body[:200])
        state["granted"] = not state["granted"]
    return toggle


def bare_client(conn, index):
    def hit():
        status, text, _ = exchange(conn, "POST", "/", b"", {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200 and text == "ok"
    return hit


def measure_app(url: str, tmp: Path):
    prepare_database(url)
    env = {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp), "SECRET_KEY": "bench-secret",
           "RATELIMIT_ENABLED": "0", "BASE_URL": "http://127.0.0.1"}
    proc, port = serve("wsgi:app", env)
    try:
        return run_clients(port, CLIENTS, SECONDS, toggling_client)
    finally:
        stop(proc)


def test_toggle_throughput_against_a_bare_endpoint(tmp_path, postgres, capsys):
    proc, port = serve("tests.benchmarks.bare_app:app", {})
    try:
        bare = run_clients(port, CLIENTS, SECONDS, bare_client)
    finally:
        stop(proc)
    results = {
        "sqlite": measure_app(f"sqlite:///{tmp_path / 'bench.db'}", tmp_path),
        "postgresql": measure_app(postgres.create_database("bench"), tmp_path),
    }
    with capsys.disabled():
        print(f"\n  {CLIENTS} clients, {SECONDS:.0f} s each, gunicorn {WORKERS} workers x {THREADS} threads")
        print(f"  bare Flask endpoint   {bare.per_second:8.0f} req/s   p50 {bare.p50 * 1000:6.1f} ms"
              f"   p99 {bare.percentile(0.99) * 1000:6.1f} ms")
        for name, r in results.items():
            print(f"  toggle on {name:<11} {r.per_second:8.0f} req/s   p50 {r.p50 * 1000:6.1f} ms"
                  f"   p99 {r.percentile(0.99) * 1000:6.1f} ms   {r.per_second / bare.per_second:5.0%} of bare")
    for name, r in results.items():
        record_http(f"Preference toggle, {CLIENTS} clients, {name}", bare, r, TARGET_RATIO, TARGET_P99)
    for name, r in results.items():
        assert r.per_second / bare.per_second >= TARGET_RATIO, name
        assert r.percentile(0.99) <= TARGET_P99, name


def record_http(benchmark: str, bare: Result, r: Result, target_ratio: float, target_p99: float) -> None:
    """Two rows of the summary: throughput against the bare endpoint, and the p99."""
    ratio = r.per_second / bare.per_second
    record(benchmark, f"bare {bare.per_second:,.0f} req/s", f"{r.per_second:,.0f} req/s", f"{ratio:.0%}",
           f">= {target_ratio:.0%} of bare", ratio >= target_ratio)
    record(f"{benchmark}, p99", f"bare {ms(bare.percentile(0.99))}", ms(r.percentile(0.99)), "-",
           f"<= {target_p99 * 1000:.0f} ms", r.percentile(0.99) <= target_p99)
