"""Health inequality measures: quantile assignment and the slope / relative index
of inequality."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from ._common import (
    BoolArray,
    FloatArray,
    IntArray,
    as_float,
    frozen,
    frozen_bool,
    normalise_confidence,
)

Polarity = Literal["high_is_most_deprived", "low_is_most_deprived"]
ValueType = Literal["normal", "rate", "proportion"]


# --------------------------------------------------------------------------------------
# Quantiles
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class QuantileResult:
    """``value`` holds the quantile (1 = most deprived) as floats, NaN where none
    could be assigned (missing value, or a group with fewer members than quantiles).
    ``group_size`` is the number of non-missing values in each element's group."""

    value: FloatArray
    n: int
    group_size: FloatArray
    too_small: BoolArray


def quantiles(
    values: ArrayLike,
    n: int,
    polarity: Polarity = "high_is_most_deprived",
    groups: ArrayLike | None = None,
) -> QuantileResult:
    """Assign each value to one of ``n`` quantiles within its group, as
    PHEindicatormethods ``phe_quantile`` (the OHID Fingertips technical guide,
    *Assigning deprivation categories*).

    ``polarity="high_is_most_deprived"`` (``phe_quantile(invert = TRUE)``, the
    default there too) puts the highest values in quantile 1 - right for IMD
    *scores*; ``"low_is_most_deprived"`` (``invert = FALSE``) puts the lowest values
    in quantile 1 - right for IMD *ranks*.

    Method: with ``N`` non-missing values in the group, ``adj = max - value``
    (high-is-most-deprived) or ``value``; ``rank`` = minimum rank of ``adj`` (ties
    share the lowest rank); ``quantile = floor(n + 1 - ceiling((N + 1 - rank) /
    (N / n)))``, with 0 mapped to 1.

    Ties: equal values always get the same rank and therefore the same quantile,
    so a quantile may hold more (and the next fewer) members than ``N / n`` when ties
    straddle a boundary; the guide advises manual review of such cases.

    ``values`` must be 1-d; ``groups`` (optional, same length, any hashable labels
    NumPy can sort) assigns quantiles separately within each group. Missing
    (NaN) values get NaN and do not count towards ``N``; groups with ``N < n`` get
    NaN throughout (``too_small`` is True for them).
    """
    if polarity not in ("high_is_most_deprived", "low_is_most_deprived"):
        raise ValueError(
            f"polarity must be 'high_is_most_deprived' or 'low_is_most_deprived', got {polarity!r}"
        )
    nq = int(n)
    if nq < 1 or nq != n:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    v = as_float(values)
    if v.ndim != 1:
        raise ValueError("values must be 1-d")
    size = v.shape[0]
    if groups is None:
        codes: IntArray = np.zeros(size, dtype=np.int64)
        n_groups = 1
    else:
        g = np.asarray(groups)
        if g.shape != v.shape:
            raise ValueError("groups must have the same length as values")
        _, inverse = np.unique(g, return_inverse=True)
        codes = np.asarray(inverse, dtype=np.int64).reshape(-1)
        n_groups = int(codes.max()) + 1 if size else 0

    valid = ~np.isnan(v)
    counts = as_float(np.bincount(codes[valid], minlength=n_groups))
    if polarity == "high_is_most_deprived":
        gmax = np.full(n_groups, -np.inf)
        np.maximum.at(gmax, codes[valid], v[valid])
        adj = gmax[codes] - v
    else:
        adj = v

    quantile = np.full(size, np.nan)
    idx = np.flatnonzero(valid)
    if idx.size:
        c = codes[idx]
        a = adj[idx]
        order = np.lexsort((a, c))
        sc, sa = c[order], a[order]
        pos = np.arange(idx.size)
        new_group = np.ones(idx.size, dtype=bool)
        new_group[1:] = sc[1:] != sc[:-1]
        new_run = new_group.copy()
        new_run[1:] |= sa[1:] != sa[:-1]
        group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
        run_start = np.maximum.accumulate(np.where(new_run, pos, 0))
        rank = (run_start - group_start + 1).astype(np.float64)
        big_n = counts[sc]
        q = np.floor((nq + 1) - np.ceil(((big_n + 1) - rank) / (big_n / nq)))
        q[q == 0] = 1.0
        q[big_n < nq] = np.nan
        quantile[idx[order]] = q

    group_size = counts[codes] if size else np.zeros(0)
    return QuantileResult(
        value=frozen(quantile),
        n=nq,
        group_size=frozen(group_size),
        too_small=frozen_bool(group_size < nq),
    )


# --------------------------------------------------------------------------------------
# Slope index of inequality
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SiiResult:
    """The slope index of inequality (SII) and relative index of inequality (RII)
    with simulated confidence limits; ``value``/``lower``/``upper`` alias the SII.

    Scalars (0-d arrays) for 1-d input, one per group for ``(groups, quantiles)``.
    """

    sii: FloatArray
    sii_lower: FloatArray
    sii_upper: FloatArray
    rii: FloatArray
    rii_lower: FloatArray
    rii_upper: FloatArray
    confidence: float
    repetitions: int
    value_type: str
    rii_method: str
    transform: bool

    @property
    def value(self) -> FloatArray:
        return self.sii

    @property
    def lower(self) -> FloatArray:
        return self.sii_lower

    @property
    def upper(self) -> FloatArray:
        return self.sii_upper


def _transform(v: FloatArray, value_type: ValueType) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if value_type == "rate":
            return as_float(np.log(v))
        if value_type == "proportion":
            return as_float(special.logit(v))
    return v


def _back_transform(v: FloatArray, value_type: ValueType) -> FloatArray:
    if value_type == "rate":
        return as_float(np.exp(v))
    if value_type == "proportion":
        return as_float(special.expit(v))
    return v


def _order_stat(samples: NDArray[np.float64], positions: tuple[int, int]) -> FloatArray:
    """The values at 0-based ``positions`` of the sorted ``samples`` (what phe_sii
    reads from its sorted vector), without a full sort."""
    part = np.partition(samples, positions)
    return as_float(part[list(positions)])


def sii(
    quantile_values: ArrayLike,
    quantile_populations: ArrayLike,
    lower: ArrayLike | None = None,
    upper: ArrayLike | None = None,
    se: ArrayLike | None = None,
    confidence: float = 0.95,
    repetitions: int = 100_000,
    seed: int | None = 1,
    *,
    value_type: ValueType = "normal",
    multiplier: float = 1,
    rii_method: Literal["phe", "mean"] = "phe",
    transform: bool = False,
) -> SiiResult:
    """Slope and relative index of inequality across deprivation quantiles, as
    PHEindicatormethods ``phe_sii`` (Low A, Low A (2004) *Measuring the gap:
    quantifying and comparing local health inequalities*, J Public Health 26:388-395).

    The last axis holds the quantiles, ordered from **most deprived (index 0)** to
    least deprived; 1-d input gives 0-d results, ``(groups, quantiles)`` one per group.

    Method
    ------
    Each quantile gets the relative rank ``b`` = midpoint of its share of the
    cumulative population and weight ``a`` = its population share. The weighted
    regression ``y sqrt(a) = alpha sqrt(a) + beta b sqrt(a)`` (no intercept) gives
    ``SII = beta * multiplier`` (fitted value at rank 1 minus rank 0, i.e. least
    minus most deprived). RII (``rii_method="phe"``, PHEindicatormethods) is the
    ratio of the fitted values ``(alpha + beta) / alpha``, inverted when
    ``multiplier < 0``. ``rii_method="mean"`` gives instead ``beta / sum(a y)``
    (SII over the population-weighted mean; Mackenbach & Kunst 1997), sign-flipped
    when ``multiplier < 0``.

    Confidence limits come from ``repetitions`` Monte Carlo samples: each quantile
    value is drawn from a normal with its standard error - on the log scale for
    ``value_type="rate"`` and the logit scale for ``"proportion"``, then
    back-transformed - and refitted; the limits are the ``round(R (1-c)/2)``-th and
    ``round(R (1+c)/2)``-th ordered simulated values, as ``phe_sii``.

    ``transform=True`` (``phe_sii(transform = TRUE)``, for rates and proportions,
    whose gradient across deprivation is rarely linear): the regression is made on
    the log (rates) or logit (proportions) of the values and the simulated values stay
    on that scale; with ``alpha``, ``beta`` the fitted intercept and slope there and
    ``back`` the inverse transformation, ``SII = (back(alpha + beta) - back(alpha)) *
    multiplier`` and ``RII = back(alpha + beta) / back(alpha)`` (inverted when
    ``multiplier < 0``). A simulated slope limit ``s`` is turned into SII and RII
    limits about the midpoint ``mid = alpha + beta / 2`` as ``back(mid + s/2) -
    back(mid - s/2)`` and ``back(mid + s/2) / back(mid - s/2)``, as ``phe_sii``
    (which swaps the rate limits when ``multiplier < 1``; here, as for proportions,
    only when ``multiplier < 0``, so the lower limit is never above the upper).

    Standard errors: ``se`` if given (on the transformed scale for rates and
    proportions, as ``phe_sii``), otherwise ``(upper - lower) / (2 * 1.96)`` from the
    **95%** limits ``lower``/``upper`` after transformation.

    Reproducibility: ``seed`` seeds NumPy's PCG64 generator, so results repeat
    exactly in this package but cannot reproduce R's random stream; simulated
    limits agree with ``phe_sii`` only to Monte Carlo error (about 1% of the
    interval width at 100,000 repetitions).

    Validation (as ``phe_sii``): 5 to 100 quantiles, every population > 0, standard
    errors >= 0, proportions within [0, 1], at least 1,000 repetitions. Groups with
    any missing (NaN) value, standard error or population give NaN.
    """
    conf = normalise_confidence(confidence)
    if value_type not in ("normal", "rate", "proportion"):
        raise ValueError(f"value_type must be 'normal', 'rate' or 'proportion', got {value_type!r}")
    if transform and value_type == "normal":
        raise ValueError("transform=True needs value_type 'rate' or 'proportion'")
    if transform and rii_method != "phe":
        raise ValueError(
            "transform=True gives the RII as a ratio of fitted values (rii_method='phe')"
        )
    if rii_method not in ("phe", "mean"):
        raise ValueError(f"rii_method must be 'phe' or 'mean', got {rii_method!r}")
    reps = int(repetitions)
    if reps < 1000:
        raise ValueError("repetitions must be at least 1,000 (default 100,000)")
    vals = as_float(quantile_values)
    pops = as_float(quantile_populations)
    if vals.ndim == 0:
        raise ValueError("quantile_values needs a last axis of quantiles")
    vals, pops = (as_float(a) for a in np.broadcast_arrays(vals, pops))
    nq = vals.shape[-1]
    if not 5 <= nq <= 100:
        raise ValueError(f"the number of quantiles must be between 5 and 100, got {nq}")
    if np.any(pops <= 0):
        raise ValueError("quantile populations must all be greater than zero")
    if value_type == "proportion" and np.any((vals < 0) | (vals > 1)):
        raise ValueError("proportion values must all be between 0 and 1")

    if se is not None:
        se_t = as_float(np.broadcast_to(as_float(se), vals.shape))
    elif lower is not None and upper is not None:
        lo = as_float(np.broadcast_to(as_float(lower), vals.shape))
        hi = as_float(np.broadcast_to(as_float(upper), vals.shape))
        if value_type == "proportion" and np.any((lo < 0) | (lo > 1) | (hi < 0) | (hi > 1)):
            raise ValueError("confidence limits of proportions must be between 0 and 1")
        z95 = float(special.ndtri(0.975))  # hard-coded 95%, as phe_sii
        se_t = as_float((_transform(hi, value_type) - _transform(lo, value_type)) / z95 / 2.0)
    else:
        raise ValueError("sii needs either se, or both lower and upper (95% limits)")
    if np.any(se_t < 0):
        raise ValueError("standard errors must be >= 0")

    flat_v = vals.reshape(-1, nq)
    flat_p = pops.reshape(-1, nq)
    flat_se = se_t.reshape(-1, nq)
    n_groups = flat_v.shape[0]
    out = np.full((6, n_groups), np.nan)
    m = float(multiplier)
    cv = conf + (1.0 - conf) / 2.0
    pos_lower = int(np.rint(reps * (1.0 - cv))) - 1
    pos_upper = int(np.rint(reps * cv)) - 1
    positions = (max(pos_lower, 0), min(pos_upper, reps - 1))
    rng = np.random.default_rng(seed)

    for g in range(n_groups):
        v, p, s = flat_v[g], flat_p[g], flat_se[g]
        if np.any(np.isnan(v)) or np.any(np.isnan(p)) or np.any(np.isnan(s)):
            continue
        a = p / p.sum()
        cum = np.cumsum(a)
        b = cum - a / 2.0
        sqrt_a = np.sqrt(a)
        design = np.vstack([sqrt_a, b * sqrt_a])  # 2 x Q
        solver = np.linalg.solve(design @ design.T, design)  # (M M')^-1 M
        alpha, beta = solver @ (v * sqrt_a)

        centre = _transform(v, value_type)
        draws = rng.standard_normal((nq, reps))
        draws *= s[:, np.newaxis]
        draws += centre[:, np.newaxis]
        if transform:
            out[:, g] = _transformed_sii(solver, sqrt_a, centre, draws, value_type, m, positions)
            continue
        sims = _back_transform(draws, value_type)
        params = solver @ (sims * sqrt_a[:, np.newaxis])  # 2 x R
        sii_sims = params[1] * m
        if rii_method == "phe":
            rii_point = (alpha + beta) / alpha
            with np.errstate(divide="ignore", invalid="ignore"):
                rii_sims = (params[0] + params[1]) / params[0]
            if m < 0:
                rii_point = 1.0 / rii_point
                with np.errstate(divide="ignore"):
                    rii_sims = 1.0 / rii_sims
        else:
            sign = -1.0 if m < 0 else 1.0
            rii_point = sign * beta / float(a @ v)
            rii_sims = sign * params[1] / (a @ sims)
        sii_lo, sii_hi = _order_stat(sii_sims, positions)
        rii_lo, rii_hi = _order_stat(rii_sims, positions)
        out[:, g] = (beta * m, sii_lo, sii_hi, rii_point, rii_lo, rii_hi)

    shape = vals.shape[:-1]
    res = [frozen(row.reshape(shape)) for row in out]
    return SiiResult(
        sii=res[0],
        sii_lower=res[1],
        sii_upper=res[2],
        rii=res[3],
        rii_lower=res[4],
        rii_upper=res[5],
        confidence=conf,
        repetitions=reps,
        value_type=value_type,
        rii_method=rii_method,
        transform=bool(transform),
    )


def _transformed_sii(
    solver: NDArray[np.float64],
    sqrt_a: FloatArray,
    centre: FloatArray,
    draws: NDArray[np.float64],
    value_type: ValueType,
    multiplier: float,
    positions: tuple[int, int],
) -> tuple[float, float, float, float, float, float]:
    """SII and RII with limits for ``transform=True``: the regression on the
    log / logit scale, back-transformed as ``phe_sii`` does (see :func:`sii`)."""
    alpha, beta = solver @ (centre * sqrt_a)
    slopes = (solver @ (draws * sqrt_a[:, np.newaxis]))[1]
    slope_lo, slope_hi = _order_stat(slopes, positions)
    mid = alpha + beta / 2.0

    def back(t: float) -> float:
        return float(_back_transform(as_float(t), value_type))

    def difference(slope: float) -> float:
        return back(mid + slope / 2.0) - back(mid - slope / 2.0)

    def ratio(slope: float) -> float:
        return back(mid + slope / 2.0) / back(mid - slope / 2.0)

    m = multiplier
    sii_point = (back(alpha + beta) - back(alpha)) * m
    rii_point = back(alpha + beta) / back(alpha)
    sii_lo, sii_hi = difference(float(slope_lo)) * m, difference(float(slope_hi)) * m
    rii_lo, rii_hi = ratio(float(slope_lo)), ratio(float(slope_hi))
    if m < 0:
        sii_lo, sii_hi = sii_hi, sii_lo
        rii_point, rii_lo, rii_hi = 1.0 / rii_point, 1.0 / rii_hi, 1.0 / rii_lo
    return sii_point, sii_lo, sii_hi, rii_point, rii_lo, rii_hi
