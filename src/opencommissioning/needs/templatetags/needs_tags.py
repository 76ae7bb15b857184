"""Formatting for needs pages: numbers, intervals and significance colours."""

from __future__ import annotations

import math
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from opencommissioning.analytics.profiles import ASSURANCE_TEXT, VARIATION_TEXT
from opencommissioning.core.charts import FLAG_TAG_COLOURS, FLAG_TEXT
from opencommissioning.needs import units

register = template.Library()


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


@register.filter
def count_label(ind: Any) -> str:
    return _first_upper(units.count_label(ind)) if ind is not None else "Count"


@register.filter
def denominator_label(ind: Any, period_kind: str = "span") -> str:
    return _first_upper(units.denominator_label(ind, period_kind)) if ind is not None else "Denominator"


@register.filter
def unit_of(ind: Any, period_kind: str = "span") -> str:
    return units.unit(ind, period_kind) if ind is not None else ""


@register.filter
def title_of(ind: Any) -> str:
    return units.title(ind) if ind is not None else ""


SIGNIFICANCE_COLOURS = {"better 99.8": "green", "better 95": "aqua-green", "similar": "yellow", "worse 95": "orange",
                        "worse 99.8": "red", "higher 99.8": "purple", "higher 95": "blue", "lower 95": "blue",
                        "lower 99.8": "purple", "not compared": "grey"}
SIGNIFICANCE_TEXT = {"better 99.8": "Better (99.8%)", "better 95": "Better (95%)", "similar": "Similar",
                     "worse 95": "Worse (95%)", "worse 99.8": "Worse (99.8%)", "higher 99.8": "Higher (99.8%)",
                     "higher 95": "Higher (95%)", "lower 95": "Lower (95%)", "lower 99.8": "Lower (99.8%)",
                     "not compared": "Not compared"}


@register.filter
def num(value: Any, digits: int = 2) -> str:
    """A number to ``digits`` decimal places with thousands separators; a dash for none."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(number):
        return "–"
    return f"{number:,.{int(digits)}f}"


@register.filter
def count(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "*"
    return f"{number:,.0f}" if math.isfinite(number) else "*"


@register.filter
def sig_colour(value: str) -> str:
    return SIGNIFICANCE_COLOURS.get(value, "grey")


@register.filter
def sig_text(value: str) -> str:
    return SIGNIFICANCE_TEXT.get(value, value)


@register.filter
def flag_text(value: str) -> str:
    return FLAG_TEXT.get(value, value)


@register.filter
def flag_colour(value: str) -> str:
    return FLAG_TAG_COLOURS.get(value, "grey")


@register.filter
def get(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def percent(value: Any) -> str:
    try:
        return f"{100 * float(value):.1f}%"
    except (TypeError, ValueError):
        return "–"


POINT_TEXT = {"common_cause": "Common cause", "special_cause_improvement": "Special cause: improvement",
              "special_cause_concern": "Special cause: concern", "special_cause_neutral_high": "Special cause: higher",
              "special_cause_neutral_low": "Special cause: lower"}


@register.filter
def point_text(value: str) -> str:
    return POINT_TEXT.get(value, value)


# -- Making Data Count icons -------------------------------------------------------------
# Our own drawings in the style of NHS England's "Making Data Count" icons: a circle whose
# colour says improvement (blue), concern (orange), neither (purple) or common cause
# (grey), with a small run of points and a letter (H higher, L lower; P pass, F fail, ?
# hit and miss). Each is an inline SVG with role="img" and its meaning as the text
# alternative, so the page reads the same without the picture.

MDC_BLUE, MDC_ORANGE, MDC_PURPLE, MDC_GREY = "#289de0", "#fab428", "#361475", "#a6a6a6"

VARIATION_ICONS: dict[str, tuple[str, str, str]] = {
    # key: (colour, letter, trend of the little points: "flat", "up" or "down")
    "common_cause": (MDC_GREY, "", "flat"),
    "improvement_high": (MDC_BLUE, "H", "up"),
    "improvement_low": (MDC_BLUE, "L", "down"),
    "concern_high": (MDC_ORANGE, "H", "up"),
    "concern_low": (MDC_ORANGE, "L", "down"),
    "neutral_high": (MDC_PURPLE, "H", "up"),
    "neutral_low": (MDC_PURPLE, "L", "down"),
}
ASSURANCE_ICONS: dict[str, tuple[str, str]] = {
    "consistent_pass": (MDC_BLUE, "P"),
    "consistent_fail": (MDC_ORANGE, "F"),
    "inconsistent": (MDC_GREY, "?"),
}


def _svg(label: str, colour: str, inner: str, key: str) -> str:
    return (f'<svg class="oc-mdc-icon" data-icon="{escape(key)}" role="img" aria-label="{escape(label)}" '
            f'width="40" height="40" viewBox="0 0 40 40" xmlns="http://www.w3.org/2000/svg" focusable="false">'
            f"<title>{escape(label)}</title>"
            f'<circle cx="20" cy="20" r="18" fill="#fff" stroke="{colour}" stroke-width="3"/>{inner}</svg>')


@register.simple_tag
def mdc_icon(key: str | None) -> str:
    """The Making Data Count icon for a variation or assurance result (empty for none)."""
    if not key:
        return ""
    if key in VARIATION_ICONS:
        colour, letter, trend = VARIATION_ICONS[key]
        ys = {"flat": [22, 22, 22, 22, 22], "up": [27, 25, 23, 18, 14], "down": [13, 15, 17, 22, 26]}[trend]
        dots = "".join(f'<circle cx="{9 + 5.5 * i:.1f}" cy="{y}" r="2.2" fill="{colour if i >= 3 and trend != "flat" else MDC_GREY}"/>'
                       for i, y in enumerate(ys))
        line = "".join(f"{9 + 5.5 * i:.1f},{y} " for i, y in enumerate(ys))
        text = (f'<text x="20" y="{33 if trend == "down" else 13}" font-size="10" font-weight="bold" text-anchor="middle" '
                f'font-family="Arial, sans-serif" fill="{colour}">{letter}</text>') if letter else ""
        inner = f'<polyline points="{line.strip()}" fill="none" stroke="{MDC_GREY}" stroke-width="1"/>{dots}{text}'
        return mark_safe(_svg(VARIATION_TEXT.get(key, key), colour, inner, key))  # noqa: S308 - built here, escaped
    if key in ASSURANCE_ICONS:
        colour, letter = ASSURANCE_ICONS[key]
        inner = (f'<line x1="8" y1="14" x2="32" y2="14" stroke="{colour}" stroke-width="1.5" stroke-dasharray="3 2"/>'
                 f'<line x1="8" y1="27" x2="32" y2="27" stroke="{colour}" stroke-width="1.5" stroke-dasharray="3 2"/>'
                 f'<text x="20" y="24.5" font-size="13" font-weight="bold" text-anchor="middle" '
                 f'font-family="Arial, sans-serif" fill="{colour}">{letter}</text>')
        return mark_safe(_svg(ASSURANCE_TEXT.get(key, key), colour, inner, key))  # noqa: S308 - built here, escaped
    return ""
