"""No input answers 500, and no page shows input as markup: Hypothesis walks every
route of `app.url_map`, as every role and anonymously, with generated path values,
query strings and bodies (tests/support/fuzz.py). Bounded here (under half a minute
per backend) and derandomized, so every run is the same; `make bench` runs it far
longer (tests/benchmarks/bench_fuzz.py)."""
import pytest
from hypothesis import given

from tests.support.fuzz import fuzz_settings, fuzz_target, probes, send

EXAMPLES = 1000


@pytest.fixture
def target(app, client, login_as):
    with fuzz_target(app, client, login_as) as target:
        yield target


def test_no_generated_request_answers_5xx_or_shows_its_input_as_markup(client, target):
    callers = target.by_name

    @fuzz_settings(EXAMPLES)
    @given(probe=probes(target.callers, target.rules, target.vocabulary))
    def run(probe):
        target.errors.records.clear()
        status, problem = send(client, callers, probe)
        assert not problem, f"{probe!r}: {problem}\n" + "\n".join(target.errors.records)

    run()
