"""How a page names an indicator's unit and counts (display only; the numbers come from the
analytics package).

A year figure is **per year** over the **average registered population** of the year
(``analytics.assessment`` turns person-months into an average population); a monthly figure
is per month. The catalogue's ``unit`` is written for a month ("per 1,000 registered
patients per month"), so a year figure's unit says "per year" instead. Titles that already
end with the unit's "per 1,000 registered patients" lose it, so a heading names the unit
once. Every count says what it counts.
"""

from __future__ import annotations

import re

from opencommissioning.analytics.assessment import rate_per_year
from opencommissioning.analytics.catalogue import Indicator

SETTING_NOUNS = {
    "admission": "admissions",
    "outpatient_referral": "referrals",
    "outpatient_attendance": "outpatient attendances",
    "ae_attendance": "A&E attendances",
    "prescription": "items prescribed",
    "register": "patients on the register",
}


def unit(ind: Indicator, period_kind: str = "span") -> str:
    """The catalogue's unit (written for a month); for a year's figure of a rate the
    assessment makes per year (:func:`analytics.assessment.rate_per_year`), per year."""
    text = ind.unit or ""
    if period_kind == "span" and rate_per_year(ind):
        return text.replace("per month", "per year")
    return text


def title(ind: Indicator) -> str:
    """The title without a trailing "per 1,000 registered patients" that the unit repeats."""
    core = re.sub(r",?\s+per [\d,]+ registered patients$", "", ind.title)
    return core if core and core != ind.title and re.search(r"per [\d,]+ registered patients", ind.unit or "") else ind.title


def heading(ind: Indicator, period_kind: str = "span") -> str:
    """The title and the unit, the unit once."""
    u = unit(ind, period_kind)
    return f"{title(ind)} ({u})" if u else title(ind)


def _setting(ind: Indicator, which: str) -> str:
    q = ind.numerator if which == "numerator" else ind.denominator
    if q is None:
        return ""
    settings = [str(v) for c in q.where if c.column == "setting" for v in c.values]
    methods = [str(v) for c in q.where if c.column == "admission_method" for v in c.values]
    noun = SETTING_NOUNS.get(settings[0], "events") if settings else "events"
    if noun == "admissions" and methods:
        noun = f"{methods[0]} admissions"
    return noun


def count_label(ind: Indicator) -> str:
    """What an indicator's count (numerator) counts."""
    q = ind.numerator
    if ind.method == "mean":
        return "bed-days" if q.column == "length_of_stay" else f"total {q.column or 'value'}"
    if q.table == "population":
        return "registered patients"
    if q.measure == "persons":
        return "patients on the register (average over the months)"
    noun = _setting(ind, "numerator")
    if ind.method == "proportion" and ind.denominator is not None and ind.denominator.table != "population":
        return f"{noun} meeting the standard"
    return noun


def denominator_label(ind: Indicator, period_kind: str = "span") -> str:
    """What an indicator's denominator counts (a year's registered population is the
    average over its months)."""
    if ind.method == "mean":
        return "stays" if ind.numerator.column == "length_of_stay" else "cases"
    q = ind.denominator
    if q is None or q.table == "population":
        return "registered patients" + (" (average over the year)" if period_kind == "span" else "")
    return _setting(ind, "denominator")
