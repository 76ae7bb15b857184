"""Proportions with Wilson score confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._common import (
    FloatArray,
    Interval,
    as_float,
    at_index,
    frozen,
    index_of,
    normalise_confidence,
    require_non_negative,
    z_two_sided,
)


@dataclass(frozen=True, eq=False)
class ProportionResult(Interval):
    """``value``, ``lower`` and ``upper`` are on the multiplier scale
    (``multiplier=100`` gives percentages)."""

    numerator: FloatArray
    denominator: FloatArray
    multiplier: float
    method: str


def wilson_limits(
    numerator: FloatArray, denominator: FloatArray, confidence: float
) -> tuple[FloatArray, FloatArray]:
    """Wilson score limits on the 0-1 scale (PHEindicatormethods ``wilson_lower`` /
    ``wilson_upper``): ``(2x + z² ∓ z sqrt(z² + 4x(1 - x/n))) / (2(n + z²))``.

    A confidence of exactly 1 gives [0, 1], as PHEindicatormethods does.
    """
    if confidence == 1.0:
        shape = np.broadcast(numerator, denominator).shape
        return np.zeros(shape), np.ones(shape)
    z = z_two_sided(confidence)
    z2 = z * z
    x, n = numerator, denominator
    with np.errstate(divide="ignore", invalid="ignore"):
        root = z * np.sqrt(z2 + 4.0 * x * (1.0 - x / n))
        centre = 2.0 * x + z2
        denom = 2.0 * (n + z2)
        lower = (centre - root) / denom
        upper = (centre + root) / denom
    return as_float(lower), as_float(upper)


def proportion(
    numerator: ArrayLike,
    denominator: ArrayLike,
    confidence: float = 0.95,
    multiplier: float = 1,
) -> ProportionResult:
    """A proportion with Wilson score confidence limits.

    Source: Wilson EB (1927) *Probable inference, the law of succession, and
    statistical inference*, JASA 22:209-212; Newcombe & Altman in *Statistics with
    Confidence* (2000), pp. 46-48. Implemented as PHEindicatormethods
    ``phe_proportion`` (functions ``wilson_lower`` / ``wilson_upper``).

    Parameters
    ----------
    numerator, denominator:
        Counts; any broadcast-compatible shapes (scalars give 0-d arrays).
    confidence:
        Two-sided level as a fraction (``0.95``) or a percentage (``95``, ``99.8``).
        Exactly 1 gives the interval [0, 1] (as PHEindicatormethods).
    multiplier:
        Scale of the output (``100`` for percentages).

    Edge cases
    ----------
    * A zero denominator gives NaN for the value and both limits (PHEindicatormethods
      raises instead; NaN lets a vectorised table carry on).
    * A numerator greater than its denominator raises ``ValueError`` naming the index.
    * Negative numerators or denominators raise ``ValueError``.
    * NaN inputs propagate to NaN outputs.
    """
    conf = normalise_confidence(confidence, allow_one=True)
    x, n = np.broadcast_arrays(as_float(numerator), as_float(denominator))
    x = as_float(x)
    n = as_float(n)
    require_non_negative(x, "numerator")
    require_non_negative(n, "denominator")
    too_big = x > n
    if np.any(too_big):
        idx = index_of(too_big)
        raise ValueError(
            f"numerator must not exceed denominator{at_index(idx)}: "
            f"numerator {float(x[idx])!r} > denominator {float(n[idx])!r}"
        )
    lower, upper = wilson_limits(x, n, conf)
    zero = n == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = as_float(x / n)
    value[zero] = np.nan
    lower[zero] = np.nan
    upper[zero] = np.nan
    m = float(multiplier)
    return ProportionResult(
        value=frozen(value * m),
        lower=frozen(lower * m),
        upper=frozen(upper * m),
        confidence=conf,
        numerator=frozen(x, copy=True),
        denominator=frozen(n, copy=True),
        multiplier=m,
        method="Wilson",
    )
