"""The fuzz of tests/test_fuzz.py, long: 12,000 generated requests per backend (24,000
in all) to every route, as every role and anonymously. Target: no answer is a 5xx and
no page shows its input as markup. Unlike the bounded test it does not stop at the
first fault: it counts them all, records the row, then fails naming the first few."""
import time

import pytest
from hypothesis import given

from tests.benchmarks.summary import record
from tests.support.fuzz import fuzz_settings, fuzz_target, probes, refresh_sign_ins, send

REQUESTS = 12_000
REFRESH_SECONDS = 300  # well inside the 15 minutes a recent sign-in lasts


@pytest.fixture
def target(app, client, login_as):
    with fuzz_target(app, client, login_as) as target:
        yield target


def test_twelve_thousand_hostile_requests_and_not_one_5xx(client, target, database_url):
    by_name = target.by_name
    faults, sent, refreshed = [], [0], [time.monotonic()]

    @fuzz_settings(REQUESTS)
    @given(probe=probes(target.callers, target.rules, target.vocabulary))
    def run(probe):
        if time.monotonic() - refreshed[0] > REFRESH_SECONDS:
            refresh_sign_ins(client, target.callers)
            refreshed[0] = time.monotonic()
        target.errors.records.clear()
        status, problem = send(client, by_name, probe)
        sent[0] += 1
        if problem:
            faults.append(f"{probe!r}: {problem}\n" + "\n".join(target.errors.records[-1:]))

    started = time.monotonic()
    run()
    seconds = time.monotonic() - started
    backend = database_url.split(":", 1)[0]
    record(f"fuzz, every route and role ({backend})", f"{sent[0]:,} requests in {seconds:.0f} s",
           f"{len(faults)} faults", "-", f"0 faults, >= {REQUESTS:,} requests",
           not faults and sent[0] >= REQUESTS)
    assert sent[0] >= REQUESTS
    assert not faults, f"{len(faults)} faults; the first:\n" + "\n\n".join(faults[:5])
