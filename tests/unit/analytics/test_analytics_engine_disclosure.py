"""Published figures cannot be worked back to exact counts: with ``publish=True`` the value
and interval are computed from the disclosure-controlled numerator, so value x denominator
/ multiplier gives back only the rounded count. Exact figures stay available (the default,
for internal callers such as the needs assessment)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from opencommissioning.analytics import methods
from opencommissioning.analytics.catalogue import from_documents
from opencommissioning.analytics.datamodel import AGE_BANDS, from_rows
from opencommissioning.analytics.engines import DataSource, get_engine
from opencommissioning.analytics.runner import run_catalogue

RULE = {"suppress_at_or_below": 7, "round_to": 5}
BASE: dict[str, Any] = {
    "title": "t", "why_it_matters": "w", "outcome_domain": 3, "level": "practice", "polarity": "low_is_good",
    "disclosure": RULE, "source": {"name": "s", "url": "https://example.org"}, "authored_by": "a",
    "checked_by": "c", "review_status": "draft", "next_review": "2030-01-01",
}
RATE = {**BASE, "id": "rate", "method": "crude_rate", "multiplier": 1000,
        "numerator": {"table": "activity", "where": {"setting": "admission"}},
        "denominator": {"table": "population"}}
PROPORTION = {**BASE, "id": "proportion", "method": "proportion", "multiplier": 100,
              "denominator": {"table": "activity", "where": {"setting": "ae_attendance"}},
              "numerator": {"where": {"ae_minutes": {"le": 240}}}}
INDICATORS = from_documents([("rate.yaml", RATE), ("proportion.yaml", PROPORTION)])
REFERENCE = get_engine("reference")

practice = st.tuples(st.integers(1, 3000), st.integers(0, 40), st.integers(0, 40), st.integers(0, 40))


def _data(practices: list[tuple[int, int, int, int]]) -> DataSource:
    population, activity = [], []
    for i, (people, admissions, quick, slow) in enumerate(practices):
        code = f"P{i:05d}"
        population.append({"organisation": code, "commissioner": "C01", "period": "2024-01", "sex": "F",
                           "age_band": "40-44", "count": people})
        common = {"practice": code, "commissioner": "C01", "period": "2024-01", "sex": "F", "age_band": "40-44"}
        activity += [{**common, "setting": "admission"}] * admissions
        activity += [{**common, "setting": "ae_attendance", "ae_minutes": 100}] * quick
        activity += [{**common, "setting": "ae_attendance", "ae_minutes": 500}] * slow
    return DataSource(tables={"population": from_rows("population", population),
                              "activity": from_rows("activity", activity)})


@settings(max_examples=60, deadline=None)
@given(st.lists(practice, min_size=1, max_size=6))
def test_published_values_give_back_only_the_rounded_numerator(practices: list[tuple[int, int, int, int]]) -> None:
    rows = run_catalogue(INDICATORS, REFERENCE, _data(practices), publish=True).to_pylist()
    assert rows
    for r in rows:
        if r["suppressed"]:
            assert r["numerator"] is None and r["value"] is None and r["lower"] is None and r["upper"] is None
            continue
        assert r["numerator"] % 5 == 0
        assert math.isclose(r["value"] * r["denominator"] / r["multiplier"], r["numerator"], rel_tol=1e-9,
                            abs_tol=1e-9), r
        assert r["lower"] <= r["value"] <= r["upper"]
        if r["method"] == "proportion":
            assert r["numerator"] <= r["denominator"]


def test_the_example_from_the_issue_is_no_longer_recoverable() -> None:
    """emergency_admissions_rate, A82062, 2024-04: 9 admissions over 673 patients were
    published as numerator 10 with value 13.372957 (9 x 1000 / 673)."""
    data = _data([(673, 9, 0, 0)])
    published = next(r for r in run_catalogue(INDICATORS, REFERENCE, data, publish=True).to_pylist()
                     if r["indicator_id"] == "rate")
    assert published["numerator"] == 10
    assert math.isclose(published["value"], 10 * 1000 / 673)
    r = methods.rate(10, 673, multiplier=1000)
    assert (published["lower"], published["upper"]) == (float(r.lower), float(r.upper))
    exact = next(r for r in run_catalogue(INDICATORS, REFERENCE, data).to_pylist() if r["indicator_id"] == "rate")
    assert exact["numerator"] == 9 and math.isclose(exact["value"], 9 * 1000 / 673) and not exact["suppressed"]


def test_exact_is_the_default_and_publishing_is_marked_in_the_metadata() -> None:
    data = _data([(1000, 3, 2, 1)])
    exact = run_catalogue(INDICATORS, REFERENCE, data)
    assert not any(exact["suppressed"].to_pylist())
    assert exact["numerator"].to_pylist() == [2.0, 3.0]  # proportion, rate (sorted by id)
    assert b"NOT FOR PUBLICATION" in exact.schema.metadata[b"opencommissioning.disclosure"]
    published = run_catalogue(INDICATORS, REFERENCE, data, publish=True)
    assert all(published["suppressed"].to_pylist())
    assert published.schema.metadata[b"opencommissioning.disclosure"].startswith(b"applied")


def test_a_dsr_band_with_no_population_and_no_events_reaches_the_method_unchanged(monkeypatch: Any) -> None:
    """No one aged 90+: the compiler passes the empty band to ``methods.dsr`` as it is (0
    events over 0 people), so how the method treats it decides the result; the compiler
    neither drops nor patches the band."""
    seen: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = []
    real = methods.dsr

    def spy(counts: Any, populations: Any, **kwargs: Any) -> Any:
        seen.append((np.asarray(counts), np.asarray(populations)))
        return real(counts, populations, **kwargs)

    monkeypatch.setattr(methods, "dsr", spy)
    doc = {**BASE, "id": "dsr", "method": "dsr", "multiplier": 100000, "disclosure": "none",
           "disclosure_reason": "a test", "numerator": {"table": "activity", "where": {"setting": "admission"}},
           "denominator": {"table": "population"}}
    population = [{"organisation": "P1", "commissioner": "C01", "period": "2024-01", "sex": "F", "age_band": b,
                   "count": 0 if b == "90+" else 100} for b in AGE_BANDS]
    activity = [{"practice": "P1", "commissioner": "C01", "period": "2024-01", "sex": "F", "age_band": "40-44",
                 "setting": "admission"}] * 3
    data = DataSource(tables={"population": from_rows("population", population),
                              "activity": from_rows("activity", activity)})
    run_catalogue(from_documents([("dsr.yaml", doc)]), REFERENCE, data)
    (counts, pops), = seen
    assert counts.shape == pops.shape == (1, len(AGE_BANDS))
    band = AGE_BANDS.index("90+")
    assert counts[0, band] == 0 and pops[0, band] == 0
    assert pops[0].sum() == 1800 and counts[0].sum() == 3
