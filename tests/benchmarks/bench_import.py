"""Subscriber import of 1,000,000 rows, 10% of them suppressed, into a single opt-in
newsletter, on SQLite and on PostgreSQL.

    .venv/bin/pytest tests/benchmarks/bench_import.py -o python_files='bench_*.py' -q -s

Baseline, measured in the same run on the same database: the same CSV file read with
the csv module and its rows inserted with a bare `executemany` into a plain table (no
index, no constraint), 1,000 rows per transaction. Targets: on SQLite, at least
20,000 rows a second (twice the rate listmonk's maintainers report for its importer);
on PostgreSQL, within 2x of the baseline's time; on both, peak Python memory
(tracemalloc) flat, within 1.5x, as the file grows tenfold from 100,000 rows.
BENCH_ROWS overrides the size."""
from __future__ import annotations

import csv
import os
import time
import tracemalloc
import uuid
from pathlib import Path

import pytest

from app import create_app
from app.db import database, upgrade
from app.models import Role, Suppression, User
from app.services.consent.purposes import ensure_catalogue
from app.services.newsletters import catalogue, subscriber_import
from app.services.platform import jobs
from tests.benchmarks.summary import record
from tests.support.smtp import SmtpServer

ROWS = int(os.environ.get("BENCH_ROWS", 1_000_000))
SUPPRESSED_SHARE = 10  # one row in ten
TARGET_SQLITE_ROWS_PER_SECOND = 20_000
BUDGET_TIME_RATIO = 2.0  # PostgreSQL
BUDGET_MEMORY_GROWTH = 1.5


def write_file(path: Path, rows: int, tag: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["email", "consent_evidence", "name"])
        for i in range(rows):
            writer.writerow([f"person{i}.{tag}@example.com", "Signed up at the spring fair, 3 May 2025",
                             f"Person {i}"])


def suppress_every_tenth(rows: int, tag: str) -> None:
    digest = subscriber_import._hasher()
    batch = []
    for i in range(0, rows, SUPPRESSED_SHARE):
        batch.append({"address_hash": digest(f"person{i}.{tag}@example.com"), "reason": "unsubscribed"})
        if len(batch) == 1000:
            Suppression.insert_many(batch).execute()
            batch = []
    if batch:
        Suppression.insert_many(batch).execute()


def baseline(path: Path) -> None:
    """Read the same rows and executemany them into a plain table."""
    table = f"plain_{uuid.uuid4().hex[:8]}"
    database.execute_sql(f"CREATE TABLE {table} (email TEXT, evidence TEXT, name TEXT)")
    mark = "%s" if database.param == "%s" else "?"
    sql = f"INSERT INTO {table} (email, evidence, name) VALUES ({mark}, {mark}, {mark})"
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        while True:
            batch = [row for _, row in zip(range(1000), reader)]
            if not batch:
                break
            with database.atomic():
                database.cursor().executemany(sql, batch)
    database.execute_sql(f"DROP TABLE {table}")


def prepare(tmp: Path, rows: int):
    """A fresh newsletter, its suppressions and a planned import of `rows` rows."""
    tag = uuid.uuid4().hex[:6]
    staff = User.create(email=f"sales-{tag}@example.com", role=Role.SALES_OPS.value)
    newsletter = catalogue.create_newsletter(f"Bench {tag}", "A newsletter for the import benchmark only.", "",
                                               False, staff)
    suppress_every_tenth(rows, tag)
    path = tmp / f"bench-{tag}.csv"
    write_file(path, rows, tag)
    with open(path, "rb") as f:
        imp = subscriber_import.receive_upload(newsletter, f, path.name, staff, max_bytes=None)
    started = time.perf_counter()
    preview = subscriber_import.plan_import(imp, 0, 1, 2)
    dry_run = time.perf_counter() - started
    assert preview["counts"]["suppressed"] == rows // SUPPRESSED_SHARE
    return subscriber_import.get_import(imp.id), staff, path, dry_run


def run(imp, staff) -> None:
    subscriber_import.start_import(imp, staff)
    assert jobs.run_pending() == 1
    done = subscriber_import.get_import(imp.id)
    assert done.status == "done" and done.counts_dict() == done.preview_dict()["counts"]


def peak_of_import(tmp: Path, rows: int) -> int:
    imp, staff, _, _ = prepare(tmp, rows)
    tracemalloc.start()
    run(imp, staff)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_import_of_a_million_rows(backend, tmp_path, smtp, request, capsys):
    url = (f"sqlite:///{tmp_path / 'bench.db'}" if backend == "sqlite"
           else request.getfixturevalue("postgres").create_database(f"bench_{uuid.uuid4().hex[:8]}"))
    app = create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "MAIL_URL": smtp.url})
    with app.app_context(), database.connection_context():
        upgrade()
        ensure_catalogue()
        imp, staff, path, dry_run = prepare(tmp_path, ROWS)
        started = time.perf_counter()
        baseline(path)
        base_seconds = time.perf_counter() - started
        started = time.perf_counter()
        run(imp, staff)
        import_seconds = time.perf_counter() - started
        small_peak, big_peak = peak_of_import(tmp_path, ROWS // 10), peak_of_import(tmp_path, ROWS)
    database.close_all()
    with capsys.disabled():
        print(f"\n  [{backend}] {ROWS:,} rows, 10% suppressed, single opt-in")
        print(f"  baseline csv + executemany into a plain table  {base_seconds:7.2f} s")
        print(f"  import job                                      {import_seconds:7.2f} s   "
              f"({import_seconds / base_seconds:.2f}x baseline, budget {BUDGET_TIME_RATIO}x)")
        print(f"  dry run (not in the ratio)                      {dry_run:7.2f} s")
        print(f"  import peak memory  {ROWS // 10:,} rows {small_peak / 2**20:6.1f} MiB   {ROWS:,} rows "
              f"{big_peak / 2**20:6.1f} MiB   ({big_peak / small_peak:.2f}x for 10x the rows, "
              f"budget {BUDGET_MEMORY_GROWTH}x)")
    rate, ratio = ROWS / import_seconds, import_seconds / base_seconds
    if backend == "sqlite":
        met = record(f"Import of {ROWS:,} subscribers, SQLite", f"executemany {ROWS / base_seconds:,.0f} rows/s",
                     f"{rate:,.0f} rows/s", f"{ratio:.2f}x the time", f">= {TARGET_SQLITE_ROWS_PER_SECOND:,} rows/s",
                     rate >= TARGET_SQLITE_ROWS_PER_SECOND)
    else:
        met = record(f"Import of {ROWS:,} subscribers, PostgreSQL", f"executemany {base_seconds:.1f} s",
                     f"{import_seconds:.1f} s", f"{ratio:.2f}x", f"<= {BUDGET_TIME_RATIO}x", ratio <= BUDGET_TIME_RATIO)
    record(f"Import memory, {ROWS // 10:,} -> {ROWS:,} rows, {backend}", f"{small_peak / 2**20:.1f} MiB",
           f"{big_peak / 2**20:.1f} MiB", f"{big_peak / small_peak:.2f}x", f"<= {BUDGET_MEMORY_GROWTH}x",
           big_peak / small_peak <= BUDGET_MEMORY_GROWTH)
    assert big_peak / small_peak <= BUDGET_MEMORY_GROWTH
    assert met, f"{backend}: {rate:,.0f} rows/s, {ratio:.2f}x the baseline's time"
