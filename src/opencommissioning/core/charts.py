"""What every chart in the pages shares: NHS colours, the funnel plot, and PNG/SVG export.

Charts are Vega-Lite specifications built with Altair. A page embeds one with
``templates/components/chart.html`` (the specification in a JSON script element, a text
alternative beside it, export links); ``static/opencommissioning/charts.js`` draws it with
vega-embed from our own static files (``components/chart_scripts.html`` loads them), so
nothing is fetched from another host. :func:`export` draws the same specification as PNG
or SVG with vl-convert, for board papers.

Nothing here computes a figure: values, limits and flags come from the analytics package
through each domain's queries. The domain apps (``needs.charts``, ``referrals.charts``)
turn their own results into the inputs below.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import altair as alt

NHS_BLUE, DARK_GREY, MID_GREY, PALE_GREY = "#005eb8", "#425563", "#768692", "#d8dde0"
WIDTH, HEIGHT = 640, 360

# Funnel plot flags, as analytics.methods.funnel_significance names them.
FLAG_COLOURS = {"high 99.8": "#d5281b", "high 95": "#ed8b00", "within": "#007f3b", "low 95": "#41b6e6",
                "low 99.8": "#330072", "n/a": MID_GREY}
FLAG_TEXT = {"high 99.8": "High (outside 99.8% limits)", "high 95": "High (outside 95% limits)", "within": "Within limits",
             "low 95": "Low (outside 95% limits)", "low 99.8": "Low (outside 99.8% limits)", "n/a": "Not plotted"}
FLAG_TAG_COLOURS = {"high 99.8": "red", "high 95": "orange", "within": "green", "low 95": "blue", "low 99.8": "purple",
                    "n/a": "grey"}  # the NHS.UK tag (nhsuk-tag--<colour>) beside a flag in a table


def finite(x: float | None) -> float | None:
    """``x``, or None when it is missing, NaN or infinite (Vega-Lite has no NaN)."""
    return x if x is not None and math.isfinite(x) else None


def configure(chart: alt.TopLevelMixin, title: str) -> dict[str, Any]:
    """The house style (Arial, readable axis and legend text) and a title; the
    specification as a dict without its ``$schema`` (vega-embed and vl-convert need none)."""
    spec: dict[str, Any] = chart.properties(title=title).configure(font="Arial").configure_axis(
        labelFontSize=12, titleFontSize=13).configure_legend(labelFontSize=12, titleFontSize=13).to_dict()
    spec.pop("$schema", None)
    return spec


def wants_log_axis(sizes: Sequence[float]) -> bool:
    """Do the funnel's denominators span more than two orders of magnitude? Then its x
    axis is drawn on a log scale, or the small ones are squashed against the axis."""
    xs = [float(x) for x in sizes if finite(x) is not None and float(x) > 0]
    return bool(xs) and max(xs) / min(xs) > 100


def funnel(*, points: list[dict[str, Any]], grid: Sequence[float], lower_95: Sequence[float], upper_95: Sequence[float],
           lower_998: Sequence[float], upper_998: Sequence[float], target: float, x_title: str, y_title: str,
           title: str, tooltip: list[alt.Tooltip], log_x: bool = False) -> dict[str, Any]:
    """A funnel plot: each point's ``value`` against its ``x``, coloured by its ``flag``
    (``FLAG_COLOURS``) and linking to its ``href`` (empty: no link); the 95% (dashed) and
    99.8% (dotted) limits over ``grid``; the ``target`` as a blue rule. ``tooltip`` names
    the point fields to show on hover. ``log_x`` draws the x axis on a log scale (said in
    its title), for denominators spanning orders of magnitude; the limits are evaluated at
    each grid point, so they are drawn correctly on either scale."""
    limits = []
    for x, lo95, hi95, lo998, hi998 in zip(grid, lower_95, upper_95, lower_998, upper_998, strict=True):
        for line, side, y in (("95% limits", "lower", lo95), ("95% limits", "upper", hi95),
                              ("99.8% limits", "lower", lo998), ("99.8% limits", "upper", hi998)):
            if finite(y) is not None:
                limits.append({"x": x, "y": y, "line": line, "side": side})
    base_x = alt.X("x:Q", title=f"{x_title} (log scale)" if log_x else x_title,
                   scale=alt.Scale(type="log") if log_x else alt.Scale(zero=False))
    # the y axis spans the points and the target with room either side; limit lines beyond
    # it (a very small organisation's funnel opens wide) are clipped rather than squashing
    # every point into a flat line at the bottom
    seen = [v for v in (finite(pt.get("value")) for pt in points) if v is not None] + [target]
    low, high = min(seen), max(seen)
    pad = (high - low) * 0.5 or abs(target) * 0.5 or 1.0
    y_scale = alt.Scale(domain=[max(0.0, low - pad) if low >= 0 else low - pad, high + pad], nice=False)
    lines = alt.Chart(alt.Data(values=limits)).mark_line(strokeWidth=1.5, clip=True).encode(
        x=base_x, y=alt.Y("y:Q", title=y_title, scale=y_scale),
        detail="side:N", strokeDash=alt.StrokeDash("line:N", title="Control limits", scale=alt.Scale(
            domain=["95% limits", "99.8% limits"], range=[[6, 4], [2, 3]])),
        color=alt.value(DARK_GREY))
    rule = alt.Chart(alt.Data(values=[{"y": target}])).mark_rule(color=NHS_BLUE, strokeWidth=2).encode(
        y=alt.Y("y:Q", scale=y_scale))
    dots = alt.Chart(alt.Data(values=points)).mark_circle(size=70, opacity=0.9, stroke="white", strokeWidth=0.5).encode(
        x=base_x, y=alt.Y("value:Q", scale=y_scale),
        color=alt.Color("flag:N", title="Against the funnel", scale=alt.Scale(
            domain=list(FLAG_COLOURS), range=list(FLAG_COLOURS.values()))),
        href="href:N", tooltip=tooltip)
    chart = (lines + rule + dots).properties(width=WIDTH, height=HEIGHT)
    return configure(chart, title)


def without_links(spec: Any) -> Any:
    """A copy of ``spec`` with every ``href`` encoding taken out: a link in an exported
    chart would point nowhere once the file is in a board paper."""
    if isinstance(spec, dict):
        return {k: without_links(v) for k, v in spec.items()
                if not (k == "href" and isinstance(v, dict) and "field" in v)}
    if isinstance(spec, list):
        return [without_links(v) for v in spec]
    return spec


def export(spec: dict[str, Any], fmt: str) -> bytes:
    """The chart as PNG (2x scale) or SVG, drawn by vl-convert (no browser, no network),
    without its links."""
    import vl_convert as vlc

    plain = without_links(spec)
    if fmt == "svg":
        return vlc.vegalite_to_svg(vl_spec=plain).encode("utf-8")
    if fmt == "png":
        return bytes(vlc.vegalite_to_png(vl_spec=plain, scale=2))
    raise ValueError(f"unknown format {fmt!r}")
