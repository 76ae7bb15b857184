"""Vega-Lite charts (built with Altair) for the needs pages.

Each function takes what ``queries`` returns and gives a Vega-Lite specification, which
the page embeds with ``components/chart.html`` beside a data table and a text alternative;
``core.charts.export`` turns the same specification into PNG or SVG for board papers. No
figure is computed here: values, limits and flags come from the stored values and
``analytics.profiles``. The colours, the funnel plot's drawing and the export are shared
with the other apps in ``core.charts``.
"""

from __future__ import annotations

from typing import Any

import altair as alt

from opencommissioning.core.charts import (
    DARK_GREY,
    HEIGHT,
    MID_GREY,
    NHS_BLUE,
    PALE_GREY,
    WIDTH,
    configure,
    finite,
)
from opencommissioning.core.charts import funnel as funnel_chart

from . import units
from .queries import Inequality, Series, Variation

POINT_COLOURS = {"common_cause": MID_GREY, "special_cause_improvement": "#41b6e6", "special_cause_concern": "#ed8b00",
                 "special_cause_neutral_high": "#330072", "special_cause_neutral_low": "#330072"}


def funnel_spec(v: Variation, *, links: dict[str, str] | None = None) -> dict[str, Any] | None:
    f = v.funnel
    if f is None or not v.points:
        return None
    points = [{"name": p.name, "code": p.code, "x": p.x, "value": p.figure.value, "flag": p.flag,
               "lower": p.figure.lower, "upper": p.figure.upper, "href": (links or {}).get(p.code, "")}
              for p in v.points if p.figure.value is not None]
    what = "practices" if v.of == "practices" else "commissioners"
    return funnel_chart(log_x=v.log_x,
        points=points, grid=f.grid, lower_95=f.lower_95, upper_95=f.upper_95, lower_998=f.lower_998,
        upper_998=f.upper_998, target=f.target, x_title=f.x_label,
        y_title=units.heading(v.indicator, "span"),
        title=f"Funnel plot of {what}: {units.title(v.indicator)}",
        tooltip=[alt.Tooltip("name:N", title="Organisation"), alt.Tooltip("value:Q", title="Value", format=".2f"),
                 alt.Tooltip("lower:Q", title="95% lower", format=".2f"),
                 alt.Tooltip("upper:Q", title="95% upper", format=".2f"), alt.Tooltip("flag:N", title="Flag")])


def spc_spec(s: Series) -> dict[str, Any] | None:
    if s.spc is None and s.withheld and s.months:
        return _trend_with_gaps(s)
    if s.spc is None:
        return None
    rows = [{"period": p, "value": val, "mean": m, "lower": lo, "upper": hi, "type": t.replace("_", " ")}
            for p, val, m, lo, hi, t in zip(s.periods, s.spc.values, s.spc.mean, s.spc.lower, s.spc.upper,
                                             s.spc.point_type, strict=True)]
    x = alt.X("period:O", title="Month", axis=alt.Axis(labelAngle=-45))
    base = alt.Chart(alt.Data(values=rows)).encode(x=x)
    layers = [
        base.mark_line(color=MID_GREY).encode(y=alt.Y("value:Q", title=units.unit(s.indicator, "month") or "Value",
                                                         scale=alt.Scale(zero=False))),
        base.mark_line(color=DARK_GREY, strokeWidth=1.5).encode(y="mean:Q"),
        base.mark_line(color=DARK_GREY, strokeDash=[4, 3]).encode(y="upper:Q"),
        base.mark_line(color=DARK_GREY, strokeDash=[4, 3]).encode(y="lower:Q"),
        base.mark_circle(size=60, opacity=1).encode(
            y="value:Q", color=alt.Color("type:N", title="Variation", scale=alt.Scale(
                domain=[k.replace("_", " ") for k in POINT_COLOURS], range=list(POINT_COLOURS.values()))),
            tooltip=[alt.Tooltip("period:O", title="Month"), alt.Tooltip("value:Q", format=".2f", title="Value"),
                     alt.Tooltip("type:N", title="Variation")]),
    ]
    if s.target is not None:
        layers.append(alt.Chart(alt.Data(values=[{"y": s.target.value}])).mark_rule(color="#007f3b", strokeDash=[8, 4])
                      .encode(y="y:Q"))
    chart = alt.layer(*layers).properties(width=WIDTH, height=HEIGHT)
    return configure(chart, f"SPC chart (XmR) of {s.indicator.title}, {s.code}")


def _trend_with_gaps(s: Series) -> dict[str, Any]:
    """A monthly trend without process limits, each suppressed month marked as a gap (a
    shaded column labelled "suppressed") and the line broken there."""
    periods = [f.period for f in s.months]
    rows, segment = [], 0
    for f in s.months:
        if f.suppressed or f.value is None:
            segment += 1
            continue
        rows.append({"period": f.period, "value": f.value, "segment": segment})
    gaps = [{"period": p, "label": "suppressed (1 to 7)"} for p in s.suppressed_months]
    x = alt.X("period:O", title="Month", scale=alt.Scale(domain=periods), axis=alt.Axis(labelAngle=-45))
    # zero in view and figures to two places: a series of only zeros would otherwise get
    # a one-value axis labelled "0.000000"
    y = alt.Y("value:Q", title=units.unit(s.indicator, "month") or "Value", scale=alt.Scale(zero=True),
              axis=alt.Axis(format=",.2f"))
    layers = [
        alt.Chart(alt.Data(values=gaps)).mark_bar(color=PALE_GREY, opacity=0.8).encode(
            x=x, tooltip=[alt.Tooltip("period:O", title="Month"), alt.Tooltip("label:N", title="Value")]),
        alt.Chart(alt.Data(values=gaps)).mark_text(angle=270, color=DARK_GREY, fontSize=10, baseline="middle").encode(
            x=x, text="label:N", y=alt.value(HEIGHT / 2)),
        alt.Chart(alt.Data(values=rows)).mark_line(color=MID_GREY).encode(x=x, y=y, detail="segment:N"),
        alt.Chart(alt.Data(values=rows)).mark_circle(size=60, opacity=1, color=NHS_BLUE).encode(
            x=x, y=y, tooltip=[alt.Tooltip("period:O", title="Month"), alt.Tooltip("value:Q", format=".2f", title="Value")]),
    ]
    chart = alt.layer(*layers).properties(width=WIDTH, height=HEIGHT)
    return configure(chart, f"Monthly {s.indicator.title}, {s.code}: suppressed months marked, no process limits")


def inequality_spec(q: Inequality) -> dict[str, Any] | None:
    rows = [{"quintile": f"Q{n}" + (" (most deprived)" if n == 1 else " (least deprived)" if n == 5 else ""),
             "value": f.value, "lower": f.lower, "upper": f.upper} for n, f in q.quintiles if f is not None and f.value is not None]
    if not rows:
        return None
    base = alt.Chart(alt.Data(values=rows)).encode(x=alt.X("quintile:N", title="Deprivation quintile of practices",
                                                           sort=None, axis=alt.Axis(labelAngle=0)))
    title = units.unit(q.indicator, "span") or "Value"
    bars = base.mark_bar(color=NHS_BLUE).encode(y=alt.Y("value:Q", title=title),
                                                tooltip=[alt.Tooltip("value:Q", format=".2f")])
    # the same axis title on both layers, or Vega-Lite joins them ("…, lower")
    errors = base.mark_errorbar(color=DARK_GREY, ticks=True).encode(y=alt.Y("lower:Q", title=title), y2="upper:Q")
    chart = (bars + errors).properties(width=WIDTH, height=HEIGHT * 0.8)
    return configure(chart, f"{q.indicator.title} by deprivation quintile")


def spine_spec(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Fingertips-style spine chart: each indicator's spread of the comparison group
    scaled so its median is at 0 and the furthest value at +/-1; the organisation's value
    as a dot coloured by significance against England, England as a diamond. Each row is
    oriented by its polarity, so **better is always on the right**: a lower-is-better
    indicator's row is mirrored (its lowest value on the right). A row with no better or
    worse (``no_judgement``) runs from lower (left) to higher (right) and says so."""
    data = []
    for r in rows:
        spread = r.get("spread")
        value = finite(r.get("value"))
        if spread is None or value is None:
            continue
        half = max(abs(spread.maximum - spread.median), abs(spread.median - spread.minimum), 1e-12)
        sign = -1.0 if r.get("polarity") == "low_is_good" else 1.0

        def at(x: float | None, median: float = spread.median, scale: float = half, sign: float = sign) -> float | None:
            if finite(x) is None:
                return None
            return max(-1.5, min(1.5, sign * (float(x) - median) / scale))  # type: ignore[arg-type]

        ends = sorted(v for v in (at(spread.minimum), at(spread.maximum)) if v is not None)
        quarters = sorted(v for v in (at(spread.q25), at(spread.q75)) if v is not None)
        orientation = {"low_is_good": "lower is better: mirrored, better on the right",
                       "high_is_good": "higher is better: better on the right"}.get(
            str(r.get("polarity")), "no better or worse: lower on the left, higher on the right")
        judged = r.get("polarity") in ("low_is_good", "high_is_good")
        title = str(r["title"])
        if not judged and len(title) > 44:  # keep the direction marker in sight: shorten the title, not it
            title = title[:43].rstrip() + "…"
        label = title if judged else f"{title} (lower ← → higher)"
        data.append({"indicator": label, "min": ends[0] if ends else None, "max": ends[-1] if ends else None,
                     "q25": quarters[0] if quarters else None, "q75": quarters[-1] if quarters else None,
                     "value": at(value), "england": at(r.get("england")), "orientation": orientation,
                     "significance": r.get("significance", "not compared"), "shown": r.get("shown", "")})
    if not data:
        return None
    colours = {"better 99.8": "#007f3b", "better 95": "#78be20", "similar": "#ffb81c", "worse 95": "#ed8b00",
               "worse 99.8": "#d5281b", "higher 99.8": "#330072", "higher 95": "#41b6e6", "lower 95": "#41b6e6",
               "lower 99.8": "#330072", "not compared": MID_GREY}
    y = alt.Y("indicator:N", title=None, sort=None, axis=alt.Axis(labelLimit=320))
    base = alt.Chart(alt.Data(values=data)).encode(y=y)
    judged_rows = [d for d in data if not str(d["indicator"]).endswith("(lower ← → higher)")]
    if not judged_rows:
        axis_title = "lower ← spread of the comparison group (median at 0) → higher"
    elif len(judged_rows) < len(data):
        axis_title = "worse ← spread (median at 0) → better; rows marked (lower ← → higher): neither is better"
    else:
        axis_title = "worse ← spread of the comparison group (median at 0) → better"
    x = alt.X("min:Q", title=axis_title, scale=alt.Scale(domain=[-1.5, 1.5]),
              axis=alt.Axis(labels=False, ticks=False))
    chart = alt.layer(
        base.mark_bar(color=PALE_GREY, height=14).encode(x=x, x2="max:Q"),
        base.mark_bar(color="#aeb7bd", height=14).encode(x="q25:Q", x2="q75:Q"),
        base.mark_tick(color=DARK_GREY, thickness=2, size=18).encode(x=alt.datum(0)),
        base.mark_point(shape="diamond", filled=True, color="black", size=60).encode(x="england:Q"),
        base.mark_circle(size=140, opacity=1, stroke="black", strokeWidth=0.5).encode(
            x="value:Q", color=alt.Color("significance:N", title="Against England",
                                         scale=alt.Scale(domain=list(colours), range=list(colours.values()))),
            tooltip=[alt.Tooltip("indicator:N"), alt.Tooltip("shown:N", title="Value"),
                     alt.Tooltip("significance:N", title="Against England"),
                     alt.Tooltip("orientation:N", title="Direction")]),
    ).properties(width=WIDTH - 200, height=max(28 * len(data), 60))
    return configure(chart, "Spine chart")
