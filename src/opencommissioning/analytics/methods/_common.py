"""Shared helpers for the statistical methods: validation, confidence levels and
the Byar's / exact Poisson limits used by several methods.

Everything here is vectorised over NumPy arrays; nothing loops over elements.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]
StrArray = NDArray[np.str_]

#: Counts below this use the exact (chi-square based) Poisson limits rather than
#: Byar's approximation, as PHEindicatormethods ``phe_rate`` / ``calculate_ISRatio``.
EXACT_BELOW = 10


@dataclass(frozen=True, eq=False)
class Interval:
    """A point estimate with a confidence interval (all NumPy arrays).

    Scalar inputs give 0-d arrays (``result.value.shape == ()``); use
    ``float(result.value)`` to get a Python float.
    """

    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    confidence: float


def as_float(x: ArrayLike) -> FloatArray:
    """``x`` as a float64 ndarray (0-d for scalars), never a NumPy scalar."""
    return np.asarray(x, dtype=np.float64)


def frozen(x: ArrayLike, *, copy: bool = False) -> FloatArray:
    """A read-only float64 view of ``x`` (result objects are immutable). Use
    ``copy=True`` for arrays that may alias the caller's input."""
    arr = (np.array(x, dtype=np.float64) if copy else np.asarray(x, dtype=np.float64)).view()
    arr.flags.writeable = False
    return arr


def frozen_bool(x: ArrayLike) -> BoolArray:
    arr = np.asarray(x, dtype=np.bool_).view()
    arr.flags.writeable = False
    return arr


def frozen_any(x: NDArray[np.generic]) -> NDArray[np.generic]:
    arr = x.view()
    arr.flags.writeable = False
    return arr


def normalise_confidence(confidence: float, *, allow_one: bool = False) -> float:
    """Return the confidence level as a fraction in (0, 1).

    Accepts a fraction (``0.95``) or, as PHEindicatormethods does, a percentage
    greater than 1 and at most 100 (``95``, ``99.8``). A level of exactly 1 is
    only allowed where the method defines it (Wilson: the interval [0, 1]).
    """
    try:
        c = float(confidence)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"confidence must be a number, got {confidence!r}") from exc
    if 1.0 < c <= 100.0:
        c = c / 100.0
    upper_ok = c <= 1.0 if allow_one else c < 1.0
    if not (0.0 < c and upper_ok) or np.isnan(c):
        bound = "<= 1" if allow_one else "< 1"
        raise ValueError(
            f"confidence must be a fraction 0 < c {bound} (or a percentage up to 100), "
            f"got {confidence!r}"
        )
    return c


def z_two_sided(confidence: float) -> float:
    """The standard normal quantile for a two-sided interval:
    ``qnorm(confidence + (1 - confidence) / 2)`` as PHEindicatormethods writes it."""
    return float(special.ndtri(confidence + (1.0 - confidence) / 2.0))


def index_of(mask: NDArray[np.bool_]) -> int | tuple[int, ...]:
    """The index of the first True element of ``mask``: an int for 1-d input, a
    tuple for n-d input and ``()`` for a 0-d (scalar) input."""
    if mask.ndim == 0:
        return ()
    hit = np.argwhere(mask)[0]
    if hit.size == 1:
        return int(hit[0])
    return tuple(int(i) for i in hit)


def at_index(idx: int | tuple[int, ...]) -> str:
    """`` at index 3`` (empty for a scalar), for error messages."""
    return "" if idx == () else f" at index {idx}"


def require_non_negative(arr: FloatArray, name: str) -> None:
    """Raise ValueError naming the first index where ``arr`` is negative."""
    bad = arr < 0
    if np.any(bad):
        idx = index_of(bad)
        raise ValueError(f"{name} must be >= 0; got {float(arr[idx])!r}{at_index(idx)}")


# --------------------------------------------------------------------------------------
# Byar's method and exact Poisson limits (PHEindicatormethods byars_lower / byars_upper
# and the qchisq-based exact method used by phe_rate for counts < 10).
# --------------------------------------------------------------------------------------


def byars_lower(count: FloatArray, z: float) -> FloatArray:
    """Byar's lower limit for an observed count (Breslow & Day 1987):
    ``O * (1 - 1/(9O) - z/(3 sqrt(O)))^3``; negative results become NaN, as in
    PHEindicatormethods ``byars_lower``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = count * (1.0 - 1.0 / (9.0 * count) - z / (3.0 * np.sqrt(count))) ** 3
    out = as_float(out)
    out[out < 0] = np.nan
    return out


def byars_upper(count: FloatArray, z: float) -> FloatArray:
    """Byar's upper limit: ``(O+1) * (1 - 1/(9(O+1)) + z/(3 sqrt(O+1)))^3``."""
    c1 = count + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return as_float(c1 * (1.0 - 1.0 / (9.0 * c1) + z / (3.0 * np.sqrt(c1))) ** 3)


@lru_cache(maxsize=64)
def _exact_table(confidence: float) -> tuple[FloatArray, FloatArray]:
    """Exact limits for the integer counts 0..9 (cached per confidence level)."""
    k = np.arange(EXACT_BELOW, dtype=np.float64)
    return _exact_lower_raw(k, confidence), _exact_upper_raw(k, confidence)


def _exact_lower_raw(count: FloatArray, confidence: float) -> FloatArray:
    # qchisq((1 - conf)/2, 2x) / 2  ==  gammaincinv(x, (1 - conf)/2);  0 for x = 0
    alpha2 = (1.0 - confidence) / 2.0
    with np.errstate(invalid="ignore"):
        out = as_float(special.gammaincinv(np.where(count > 0, count, 1.0), alpha2))
    out[count == 0] = 0.0
    out[np.isnan(count)] = np.nan
    return out


def _exact_upper_raw(count: FloatArray, confidence: float) -> FloatArray:
    # qchisq(conf + (1 - conf)/2, 2x + 2) / 2  ==  gammaincinv(x + 1, conf + (1-conf)/2)
    return as_float(special.gammaincinv(count + 1.0, confidence + (1.0 - confidence) / 2.0))


def exact_poisson_limits(count: FloatArray, confidence: float) -> tuple[FloatArray, FloatArray]:
    """Exact (Garwood, chi-square based) limits for Poisson counts, any shape.

    Integer counts 0..9 come from a cached table; other counts are computed.
    """
    count = as_float(count)
    lower = np.empty_like(count)
    upper = np.empty_like(count)
    table_lo, table_hi = _exact_table(confidence)
    is_int = (count >= 0) & (count < EXACT_BELOW) & (count == np.floor(count))
    if np.any(is_int):
        k = count[is_int].astype(np.intp)
        lower[is_int] = table_lo[k]
        upper[is_int] = table_hi[k]
    rest = ~is_int
    if np.any(rest):
        lower[rest] = _exact_lower_raw(count[rest], confidence)
        upper[rest] = _exact_upper_raw(count[rest], confidence)
    return lower, upper


def poisson_count_limits(count: ArrayLike, confidence: float) -> tuple[FloatArray, FloatArray]:
    """Confidence limits for an observed Poisson count as PHEindicatormethods
    ``phe_rate``: exact chi-square limits for counts < 10, Byar's otherwise.

    NaN counts give NaN limits.
    """
    count = as_float(count)
    z = z_two_sided(confidence)
    lower = np.full_like(count, np.nan)
    upper = np.full_like(count, np.nan)
    small = count < EXACT_BELOW
    large = count >= EXACT_BELOW
    if np.any(small):
        lo, hi = exact_poisson_limits(count[small], confidence)
        lower[small] = lo
        upper[small] = hi
    if np.any(large):
        c = count[large]
        lower[large] = byars_lower(c, z)
        upper[large] = byars_upper(c, z)
    return lower, upper
