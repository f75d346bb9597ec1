"""Export and erasure of a person with 100,000 rows (`make bench`).

Baseline, measured in the same run: a plain SELECT of the same rows and one
`json.dumps` of them. Targets: the export within 3x of the baseline's time; its peak
memory flat as the rows grow tenfold (the baseline's grows with them); erasure of the
same person under 2 s on SQLite."""
from __future__ import annotations

import json
import time
import tracemalloc
from datetime import timedelta

import pytest

from app import create_app
from app.db import database, upgrade
from app.models import CallLog, Lead, PrivacyRequest, Role, UsageEvent, User
from app.models.base import utcnow
from app.services.consent.purposes import ensure_catalogue
from app.services.platform import jobs
from app.services.rights import erasure, exports  # noqa: F401  (erasure registers its job)
from app.services.rights.personal_data import registry_entries, rows_of
from app.services.rights.requests import approve_request
from tests.benchmarks.summary import record
from tests.support.smtp import SmtpServer

BUDGET_TIME_RATIO = 3.0
BUDGET_MEMORY_GROWTH = 1.5  # peak at 100k rows vs at 10k
BUDGET_ERASURE_SECONDS = 2.0


def person_with_rows(total: int) -> User:
    user = User.create(email=f"big{total}@example.com", role=Role.SUBJECT.value, name="Big Data")
    now = utcnow()
    batches = {Lead: lambda i: {"owner": user.id, "name": f"Lead {i}", "email": f"lead{i}@example.net",
                                "phone": "+44 20 7946 0000", "notes": "met at a fair"},
               UsageEvent: lambda i: {"user": user.id, "path": f"/leads/{i}", "ip": "192.0.2.1",
                                      "user_agent": "Mozilla/5.0", "occurred_at": now},
               CallLog: lambda i: {"owner": user.id, "number": "+44 20 7946 0001", "direction": "outbound",
                                   "duration_seconds": i % 600, "called_at": now}}
    share = total // len(batches)
    with database.atomic():
        for model, make in batches.items():
            for start in range(0, share, 1000):
                model.insert_many([make(i) for i in range(start, min(start + 1000, share))]).execute()
    return user


def baseline(user: User) -> None:
    """What any export must at least do: read the rows and serialise them."""
    rows = []
    for entry in registry_entries():
        cursor = database.execute(rows_of(entry, user))
        rows.extend(cursor.fetchall())
    json.dumps(rows, default=str)


def export(user: User) -> None:
    exports.request_export(user)
    assert jobs.run_pending() == 1


def measure(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    seconds = time.perf_counter() - start
    return seconds


def peak_memory(fn, *args) -> int:
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench-export")
    smtp = SmtpServer().start()
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}", "INSTANCE_PATH": str(tmp),
                      "MAIL_URL": smtp.url})
    with app.app_context(), database.connection_context():
        upgrade()
        ensure_catalogue()
    yield app
    smtp.stop()


def test_export_and_erasure_of_a_large_person(app, capsys):
    with app.app_context(), database.connection_context():
        small, big = person_with_rows(10_000), person_with_rows(100_000)
        base_seconds = measure(baseline, big)
        export_seconds = measure(export, big)
        base_peak, small_peak, big_peak = peak_memory(baseline, big), peak_memory(export, small), peak_memory(export, big)
        request = PrivacyRequest.create(user=big, kind="deletion", status="pending_review", due_at=utcnow(),
                                        received_at=utcnow() - timedelta(days=20))
        approve_request(request.id)
        erasure_seconds = measure(jobs.run_pending)
        assert PrivacyRequest.get_by_id(request.id).status == "completed"
    with capsys.disabled():
        print(f"\n  baseline SELECT + json.dumps, 100k rows   {base_seconds:6.2f} s   peak {base_peak / 2**20:6.1f} MiB")
        print(f"  export (ZIP: JSON, CSV, index), 100k rows {export_seconds:6.2f} s   "
              f"({export_seconds / base_seconds:.1f}x baseline, budget {BUDGET_TIME_RATIO}x)")
        print(f"  export peak memory  10k rows {small_peak / 2**20:6.1f} MiB   100k rows {big_peak / 2**20:6.1f} MiB"
              f"   ({big_peak / small_peak:.2f}x for 10x the rows, budget {BUDGET_MEMORY_GROWTH}x)")
        print(f"  erasure of the same person                {erasure_seconds:6.2f} s   (budget {BUDGET_ERASURE_SECONDS} s)")
    record("Export of 100k rows (ZIP)", f"SELECT + json.dumps {base_seconds:.2f} s", f"{export_seconds:.2f} s",
           f"{export_seconds / base_seconds:.1f}x", f"<= {BUDGET_TIME_RATIO}x", export_seconds / base_seconds <= BUDGET_TIME_RATIO)
    record("Export memory, 10k -> 100k rows", f"10k rows {small_peak / 2**20:.1f} MiB", f"{big_peak / 2**20:.1f} MiB",
           f"{big_peak / small_peak:.2f}x", f"<= {BUDGET_MEMORY_GROWTH}x", big_peak / small_peak <= BUDGET_MEMORY_GROWTH)
    record("Erasure of a person with 100k rows", "-", f"{erasure_seconds:.2f} s", "-", f"< {BUDGET_ERASURE_SECONDS} s",
           erasure_seconds < BUDGET_ERASURE_SECONDS)
    assert export_seconds / base_seconds <= BUDGET_TIME_RATIO
    assert big_peak / small_peak <= BUDGET_MEMORY_GROWTH
    assert erasure_seconds < BUDGET_ERASURE_SECONDS
