"""Means with Student's t confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from ._common import FloatArray, Interval, as_float, frozen, normalise_confidence


@dataclass(frozen=True, eq=False)
class MeanResult(Interval):
    """``sum``, ``count`` and ``stdev`` are the summary statistics used
    (``stdev`` is the sample standard deviation, divisor n - 1)."""

    sum: FloatArray
    count: FloatArray
    stdev: FloatArray
    method: str


def mean(
    values_or_sums: ArrayLike | None = None,
    *,
    counts: ArrayLike | None = None,
    stdevs: ArrayLike | None = None,
    sums: ArrayLike | None = None,
    confidence: float = 0.95,
    axis: int = -1,
) -> MeanResult:
    """A mean with Student's t confidence limits, as PHEindicatormethods ``phe_mean``:
    ``mean ± |qt((1-c)/2, n-1)| · sd / sqrt(n)`` (Student 1908, *Biometrika* 6:1-25).

    Two ways to call it:

    * **Raw values** – ``mean(values)``: the mean of ``values`` along ``axis``
      (default the last axis, so a 1-d array gives one 0-d result and a 2-d
      ``(groups, observations)`` array gives one mean per row). NaN values are
      ignored (they do not count towards ``n``).
    * **Summaries** – ``mean(sums, counts=..., stdevs=...)`` (or ``sums=`` as a
      keyword): per-group value sums, counts and sample standard deviations, any
      broadcast-compatible shapes.

    Edge cases
    ----------
    * ``n = 1`` gives the value with NaN limits (the t quantile has no degrees of
      freedom; R's ``qt`` gives NaN too); ``n = 0`` gives NaN throughout.
    * Negative counts or standard deviations raise ``ValueError``.
    """
    conf = normalise_confidence(confidence)
    summary_mode = counts is not None or stdevs is not None or sums is not None
    if summary_mode:
        if sums is not None and values_or_sums is not None:
            raise ValueError("give the sums either positionally or as sums=, not both")
        raw_sums = sums if sums is not None else values_or_sums
        if raw_sums is None or counts is None or stdevs is None:
            raise ValueError("summary mode needs sums, counts and stdevs")
        s, n, sd = (as_float(a) for a in np.broadcast_arrays(raw_sums, counts, stdevs))
        if np.any(n < 0):
            raise ValueError("counts must be >= 0")
        if np.any(sd < 0):
            raise ValueError("stdevs must be >= 0")
    else:
        if values_or_sums is None:
            raise ValueError("give either values, or sums with counts= and stdevs=")
        v = as_float(values_or_sums)
        if v.ndim == 0:
            v = v.reshape(1)
        valid = ~np.isnan(v)
        n = as_float(np.sum(valid, axis=axis))
        s = as_float(np.sum(np.where(valid, v, 0.0), axis=axis))
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = s / n
            dev = np.where(valid, v - np.expand_dims(mu, axis), 0.0)
            sd = as_float(np.sqrt(np.sum(dev * dev, axis=axis) / (n - 1.0)))
        sd = as_float(np.where(n > 1, sd, np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = as_float(s / n)
        df = n - 1.0
        tq = np.abs(special.stdtrit(np.where(df > 0, df, 1.0), (1.0 - conf) / 2.0))
        half = as_float(np.where(df > 0, tq * sd / np.sqrt(n), np.nan))
    return MeanResult(
        value=frozen(value),
        lower=frozen(value - half),
        upper=frozen(value + half),
        confidence=conf,
        sum=frozen(s, copy=True),
        count=frozen(n, copy=True),
        stdev=frozen(sd, copy=True),
        method="Student's t-distribution",
    )
