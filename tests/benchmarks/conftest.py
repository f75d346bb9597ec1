"""Shared by the benchmarks: a throwaway PostgreSQL cluster per benchmark module."""
import pytest

from tests.support.postgres import PostgresCluster


@pytest.fixture(scope="module")
def postgres():
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()
