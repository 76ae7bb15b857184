"""The Spark session for the generative tests: once per test session (local[2], UI
off, two shuffle partitions; the same session as the spec tests', via getOrCreate)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def spark_session() -> Iterator[object]:
    from opencommissioning.analytics.engines.spark import local_session

    session = local_session("local[2]", shuffle_partitions=2)
    yield session  # stopped by the spec suite's fixture, or at exit
