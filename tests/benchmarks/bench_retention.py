"""The retention sweep over 1,000,000 expired rows spread over four categories, on
SQLite and on PostgreSQL, while clients toggle preferences through gunicorn.

    .venv/bin/pytest tests/benchmarks/bench_retention.py -o python_files='bench_*.py' -q -s

Baseline, measured in the same run on the same database and the same rows: a bare
`DELETE FROM <table> WHERE <clock> < ?` per table. Then the same rows are loaded
again and swept by the real sweep (its policies, legal-hold check, ranges of
app.services.retention.policies.batch_size() ids each in its own transaction, the run's counts
written with every batch); both run alone, in turn, BENCH_ROUNDS times (3), and the
ratio is of their medians. Then the rows are loaded once more and swept while a
client toggles its preferences through gunicorn, for the latency. Young rows are loaded too, and must survive every sweep.

Targets (the issue's): the sweep within 1.5x of the bare DELETEs; the toggles'
p99 latency while the sweep runs under 100 ms. BENCH_ROWS overrides the size."""
from __future__ import annotations

import http.client
import os
import statistics
import threading
import time
from datetime import timedelta

import pytest

from app import create_app
from app.db import database, is_postgres
from app.models import CallLog, EmailEngagement, SmsLog, UsageEvent, User
from app.models.base import utcnow
from app.services.retention import policies
from tests.benchmarks.bench_dpo import bulk_insert, stamp
from tests.benchmarks.bench_toggle import prepare_database, serve, stop, toggling_client
from tests.benchmarks.summary import ms, record

ROWS = int(os.environ.get("BENCH_ROWS", 1_000_000))
YOUNG_SHARE = 20  # one young row (kept) per this many expired ones
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
TOGGLERS = 1  # the "a client toggles preferences"
TARGET_RATIO, TARGET_P99 = 1.5, 0.100
# (model, share of the rows, the clock column, the other columns and their value)
TABLES = (
    (UsageEvent, 4, "occurred_at", {"path": "/pricing", "referrer": "", "user_agent": "bench", "ip": "192.0.2.0"}),
    (CallLog, 2, "called_at", {"number": "+44 20 7946 0000", "direction": "inbound", "duration_seconds": 60,
                               "caller_id": ""}),
    (SmsLog, 2, "sent_at", {"number": "+44 20 7946 0000", "direction": "outbound", "body": "See you at 3"}),
    (EmailEngagement, 2, "occurred_at", {"kind": "sent", "campaign": "spring", "link_url": ""}),
)


def load(people: list[int], now, with_young: bool = True) -> dict[str, int]:
    """ROWS expired rows spread over TABLES (and a few young ones); returns the young per table."""
    expired_at, young_at = now - timedelta(days=1200), now - timedelta(days=1)
    shares = sum(t[1] for t in TABLES)
    young = {}
    for model, share, clock, columns in TABLES:
        n = ROWS * share // shares
        person = model.user.column_name if hasattr(model, "user") else model.owner.column_name
        names = (person, clock, *columns)
        values = tuple(columns.values())

        def rows(count, at, n_people=len(people)):
            for i in range(count):
                yield (people[i % n_people], stamp(at - timedelta(seconds=i % 86400)), *values)
        bulk_insert(model._meta.table_name, names, rows(n, expired_at))
        if with_young:
            bulk_insert(model._meta.table_name, names, rows(n // YOUNG_SHARE, young_at))
        young[model._meta.table_name] = n // YOUNG_SHARE
    return young


def settle() -> None:
    """PostgreSQL: what autovacuum does after a mass delete and a reload, so each run
    meets a table in the same state (dead rows of the run before slow down the next)."""
    if is_postgres():
        for model, *_ in TABLES:
            database.execute_sql(f"VACUUM ANALYZE {model._meta.table_name}")


def remaining() -> dict[str, int]:
    return {model._meta.table_name: model.select().count() for model, *_ in TABLES}


def bare_deletes(now) -> None:
    for model, _, clock, _ in TABLES:
        policy = policies.policy(model.personal_data.category)
        with database.atomic():
            model.delete().where(getattr(model, clock) < policies.cutoff(policy, now)).execute()


class Togglers:
    """Clients toggling preferences over HTTP; latencies kept with their start time."""

    def __init__(self, port: int):
        self.port, self.samples, self._stop = port, [], threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(i,)) for i in range(TOGGLERS)]
        self.ready = threading.Barrier(TOGGLERS + 1)

    def _client(self, index: int):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        toggle = toggling_client(conn, index)
        self.ready.wait()
        while not self._stop.is_set():
            started = time.perf_counter()
            toggle()
            self.samples.append((started, time.perf_counter() - started))
        conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        self.ready.wait()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self.threads:
            t.join()

    def during(self, start: float, end: float) -> list[float]:
        return sorted(latency for began, latency in self.samples if start <= began <= end)


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_sweep_of_a_million_expired_rows_against_bare_deletes(backend, tmp_path, request, capsys):
    url = (f"sqlite:///{tmp_path / 'bench.db'}" if backend == "sqlite"
           else request.getfixturevalue("postgres").create_database("bench_retention"))
    prepare_database(url)  # migrated, the purposes, and the togglers' accounts
    env = {"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "bench-secret",
           "RATELIMIT_ENABLED": "0", "BASE_URL": "http://127.0.0.1"}
    app = create_app({"TESTING": True, **env})
    now = utcnow()
    with app.app_context(), database.connection_context():
        people = [u.id for u in User.select(User.id)]
        young = load(people, now)
        settle()
        # Seeding the policy rows happens once per deployment (the first page or sweep
        # that needs them), not on each night's sweep: done before the clock starts.
        policies.ensure_policies()
        # The ratio: each alone on the machine, the median of ROUNDS of each, taken in
        # turn (one timing of a 0.3 s DELETE swings by a third on this shared machine).
        bare_times, sweep_times, run = [], [], None
        for _ in range(ROUNDS):
            bare_times.append(timed(lambda: bare_deletes(now)))
            assert remaining() == young
            load(people, now, with_young=False)  # the same expired rows again; the young ones stayed
            settle()
            started = time.perf_counter()
            run = policies.sweep(policies.start_run("cli", queued=False), now=now)
            sweep_times.append(time.perf_counter() - started)
            assert run.status == "done" and remaining() == young, run.errors
            load(people, now, with_young=False)
            settle()
        base_seconds, sweep_seconds = statistics.median(bare_times), statistics.median(sweep_times)
    # The latency: the same sweep again while a client toggles its preferences.
    proc, port = serve("wsgi:app", env)
    try:
        with Togglers(port) as togglers, app.app_context(), database.connection_context():
            time.sleep(1)
            started = time.perf_counter()
            loaded_run = policies.sweep(policies.start_run("cli", queued=False), now=now)
            ended = time.perf_counter()
            assert loaded_run.total == run.total and remaining() == young
    finally:
        stop(proc)
    during, quiet = togglers.during(started, ended), togglers.during(0, started)
    p99 = percentile(during, 0.99)
    with capsys.disabled():
        print(f"\n  [{backend}] {ROWS:,} expired rows over {len(TABLES)} categories, batches of {policies.batch_size():,}")
        print(f"  bare DELETE … WHERE clock < ?   {base_seconds:7.2f} s   (median of {ROUNDS})")
        print(f"  retention sweep                 {sweep_seconds:7.2f} s   "
              f"({sweep_seconds / base_seconds:.2f}x bare, budget {TARGET_RATIO}x)   {run.total:,} rows")
        print(f"  the sweep again, {TOGGLERS} client toggling: {ended - started:.2f} s; {len(during):,} toggles, "
              f"p50 {statistics.median(during) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
              f"(budget {TARGET_P99 * 1000:.0f} ms; before the sweep p50 {statistics.median(quiet) * 1000:.1f} ms)")
    record(f"Retention sweep of {ROWS:,} rows, {backend}", f"bare DELETE {base_seconds:.2f} s", f"{sweep_seconds:.2f} s",
           f"{sweep_seconds / base_seconds:.2f}x", f"<= {TARGET_RATIO}x", sweep_seconds / base_seconds <= TARGET_RATIO)
    record(f"Toggle during the sweep, {backend}, p99", f"before p50 {ms(statistics.median(quiet))}", ms(p99), "-",
           f"< {TARGET_P99 * 1000:.0f} ms", p99 < TARGET_P99)
    assert run.total == sum(ROWS * t[1] // sum(x[1] for x in TABLES) for t in TABLES)
    assert sweep_seconds / base_seconds <= TARGET_RATIO
    assert p99 < TARGET_P99
