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
    at_index,
    frozen,
    frozen_bool,
    index_of,
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


def sii(
    quantile_values: ArrayLike,
    quantile_populations: ArrayLike,
    lower: ArrayLike | None = None,
    upper: ArrayLike | None = None,
    se: ArrayLike | None = None,
    confidence: float = 0.95,
    repetitions: int = 100_000,
    seed: int | np.random.Generator | None = 1,
    *,
    value_type: ValueType = "normal",
    multiplier: float = 1,
    rii_method: Literal["phe", "mean"] = "phe",
    transform: bool = False,
    limits: bool = True,
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

    Zero values: a rate of 0, a proportion of 0 or 1, or a lower 95% limit of 0 has no
    log / logit. ``phe_sii`` carries the resulting ``-Inf`` into its simulation (NaN
    limits) and its regression stops with an error under ``transform = TRUE``. Here,
    without ``transform``, such a quantile is simulated on its natural scale with the
    standard error ``(upper - lower) / (2 * 1.96)`` its 95% limits imply (so a zero
    quintile - no events in a small area - gives finite limits); with
    ``transform=True`` the log / logit regression is undefined and ``ValueError``
    names the quantile.

    ``limits=False`` skips the simulation (limits NaN): the point estimates alone are
    vectorised over groups, for SII / RII at scale.

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
    if value_type == "rate" and np.any(vals < 0):
        idx = index_of(vals < 0)
        raise ValueError(f"rates must be >= 0; got {float(vals[idx])!r}{at_index(idx)}")

    centre = _transform(vals, value_type)
    if se is not None:
        se_t = as_float(np.broadcast_to(as_float(se), vals.shape))
        natural_se = se_t if value_type == "normal" else np.full(vals.shape, np.nan)
    elif lower is not None and upper is not None:
        lo = as_float(np.broadcast_to(as_float(lower), vals.shape))
        hi = as_float(np.broadcast_to(as_float(upper), vals.shape))
        if value_type == "proportion" and np.any((lo < 0) | (lo > 1) | (hi < 0) | (hi > 1)):
            raise ValueError("confidence limits of proportions must be between 0 and 1")
        z95 = float(special.ndtri(0.975))  # hard-coded 95%, as phe_sii
        se_t = as_float((_transform(hi, value_type) - _transform(lo, value_type)) / z95 / 2.0)
        natural_se = as_float((hi - lo) / z95 / 2.0)
    else:
        raise ValueError("sii needs either se, or both lower and upper (95% limits)")
    if np.any(se_t < 0):
        raise ValueError("standard errors must be >= 0")

    # A value of 0 (rates, proportions) or 1 (proportions) - or a lower limit of 0 - has
    # no log / logit: phe_sii carries the resulting -Inf into its simulation and returns
    # NaN limits (and its regression stops with an error when transform = TRUE). Such a
    # quantile is ordinary data (no events in a small quintile), so we simulate it on
    # its natural scale, with the standard error its 95% limits imply, instead.
    missing = np.isnan(vals) | np.isnan(pops) | np.isnan(se_t)
    boundary = ~missing & (~np.isfinite(centre) | ~np.isfinite(se_t))
    if transform and np.any(boundary):
        idx = index_of(boundary)
        raise ValueError(
            f"transform=True regresses the {'log' if value_type == 'rate' else 'logit'} of "
            f"each value, which is undefined for a value (or 95% limit) of "
            f"{float(vals[idx])!r}{at_index(idx)}; phe_sii stops here too. Use "
            "transform=False for this group (its zero quantiles are then simulated on the "
            "natural scale)"
        )
    if value_type != "normal" and np.any(boundary & np.isnan(natural_se)):
        raise ValueError(
            "a quantile whose value has no log / logit needs its 95% limits (lower, upper), "
            "not a standard error on the transformed scale"
        )

    flat_v = vals.reshape(-1, nq)
    flat_p = pops.reshape(-1, nq)
    flat_c = centre.reshape(-1, nq)
    flat_se = se_t.reshape(-1, nq)
    flat_b = boundary.reshape(-1, nq)
    flat_nse = natural_se.reshape(-1, nq)
    n_groups = flat_v.shape[0]
    ok = ~missing.reshape(-1, nq).any(axis=1)
    m = float(multiplier)

    # Weighted least squares, for every group at once: weights a (population shares),
    # ranks b (cumulative midpoints); slope = cov_a(b, y) / var_a(b), intercept
    # = mean_a(y) - slope * mean_a(b) - the same solution as phe_sii's lm on
    # y sqrt(a) ~ sqrt(a) + b sqrt(a) - 1.
    a = flat_p / flat_p.sum(axis=1, keepdims=True)
    b = np.cumsum(a, axis=1) - a / 2.0
    b_bar = np.sum(a * b, axis=1, keepdims=True)
    db = b - b_bar
    w_slope = a * db / np.sum(a * db * db, axis=1, keepdims=True)  # slope = w_slope . y
    w_icept = a - b_bar * w_slope  # intercept = w_icept . y
    y = flat_c if transform else flat_v
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.sum(w_icept * y, axis=1)
        beta = np.sum(w_slope * y, axis=1)

    out = np.full((6, n_groups), np.nan)
    if transform:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            top, bottom = _back_transform(alpha + beta, value_type), _back_transform(alpha, value_type)
            out[0] = (top - bottom) * m
            out[3] = top / bottom
    elif rii_method == "phe":
        with np.errstate(invalid="ignore", divide="ignore"):
            out[0] = beta * m
            out[3] = (alpha + beta) / alpha
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[0] = beta * m
            out[3] = (-1.0 if m < 0 else 1.0) * beta / np.sum(a * flat_v, axis=1)
    if not transform and rii_method == "phe" and m < 0:
        with np.errstate(divide="ignore"):
            out[3] = 1.0 / out[3]
    if transform and m < 0:
        out[3] = 1.0 / out[3]
    out[:, ~ok] = np.nan

    cv = conf + (1.0 - conf) / 2.0
    pos_lower = int(np.rint(reps * (1.0 - cv))) - 1
    pos_upper = int(np.rint(reps * cv)) - 1
    positions = (max(pos_lower, 0), min(pos_upper, reps - 1))
    rng = np.random.default_rng(seed)
    # Groups are simulated in chunks of about 2 million draws: one generator call per
    # chunk draws exactly the stream a group-by-group loop would.
    chunk = max(1, 2_000_000 // (nq * reps))
    todo = np.flatnonzero(ok) if limits else np.zeros(0, dtype=np.intp)
    for start in range(0, todo.size, chunk):
        g = todo[start : start + chunk]
        draws = rng.standard_normal((g.size, nq, reps))
        on_natural = flat_b[g][:, :, np.newaxis]
        scale = np.where(flat_b[g], flat_nse[g], flat_se[g])[:, :, np.newaxis]
        mid = np.where(flat_b[g], flat_v[g], flat_c[g])[:, :, np.newaxis]
        draws *= scale
        draws += mid
        if transform:
            slopes = np.einsum("gq,gqr->gr", w_slope[g], draws)
            lims = _order_stat_rows(slopes, positions)
            out[1:3, g], out[4:6, g] = _transformed_limits(
                alpha[g], beta[g], lims, value_type, m
            )
            continue
        sims = draws if value_type == "normal" else np.where(
            on_natural, draws, _back_transform(draws, value_type)
        )
        slopes = np.einsum("gq,gqr->gr", w_slope[g], sims)
        if rii_method == "phe":
            icepts = np.einsum("gq,gqr->gr", w_icept[g], sims)
            with np.errstate(divide="ignore", invalid="ignore"):
                rii_sims = (icepts + slopes) / icepts
                if m < 0:
                    rii_sims = 1.0 / rii_sims
        else:
            sign = -1.0 if m < 0 else 1.0
            rii_sims = sign * slopes / np.einsum("gq,gqr->gr", a[g], sims)
        out[1:3, g] = _order_stat_rows(slopes * m, positions)
        out[4:6, g] = _order_stat_rows(rii_sims, positions)

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


def _order_stat_rows(samples: NDArray[np.float64], positions: tuple[int, int]) -> FloatArray:
    """The values at 0-based ``positions`` of each row of ``samples`` once sorted
    (what phe_sii reads from its sorted vector), as a ``(2, rows)`` array."""
    part = np.partition(samples, positions, axis=-1)
    return as_float(part[:, list(positions)].T)


def _transformed_limits(
    alpha: FloatArray,
    beta: FloatArray,
    slope_limits: FloatArray,
    value_type: ValueType,
    multiplier: float,
) -> tuple[FloatArray, FloatArray]:
    """SII and RII limits for ``transform=True`` from the simulated slope limits on the
    log / logit scale, about the midpoint ``alpha + beta / 2`` as ``phe_sii`` (see
    :func:`sii`): rows are (lower, upper)."""
    mid = alpha + beta / 2.0
    upper_end = _back_transform(mid + slope_limits / 2.0, value_type)
    lower_end = _back_transform(mid - slope_limits / 2.0, value_type)
    sii_lims = (upper_end - lower_end) * multiplier
    rii_lims = upper_end / lower_end
    if multiplier < 0:
        sii_lims = sii_lims[::-1]
        rii_lims = 1.0 / rii_lims[::-1]
    return as_float(sii_lims), as_float(rii_lims)
