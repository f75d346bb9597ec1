"""One-click unsubscribe (RFC 8058) through the real HTTP stack: 64 concurrent
"mailbox provider" clients on loopback, each POSTing `List-Unsubscribe=One-Click`
to /u/<token> with no cookie and no CSRF token, on SQLite and on PostgreSQL, beside
a bare Flask endpoint served the same way (same gunicorn settings, same request
shape) in the same run.

Targets: at least 25% of the bare endpoint's throughput, and p99 at most 100 ms.

Real work, not no-ops: the database holds one newsletter and PEOPLE_PER_CLIENT
subscribed people per client (plus one warm-up person each). Client i owns its own
slice of people and unsubscribes them one after the other, so each POST withdraws a
different person's consent (a ConsentEvent, the ConsentState moved, an audit record
and an Unsubscribe statistics row). Only a client that runs out of people wraps
around to its first ones again; those repeats are the idempotent no-op path, are
counted and printed, and must stay under MAX_REPEAT_FRACTION of the measured
requests (raise BENCH_PEOPLE_PER_CLIENT if they do not). Tokens are made in-process
with the app's own `unsubscribes.make_token`.

Every answer must be 200 with the one-click body, and afterwards exactly the people
posted for have their consent off (and nobody else), with one `one_click` consent
event and one Unsubscribe row each.
"""
from __future__ import annotations

import os
from pathlib import Path

from app import create_app
from app.db import database
from app.models import ConsentEvent, ConsentState, Role, Unsubscribe, User
from app.models.base import utcnow
from app.models.consent import ConsentSource
from app.services.newsletters import catalogue, unsubscribes
from tests.benchmarks.bench_toggle import (
    SECONDS,
    THREADS,
    WORKERS,
    exchange,
    prepare_database,
    record_http,
    serve,
    stop,
)
from tests.benchmarks.load import Result, run_clients

CLIENTS = 64
TARGET_RATIO, TARGET_P99 = 0.25, 0.100
# 40 distinct people per client-second allows 2,560 real unsubscribes/s before any repeat.
PEOPLE_PER_CLIENT = int(os.environ.get("BENCH_PEOPLE_PER_CLIENT") or max(100, int(SECONDS * 40)))
MAX_REPEAT_FRACTION = 0.10
SECRET_KEY = "bench-secret"
BODY = "List-Unsubscribe=One-Click"
HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "bench-mailbox-provider/1.0"}
DONE = "You are unsubscribed.\n"


def app_env(url: str, tmp: Path) -> dict:
    return {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp), "SECRET_KEY": SECRET_KEY,
            "RATELIMIT_ENABLED": "0", "BASE_URL": "http://127.0.0.1"}


def seed_subscribers(url: str, tmp: Path):
    """Migrate, create one newsletter and CLIENTS * (1 + PEOPLE_PER_CLIENT) subscribed
    people; return the in-process app, the newsletter and the tokens per client
    (tokens[i][0] is client i's warm-up person)."""
    prepare_database(url)
    app = create_app(app_env(url, tmp))  # the same settings (secret, keys in INSTANCE_PATH) as gunicorn's
    per_client = 1 + PEOPLE_PER_CLIENT
    with app.app_context(), database.connection_context():
        staff = User.create(email="sales@example.com", role=Role.SALES_OPS.value, name="Sales")
        newsletter = catalogue.create_newsletter(
            "Bench news", "A newsletter for the one-click unsubscribe benchmark.", "bench", True, staff)
        purpose = newsletter.purpose
        rows = [{"email": f"subscriber{i}@example.com", "role": Role.SUBJECT.value, "name": f"Subscriber {i}"}
                for i in range(CLIENTS * per_client)]
        with database.atomic():
            for start in range(0, len(rows), 500):
                User.insert_many(rows[start:start + 500]).execute()
        ids = [uid for (uid,) in User.select(User.id).where(User.email.startswith("subscriber"))
               .order_by(User.id).tuples()]
        assert len(ids) == len(rows)
        grant_in_bulk(ids, purpose, [f"subscriber{n}@example.com" for n in range(len(ids))])
        database.execute_sql("ANALYZE")  # a real database of this size has planner statistics
        assert catalogue.counts(newsletter).subscribed == len(ids)
        people = [User(id=uid) for uid in ids]
        assert unsubscribes.is_subscribed(unsubscribes.Target(people[0], newsletter))
        tokens = [[unsubscribes.make_token(p, newsletter) for p in people[i * per_client:(i + 1) * per_client]]
                  for i in range(CLIENTS)]
        by_token = {t: p.id for t, p in zip((t for ts in tokens for t in ts), people)}
    return app, newsletter, tokens, by_token


def post(conn, path: str):
    status, text, _ = exchange(conn, "POST", path, BODY, HEADERS)
    return status, text


def unsubscribing_client(tokens: list[list[str]], posted: list[list[str]]):
    def make(conn, index):
        mine, sent = tokens[index], posted[index]
        status, text = post(conn, f"/u/{mine[0]}")  # warm-up, not timed: connection and worker ready
        assert status == 200 and text == DONE, (status, text[:200])
        sent.append(mine[0])
        measured = mine[1:]

        def unsubscribe():
            token = measured[(len(sent) - 1) % len(measured)]  # wraps around only when the slice is used up
            status, text = post(conn, f"/u/{token}")
            assert status == 200 and text == DONE, (status, text[:200])
            sent.append(token)
        return unsubscribe
    return make


def bare_client(conn, index):
    def hit():
        status, text = post(conn, "/")
        assert status == 200 and text == "ok", (status, text[:200])
    return hit


def verify(app, newsletter, by_token: dict, posted: list[list[str]]) -> int:
    """Exactly the people posted for are unsubscribed, each once; return the repeats."""
    sent = [t for per_client in posted for t in per_client]
    expected = {by_token[t] for t in sent}
    with app.app_context(), database.connection_context():
        off = {uid for (uid,) in ConsentState.select(ConsentState.user).where(
            ConsentState.purpose == newsletter.purpose_id, ConsentState.granted == False).tuples()}
        assert off == expected, f"{len(off)} off, {len(expected)} unsubscribed"
        counts = catalogue.counts(newsletter)
        assert (counts.subscribed, counts.unsubscribed) == (len(by_token) - len(expected), len(expected))
        one_click = ConsentEvent.select().where(ConsentEvent.purpose == newsletter.purpose_id,
                                                ConsentEvent.source == ConsentSource.ONE_CLICK.value,
                                                ConsentEvent.granted == False).count()
        assert one_click == len(expected), "one consent event per person, none for a repeat"
        assert Unsubscribe.select().where(Unsubscribe.newsletter == newsletter.id).count() == len(expected)
    return len(sent) - len(expected)


def measure_app(url: str, tmp: Path) -> tuple[Result, int, int]:
    app, newsletter, tokens, by_token = seed_subscribers(url, tmp)
    posted: list[list[str]] = [[] for _ in range(CLIENTS)]
    proc, port = serve("wsgi:app", app_env(url, tmp))
    try:
        result = run_clients(port, CLIENTS, SECONDS, unsubscribing_client(tokens, posted))
    finally:
        stop(proc)
    repeats = verify(app, newsletter, by_token, posted)
    assert sum(map(len, posted)) == result.requests + CLIENTS  # every timed request answered 200, plus warm-ups
    return result, repeats, sum(map(len, posted)) - repeats


def test_one_click_unsubscribe_throughput_against_a_bare_endpoint(tmp_path, postgres, capsys):
    proc, port = serve("tests.benchmarks.bare_app:app", {})
    try:
        bare = run_clients(port, CLIENTS, SECONDS, bare_client)
    finally:
        stop(proc)
    (tmp_path / "sqlite").mkdir()
    (tmp_path / "postgresql").mkdir()
    results = {
        "sqlite": measure_app(f"sqlite:///{tmp_path / 'sqlite' / 'bench.db'}", tmp_path / "sqlite"),
        "postgresql": measure_app(postgres.create_database("bench_unsubscribe"), tmp_path / "postgresql"),
    }
    with capsys.disabled():
        print(f"\n  {CLIENTS} clients, {SECONDS:.0f} s each, gunicorn {WORKERS} workers x {THREADS} threads, "
              f"{PEOPLE_PER_CLIENT} subscribed people per client")
        print(f"  bare Flask endpoint        {bare.per_second:8.0f} req/s   p50 {bare.p50 * 1000:6.1f} ms"
              f"   p99 {bare.percentile(0.99) * 1000:6.1f} ms")
        for name, (r, repeats, distinct) in results.items():
            print(f"  unsubscribe on {name:<11} {r.per_second:8.0f} req/s   p50 {r.p50 * 1000:6.1f} ms"
                  f"   p99 {r.percentile(0.99) * 1000:6.1f} ms   {r.per_second / bare.per_second:5.0%} of bare"
                  f"   ({distinct} people unsubscribed, {repeats} repeats)")
    for name, (r, _, _) in results.items():
        record_http(f"One-click unsubscribe, {CLIENTS} clients, {name}", bare, r, TARGET_RATIO, TARGET_P99)
    for name, (r, repeats, _) in results.items():
        assert repeats <= MAX_REPEAT_FRACTION * r.requests, \
            f"{name}: too many repeated (no-op) unsubscribes; raise BENCH_PEOPLE_PER_CLIENT"
    for name, (r, _, _) in results.items():
        assert r.per_second / bare.per_second >= TARGET_RATIO, \
            f"{name}: {r.per_second:.0f} req/s is {r.per_second / bare.per_second:.0%} of bare"
        assert r.percentile(0.99) <= TARGET_P99, f"{name}: p99 {r.percentile(0.99) * 1000:.1f} ms"


def grant_in_bulk(user_ids: list[int], purpose, labels: list[str] | None = None) -> None:
    """Each person granted `purpose` as if they had confirmed by email link: their ledger
    events and the states derived from them, inserted in bulk."""
    now = utcnow()
    events = [{"user": uid, "purpose": purpose.id, "granted": True, "notice_version": purpose.notice_version,
               "occurred_at": now, "source": ConsentSource.EMAIL_LINK.value, "actor": uid,
               "actor_label": labels[n] if labels else "bench", "ip": None, "user_agent": ""}
              for n, uid in enumerate(user_ids)]
    with database.atomic():
        for start in range(0, len(events), 500):
            ConsentEvent.insert_many(events[start:start + 500]).execute()
        ConsentState.insert_from(
            ConsentEvent.select(ConsentEvent.user, ConsentEvent.purpose, ConsentEvent.granted,
                                ConsentEvent.notice_version, ConsentEvent.source, ConsentEvent.occurred_at,
                                ConsentEvent.id).where(ConsentEvent.purpose == purpose.id),
            fields=[ConsentState.user, ConsentState.purpose, ConsentState.granted, ConsentState.notice_version,
                    ConsentState.source, ConsentState.updated_at, ConsentState.last_event]).execute()
