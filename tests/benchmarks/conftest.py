"""Shared by the benchmarks: a throwaway PostgreSQL cluster per benchmark module, and
the summary table printed at the end of `make bench`."""
import pytest

from tests.benchmarks import summary
from tests.support.postgres import PostgresCluster


@pytest.fixture(scope="module")
def postgres():
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


def pytest_terminal_summary(terminalreporter):
    if summary.ROWS:
        terminalreporter.write_line("")
        for line in summary.table():
            terminalreporter.write_line(line)
