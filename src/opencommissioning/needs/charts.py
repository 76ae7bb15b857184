"""Vega-Lite charts (built with Altair) for the needs pages, and their PNG/SVG export.

Each function takes what ``queries`` returns and gives a Vega-Lite specification: the page
embeds it with vega-embed (served from our own static files, actions off, so nothing is
fetched from another host) beside a data table and a text alternative; ``export`` turns
the same specification into PNG or SVG with vl-convert for board papers. No figure is
computed here: values, limits and flags come from the stored values and
``analytics.profiles``.
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt

from .queries import Inequality, Series, Variation

NHS_BLUE, DARK_GREY, MID_GREY, PALE_GREY = "#005eb8", "#425563", "#768692", "#d8dde0"
FLAG_COLOURS = {"high 99.8": "#d5281b", "high 95": "#ed8b00", "within": "#007f3b", "low 95": "#41b6e6",
                "low 99.8": "#330072", "n/a": MID_GREY}
POINT_COLOURS = {"common_cause": MID_GREY, "special_cause_improvement": "#41b6e6", "special_cause_concern": "#ed8b00",
                 "special_cause_neutral_high": "#330072", "special_cause_neutral_low": "#330072"}
WIDTH, HEIGHT = 640, 360


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _config(chart: alt.TopLevelMixin, title: str) -> dict[str, Any]:
    spec: dict[str, Any] = chart.properties(title=title).configure(font="Arial").configure_axis(
        labelFontSize=12, titleFontSize=13).configure_legend(labelFontSize=12, titleFontSize=13).to_dict()
    spec.pop("$schema", None)
    return spec


def funnel_spec(v: Variation, *, links: dict[str, str] | None = None) -> dict[str, Any] | None:
    f = v.funnel
    if f is None or not v.points:
        return None
    unit = v.indicator.unit or ""
    points = [{"name": p.name, "code": p.code, "x": p.x, "value": p.figure.value, "flag": p.flag,
               "lower": p.figure.lower, "upper": p.figure.upper, "href": (links or {}).get(p.code, "")}
              for p in v.points if p.figure.value is not None]
    limits = []
    for x, lo95, hi95, lo998, hi998 in zip(f.grid, f.lower_95, f.upper_95, f.lower_998, f.upper_998, strict=True):
        for name, y in (("95% limits", lo95), ("95% limits ", hi95), ("99.8% limits", lo998), ("99.8% limits ", hi998)):
            if _finite(y) is not None:
                limits.append({"x": x, "y": y, "line": name.strip(), "side": "upper" if name.endswith(" ") else "lower"})
    base_x = alt.X("x:Q", title=f.x_label, scale=alt.Scale(zero=False))
    lines = alt.Chart(alt.Data(values=limits)).mark_line(strokeWidth=1.5).encode(
        x=base_x, y=alt.Y("y:Q", title=f"{v.indicator.title} ({unit})" if unit else v.indicator.title),
        detail="side:N", strokeDash=alt.StrokeDash("line:N", title="Control limits", scale=alt.Scale(
            domain=["95% limits", "99.8% limits"], range=[[6, 4], [2, 3]])),
        color=alt.value(DARK_GREY))
    target = alt.Chart(alt.Data(values=[{"y": f.target}])).mark_rule(color=NHS_BLUE, strokeWidth=2).encode(y="y:Q")
    dots = alt.Chart(alt.Data(values=points)).mark_circle(size=70, opacity=0.9, stroke="white", strokeWidth=0.5).encode(
        x=base_x, y="value:Q",
        color=alt.Color("flag:N", title="Against the funnel", scale=alt.Scale(
            domain=list(FLAG_COLOURS), range=list(FLAG_COLOURS.values()))),
        href="href:N",
        tooltip=[alt.Tooltip("name:N", title="Organisation"), alt.Tooltip("value:Q", title="Value", format=".2f"),
                 alt.Tooltip("lower:Q", title="95% lower", format=".2f"),
                 alt.Tooltip("upper:Q", title="95% upper", format=".2f"), alt.Tooltip("flag:N", title="Flag")])
    chart = (lines + target + dots).properties(width=WIDTH, height=HEIGHT)
    what = "practices" if v.of == "practices" else "commissioners"
    return _config(chart, f"Funnel plot of {what}: {v.indicator.title}")


def spc_spec(s: Series) -> dict[str, Any] | None:
    if s.spc is None:
        return None
    rows = [{"period": p, "value": val, "mean": m, "lower": lo, "upper": hi, "type": t.replace("_", " ")}
            for p, val, m, lo, hi, t in zip(s.periods, s.spc.values, s.spc.mean, s.spc.lower, s.spc.upper,
                                             s.spc.point_type, strict=True)]
    x = alt.X("period:O", title="Month", axis=alt.Axis(labelAngle=-45))
    base = alt.Chart(alt.Data(values=rows)).encode(x=x)
    layers = [
        base.mark_line(color=MID_GREY).encode(y=alt.Y("value:Q", title=s.indicator.unit or "Value", scale=alt.Scale(zero=False))),
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
    return _config(chart, f"SPC chart (XmR) of {s.indicator.title}, {s.code}")


def inequality_spec(q: Inequality) -> dict[str, Any] | None:
    rows = [{"quintile": f"Q{n}" + (" (most deprived)" if n == 1 else " (least deprived)" if n == 5 else ""),
             "value": f.value, "lower": f.lower, "upper": f.upper} for n, f in q.quintiles if f is not None and f.value is not None]
    if not rows:
        return None
    base = alt.Chart(alt.Data(values=rows)).encode(x=alt.X("quintile:N", title="Deprivation quintile of practices",
                                                           sort=None, axis=alt.Axis(labelAngle=0)))
    bars = base.mark_bar(color=NHS_BLUE).encode(y=alt.Y("value:Q", title=q.indicator.unit or "Value"),
                                                tooltip=[alt.Tooltip("value:Q", format=".2f")])
    errors = base.mark_errorbar(color=DARK_GREY, ticks=True).encode(y="lower:Q", y2="upper:Q")
    chart = (bars + errors).properties(width=WIDTH, height=HEIGHT * 0.8)
    return _config(chart, f"{q.indicator.title} by deprivation quintile")


def spine_spec(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Fingertips-style spine chart: each indicator's spread of the comparison group
    scaled so its median is at 0 and the furthest value at +/-1; the organisation's value
    as a dot coloured by significance against England, England as a diamond."""
    data = []
    for r in rows:
        spread = r.get("spread")
        value = _finite(r.get("value"))
        if spread is None or value is None:
            continue
        half = max(abs(spread.maximum - spread.median), abs(spread.median - spread.minimum), 1e-12)

        def at(x: float | None, median: float = spread.median, scale: float = half) -> float | None:
            return None if _finite(x) is None else max(-1.5, min(1.5, (float(x) - median) / scale))  # type: ignore[arg-type]

        data.append({"indicator": r["title"], "min": at(spread.minimum), "q25": at(spread.q25), "q75": at(spread.q75),
                     "max": at(spread.maximum), "value": at(value), "england": at(r.get("england")),
                     "significance": r.get("significance", "not compared"), "shown": r.get("shown", "")})
    if not data:
        return None
    colours = {"better 99.8": "#007f3b", "better 95": "#78be20", "similar": "#ffb81c", "worse 95": "#ed8b00",
               "worse 99.8": "#d5281b", "higher 99.8": "#330072", "higher 95": "#41b6e6", "lower 95": "#41b6e6",
               "lower 99.8": "#330072", "not compared": MID_GREY}
    y = alt.Y("indicator:N", title=None, sort=None, axis=alt.Axis(labelLimit=320))
    base = alt.Chart(alt.Data(values=data)).encode(y=y)
    x = alt.X("min:Q", title="Worst ← spread of the comparison group (median at 0) → highest", scale=alt.Scale(domain=[-1.5, 1.5]),
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
                     alt.Tooltip("significance:N", title="Against England")]),
    ).properties(width=WIDTH - 200, height=max(28 * len(data), 60))
    return _config(chart, "Spine chart")


def export(spec: dict[str, Any], fmt: str) -> bytes:
    """The chart as PNG (2x scale) or SVG, drawn by vl-convert (no browser, no network)."""
    import vl_convert as vlc

    if fmt == "svg":
        return vlc.vegalite_to_svg(vl_spec=spec).encode("utf-8")
    if fmt == "png":
        return bytes(vlc.vegalite_to_png(vl_spec=spec, scale=2))
    raise ValueError(f"unknown format {fmt!r}")
