"""Engines for the spec: the same cases run on every engine. Spark starts once per
test session (local[2], UI off, two shuffle partitions)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opencommissioning.analytics.engines import ENGINES, Engine, get_engine


@pytest.fixture(scope="session")
def spark_session() -> Iterator[object]:
    from opencommissioning.analytics.engines.spark import local_session

    session = local_session("local[2]", shuffle_partitions=2)
    yield session
    session.stop()


@pytest.fixture(scope="session", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "spark":
        session = request.getfixturevalue("spark_session")
        eng = get_engine("spark", session=session)
    else:
        eng = get_engine(request.param)
    yield eng
