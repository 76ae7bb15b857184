"""The funnel plot every app draws (core.charts): when its x axis goes on a log scale."""

from __future__ import annotations

import math

from opencommissioning.core.charts import funnel, wants_log_axis


def test_a_log_axis_only_when_the_denominators_span_more_than_a_hundredfold() -> None:
    assert not wants_log_axis([4000, 5000, 6000])
    assert not wants_log_axis([100, 10_000])  # exactly a hundredfold: still linear
    assert wants_log_axis([64, 16_512])  # the demo's tiny practice beside the largest
    assert not wants_log_axis([0, 5000, math.nan])  # nothing to compare a zero or a gap with
    assert not wants_log_axis([])


def _spec(log_x: bool) -> dict:
    points = [{"x": 64.0, "value": 30.0, "flag": "high 95", "href": ""},
              {"x": 16_512.0, "value": 1.0, "flag": "within", "href": ""}]
    return funnel(points=points, grid=[50.0, 20_000.0], lower_95=[0.0, 0.5], upper_95=[40.0, 2.0],
                  lower_998=[0.0, 0.3], upper_998=[60.0, 2.5], target=1.2, x_title="Registered patients",
                  y_title="Per 1,000", title="t", tooltip=[], log_x=log_x)


def test_the_log_axis_says_so_in_its_title() -> None:
    x = _spec(True)["layer"][0]["encoding"]["x"]
    assert x["scale"]["type"] == "log" and x["title"] == "Registered patients (log scale)"
    assert "type" not in _spec(False)["layer"][0]["encoding"]["x"]["scale"]
