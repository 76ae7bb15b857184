"""Hypothesis: on generated data, every engine gives the reference engine's results for
the whole starter catalogue."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opencommissioning.analytics import datamodel
from opencommissioning.analytics.catalogue import load_catalogue
from opencommissioning.analytics.engines import DataSource, Engine, get_engine
from opencommissioning.analytics.runner import run_catalogue

CATALOGUE = load_catalogue()
PRACTICES = {"P1": "C1", "P2": "C1", "P3": "C2"}
PERIODS = ["2024-01", "2024-02"]


def maybe(values: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from([*values, None])


activity_rows = st.fixed_dictionaries({
    "person_id": maybe(["a", "b", "c", "d", "e"]),
    "period": st.sampled_from(PERIODS),
    "setting": st.sampled_from(list(datamodel.SETTINGS)),
    "practice": st.sampled_from([*PRACTICES, "P9"]),
    "commissioner": st.sampled_from(["C1", "C2"]),
    "provider": maybe(["R1", "R2"]),
    "sex": st.sampled_from(["F", "M"]),
    "age_band": maybe(["0-4", "15-19", "40-44", "70-74", "90+"]),
    "admission_method": maybe(["elective", "emergency"]),
    "treatment_function": maybe(["110", "130", "320", "330"]),
    "icd10": maybe(["J450", "I500", "S720", "E119", "L031", "J181", "N390"]),
    "bnf": maybe(["0501013K0AAAJAJ", "0501021A0AAAAAA", "0501120P0AAAAAA", "0401010Z0AAAAAA",
                  "0212000B0AAABAB"]),
    "register": maybe(["DM", "HYP", "COPD", "AF"]),
    "ae_department_type": maybe([1, 2, 3]),
    "ae_minutes": st.one_of(st.none(), st.integers(0, 1500)),
    "rtt_days": st.one_of(st.none(), st.integers(0, 400)),
    "length_of_stay": st.one_of(st.none(), st.integers(0, 40)),
    "items": st.one_of(st.none(), st.integers(1, 6)),
    "cost": st.one_of(st.none(), st.floats(0, 5000, allow_nan=False)),
})


@st.composite
def datasets(draw: st.DrawFn) -> DataSource:
    counts = draw(st.lists(st.integers(50, 400), min_size=1, max_size=8))
    population = []
    i = 0
    for org, comm in PRACTICES.items():
        for period in PERIODS:
            for sex in datamodel.SEXES:
                for band in datamodel.AGE_BANDS:
                    population.append({"organisation": org, "commissioner": comm, "period": period,
                                       "sex": sex, "age_band": band, "count": counts[i % len(counts)]})
                    i += 1
    activity = draw(st.lists(activity_rows, max_size=60))
    deprivation = [{"organisation": "P1", "imd_score": 40.0, "imd_quintile": 1},
                   {"organisation": "P2", "imd_score": 10.0, "imd_quintile": 5}]
    return DataSource(tables={"population": datamodel.from_rows("population", population),
                              "activity": datamodel.from_rows("activity", activity),
                              "deprivation": datamodel.from_rows("deprivation", deprivation)})


def close(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    return bool(a == b)


REFERENCE = get_engine("reference")


@pytest.mark.parametrize("other", ["duckdb", "spark"])
def test_engines_agree_with_the_reference(other: str, request: pytest.FixtureRequest) -> None:
    if other == "spark":
        engine: Engine = get_engine("spark", session=request.getfixturevalue("spark_session"))
    else:
        engine = get_engine(other)

    @settings(max_examples=25 if other == "duckdb" else 8, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=datasets())
    def check(data: DataSource) -> None:
        want = run_catalogue(CATALOGUE, REFERENCE, data).to_pylist()
        got = run_catalogue(CATALOGUE, engine, data).to_pylist()
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            for column in w:
                assert close(g[column], w[column]), (w["indicator_id"], w["organisation"], column,
                                                     g[column], w[column])

    check()
