"""The analytics spec: every case in ``spec_cases.py`` on every engine."""

from __future__ import annotations

import math

import pytest
from spec_cases import CASES, Case

from opencommissioning.analytics import datamodel
from opencommissioning.analytics.catalogue import from_documents
from opencommissioning.analytics.engines import DataSource, Engine
from opencommissioning.analytics.runner import run_catalogue


def same(actual: object, expected: object) -> bool:
    if expected is None or (isinstance(expected, float) and math.isnan(expected)):
        # missing values are published as null
        return actual is None or (isinstance(actual, float) and math.isnan(actual))
    if isinstance(expected, float):
        if not isinstance(actual, int | float):
            return False
        return math.isclose(actual, expected, rel_tol=1e-9, abs_tol=1e-12)
    return actual == expected


def run_case(case: Case, engine: Engine) -> list[dict[str, object]]:
    doc = {k: v for k, v in case.indicator.items() if v is not None}
    indicators = from_documents([("spec.yaml", doc)])
    tables = {"population": datamodel.from_rows("population", case.population),
              "activity": datamodel.from_rows("activity", case.activity)}
    if case.deprivation:
        tables["deprivation"] = datamodel.from_rows("deprivation", case.deprivation)
    return run_catalogue(indicators, engine, DataSource(tables=tables), publish=case.publish).to_pylist()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_spec(case: Case, engine: Engine) -> None:
    rows = run_case(case, engine)
    got = {(r["organisation"], r["period"]): r for r in rows}
    want = {(e["organisation"], e["period"]): e for e in case.expected}
    assert sorted(got) == sorted(want)
    for key, expected in want.items():
        for column, value in expected.items():
            assert same(got[key][column], value), (key, column, got[key][column], value)
