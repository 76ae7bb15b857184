"""Formatting for needs pages: numbers, intervals and significance colours."""

from __future__ import annotations

import math
from typing import Any

from django import template

from opencommissioning.core.charts import FLAG_TAG_COLOURS, FLAG_TEXT

register = template.Library()

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
