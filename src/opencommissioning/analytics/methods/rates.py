"""Crude rates with Byar's / exact Poisson confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._common import (
    EXACT_BELOW,
    BoolArray,
    FloatArray,
    Interval,
    as_float,
    frozen,
    frozen_bool,
    normalise_confidence,
    poisson_count_limits,
    require_non_negative,
)


@dataclass(frozen=True, eq=False)
class RateResult(Interval):
    """``value``/``lower``/``upper`` are per ``multiplier`` of the denominator.

    ``exact`` is True where the exact Poisson method was used (count < 10) and
    False where Byar's method was used.
    """

    count: FloatArray
    denominator: FloatArray
    multiplier: float
    exact: BoolArray


def rate(
    count: ArrayLike,
    denominator: ArrayLike,
    confidence: float = 0.95,
    multiplier: float = 100_000,
) -> RateResult:
    """A crude rate with Poisson confidence limits.

    Byar's method (Breslow NE, Day NE. *Statistical methods in cancer research,
    vol. II*, IARC 1987) for counts of 10 or more; for counts below 10 the exact
    method (Armitage P, Berry G. *Statistical methods in medical research*, 4th ed.,
    2002): ``qchisq((1-c)/2, 2x)/2`` and ``qchisq(c+(1-c)/2, 2x+2)/2``. Exactly as
    PHEindicatormethods ``phe_rate`` (``byars_lower`` / ``byars_upper``).

    Parameters
    ----------
    count, denominator:
        Events and population (or person-time); broadcast-compatible, scalars give
        0-d arrays.
    confidence:
        Fraction (``0.95``) or percentage (``99.8``).
    multiplier:
        Rate per this many of the denominator (default per 100,000).

    Edge cases
    ----------
    * Zero events: lower limit 0, upper ``qchisq(c+(1-c)/2, 2)/2`` (3.689 at 95%).
    * A zero denominator gives NaN (PHEindicatormethods raises instead).
    * Negative counts or denominators raise ``ValueError`` naming the index.
    * Non-integer counts are accepted (the chi-square quantiles are continuous).
    """
    conf = normalise_confidence(confidence)
    x, n = np.broadcast_arrays(as_float(count), as_float(denominator))
    x = as_float(x)
    n = as_float(n)
    require_non_negative(x, "count")
    require_non_negative(n, "denominator")
    lo, hi = poisson_count_limits(x, conf)
    m = float(multiplier)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(n > 0, m / np.where(n > 0, n, 1.0), np.nan)
    return RateResult(
        value=frozen(x * scale),
        lower=frozen(lo * scale),
        upper=frozen(hi * scale),
        confidence=conf,
        count=frozen(x, copy=True),
        denominator=frozen(n, copy=True),
        multiplier=m,
        exact=frozen_bool(x < EXACT_BELOW),
    )
