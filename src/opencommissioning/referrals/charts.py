"""The commissioning view's funnel plot as Vega-Lite (drawn by ``core.charts``).

Takes the :class:`~opencommissioning.referrals.commissioning.View` the page shows: each
practice's referral rate per 1,000 registered patients against its list size, the 95% and
99.8% limits and the flags, all from the analytics package. No figure is computed here,
and no patient identifier is in the chart: practices, counts and rates only.
"""

from __future__ import annotations

from typing import Any

import altair as alt

from opencommissioning.core.charts import finite, wants_log_axis
from opencommissioning.core.charts import funnel as funnel_chart

from .commissioning import PracticeRow, View


def _subject(view: View) -> str:
    return f"{view.specialty.name} referrals" if view.specialty else "Referrals"


def _plotted(view: View) -> list[PracticeRow]:
    return [r for r in view.practices if r.patients > 0 and finite(r.rate) is not None]


def funnel_spec(view: View, *, links: dict[str, str]) -> dict[str, Any] | None:
    """The funnel plot, each practice's point linking to ``links[its ODS code]`` (the
    referrals behind its figure); None when the view has no funnel."""
    f = view.funnel
    rows = _plotted(view)
    if f is None or not rows:
        return None
    points = [{"name": r.practice.name, "code": r.practice.ods_code, "x": r.patients, "value": r.rate,
               "referrals": r.referrals, "lower": finite(r.lower), "upper": finite(r.upper), "flag": r.flag,
               "href": links.get(r.practice.ods_code, "")} for r in rows]
    return funnel_chart(
        log_x=wants_log_axis([p["x"] for p in points]),
        points=points, grid=f.grid, lower_95=f.lower_95, upper_95=f.upper_95, lower_998=f.lower_998,
        upper_998=f.upper_998, target=f.target, x_title="Registered patients (latest list size)",
        y_title=f"{_subject(view)} per 1,000 registered patients",
        title=f"Funnel plot of practices: {_subject(view).lower()} per 1,000 patients, {view.month:%B %Y}",
        tooltip=[alt.Tooltip("name:N", title="Practice"), alt.Tooltip("code:N", title="ODS code"),
                 alt.Tooltip("referrals:Q", title="Referrals"), alt.Tooltip("x:Q", title="Registered patients", format=","),
                 alt.Tooltip("value:Q", title="Per 1,000", format=".2f"),
                 alt.Tooltip("lower:Q", title="95% lower", format=".2f"),
                 alt.Tooltip("upper:Q", title="95% upper", format=".2f"), alt.Tooltip("flag:N", title="Flag")])


def funnel_description(view: View) -> str:
    """The chart's text alternative: what is plotted and which practices lie outside."""
    if view.funnel is None:
        return ""
    rows = _plotted(view)

    def named(prefix: str) -> str:
        # flags are "high 99.8", "high 95", "low 95", "low 99.8" (analytics.methods.FunnelFlag)
        return ", ".join(f"{r.practice.name} (outside the {r.flag.split()[1]}% limits)" for r in rows
                         if r.flag.startswith(prefix))

    log = wants_log_axis([r.patients for r in rows])
    text = (f"{len(rows)} practices plotted: {_subject(view).lower()} per 1,000 registered patients against list size"
            f"{' (on a log scale: the list sizes span more than a hundredfold)' if log else ''}, "
            f"around the overall rate of {view.funnel.target:.2f}. ")
    high, low = named("high"), named("low")
    text += f"Above the limits: {high}. " if high else "None is above the limits. "
    text += f"Below the limits: {low}." if low else "None is below the limits."
    return text
