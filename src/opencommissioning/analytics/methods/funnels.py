"""Funnel plot control limits and outlier flags, with over-dispersion adjustment."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import special
from scipy.interpolate import CubicSpline

from ._common import (
    FloatArray,
    StrArray,
    as_float,
    at_index,
    frozen,
    frozen_any,
    index_of,
    poisson_count_limits,
    require_non_negative,
)

Statistic = Literal["proportion", "rate", "ratio"]
Overdispersion = Literal["multiplicative", "additive"] | None
Scale = Literal["natural", "log", "sqrt"]
PoissonLimits = Literal["observed_count", "expected_count"]


class FunnelFlag(enum.StrEnum):
    """Where a unit sits against the funnel (values are plain strings)."""

    HIGH_998 = "high 99.8"
    HIGH_95 = "high 95"
    WITHIN = "within"
    LOW_95 = "low 95"
    LOW_998 = "low 99.8"
    NOT_APPLICABLE = "n/a"  # missing or zero denominator / numerator


#: Upper-tail probabilities of the two funnels (two-sided 95% and 99.8%).
P95 = 0.975
P998 = 0.999
Z95 = float(special.ndtri(P95))  # 1.959964
Z998 = float(special.ndtri(P998))  # 3.090232

_DEFAULT_MULTIPLIER: dict[str, float] = {"proportion": 1.0, "rate": 100_000.0, "ratio": 1.0}


@dataclass(frozen=True, eq=False)
class FunnelLimits:
    """Funnel limits at each denominator; ``value`` is the target and
    ``lower``/``upper`` alias the 95% limits. All on the output (multiplier) scale."""

    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    lower_95: FloatArray
    upper_95: FloatArray
    lower_998: FloatArray
    upper_998: FloatArray
    denominator: FloatArray
    statistic: str
    multiplier: float
    overdispersion: str | None
    phi: float | None
    tau2: float | None


@dataclass(frozen=True, eq=False)
class FunnelSignificance:
    """Per-unit funnel results.

    ``value`` is each unit's statistic (output scale); ``lower``/``upper`` and
    ``lower_998``/``upper_998`` are the (possibly over-dispersed) limits at its
    denominator; ``z`` are the unadjusted z-scores on the chosen ``scale`` and
    ``z_adjusted`` the z-scores after the requested over-dispersion adjustment.
    ``phi`` and ``tau2`` are always estimated (from winsorised z-scores) whether
    or not an adjustment was requested. ``flag`` holds :class:`FunnelFlag` strings.
    """

    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    lower_998: FloatArray
    upper_998: FloatArray
    target: float
    z: FloatArray
    z_adjusted: FloatArray
    phi: float
    tau2: float
    flag: StrArray
    statistic: str
    multiplier: float
    overdispersion: str | None


# --------------------------------------------------------------------------------------
# Exact limits (no over-dispersion), as PHEindicatormethods calculate_funnel_limits
# --------------------------------------------------------------------------------------


def _wilson_funnel(p: float, n: FloatArray, av: float, side: Literal["low", "high"]) -> FloatArray:
    """PHEindicatormethods ``sigma_adjustment``: the proportion whose Wilson
    interval (at two-sided level ``2p - 1``) has its far limit exactly on ``av``."""
    q2 = float(special.ndtri(p)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        first = av * (n / q2 + 1.0)
        adj = np.sqrt(
            (-8.0 * av * (n / q2 + 1.0)) ** 2
            - 64.0 * (1.0 / q2 + 1.0 / n) * av * (n * (av * (n / q2 + 2.0) - 1.0) + q2 * (av - 1.0))
        )
        last = 1.0 / q2 + 1.0 / n
        res = (first - adj / 8.0) / last if side == "low" else (first + adj / 8.0) / last
        return as_float(res / n)


#: Grid density (points per unit of log expected count) for interpolating the exact
#: Poisson funnels of large arrays; relative error below 1e-10 for expected >= 1.
_GRID_PER_LOG_UNIT = 200


def _solve_smoothly(solve: Callable[[FloatArray], FloatArray], e: FloatArray) -> FloatArray:
    """``solve(e)`` for an array of positive expected counts.

    The inverse incomplete gamma functions cost microseconds per element, so for large
    arrays (a funnel for a million denominators) ``log(solve)`` is tabulated exactly on
    a grid of ``log(e)`` (200 points per unit, over ``e >= 1``) and read off with a
    cubic spline - a smooth function there, so the result agrees with the direct
    solution to better than 1e-10 (relative); expected counts below 1, and arrays too
    small to need it, are solved directly.
    """
    big = e >= 1.0
    n_big = int(np.count_nonzero(big))
    if n_big:
        lo, hi = float(np.log(np.min(e[big]))), float(np.log(np.max(e[big])))
        n_grid = int(np.ceil((hi - lo) * _GRID_PER_LOG_UNIT)) + 4
    if not n_big or n_big <= 4 * n_grid:
        return solve(e)
    if hi - lo < 1e-6:  # (nearly) one expected count: solve each distinct value once
        distinct, inverse = np.unique(e, return_inverse=True)
        return as_float(solve(as_float(distinct))[inverse.reshape(e.shape)])
    grid = np.linspace(lo, hi, n_grid)
    coef = CubicSpline(grid, np.log(solve(as_float(np.exp(grid))))).c  # (4, n_grid - 1)
    # the grid is uniform, so each point's interval is found by arithmetic, not search
    step = (hi - lo) / (n_grid - 1)
    x = np.log(e[big]) - lo
    i = np.clip((x / step).astype(np.intp), 0, n_grid - 2)
    t = x - i * step
    out = np.empty_like(e)
    out[big] = np.exp(((coef[0, i] * t + coef[1, i]) * t + coef[2, i]) * t + coef[3, i])
    if n_big < e.size:
        out[~big] = solve(as_float(e[~big]))
    return out


def _poisson_funnel(p: float, expected: FloatArray, side: Literal["low", "high"]) -> FloatArray:
    """The observed count (continuous) at which the exact Poisson interval for the
    count just reaches ``expected``: the inverse of PHEindicatormethods
    ``poisson_funnel`` (which tabulates expected counts at integer observed counts).

    low:  P(X <= O | expected) = 1 - p, i.e. ``gammainc(O + 1, E) = p``
    high: P(X >= O | expected) = 1 - p, i.e. ``gammainc(O, E) = 1 - p``
    """
    e = as_float(expected)
    o = np.full_like(e, np.nan)
    pos = e > 0
    q = p if side == "low" else 1.0 - p
    with np.errstate(invalid="ignore"):
        o[pos] = _solve_smoothly(lambda x: as_float(special.gdtrib(1.0, q, x)), e[pos])
    if side == "low":
        o = as_float(np.maximum(o - 1.0, 0.0))
    o[e == 0] = 0.0 if side == "low" else np.nan
    return o


def _expected_count_funnel(
    p: float, expected: FloatArray, side: Literal["low", "high"]
) -> FloatArray:
    """FunnelPlotR's exact Poisson limits: the chi-square (Garwood) interval of the
    expected count itself, ``qchisq(1 - p, 2E) / 2`` (low) and ``qchisq(p, 2E + 2) / 2``
    (high), as an observed count."""
    e = as_float(expected)
    o = np.full_like(e, np.nan)
    pos = e > 0
    with np.errstate(invalid="ignore"):
        if side == "low":
            o[pos] = _solve_smoothly(lambda x: as_float(special.gammaincinv(x, 1.0 - p)), e[pos])
            o[e == 0] = 0.0
        else:
            o[pos] = _solve_smoothly(lambda x: as_float(special.gammaincinv(x + 1.0, p)), e[pos])
            o[e == 0] = float(special.gammaincinv(1.0, p))
    return o


def _exact_limits(
    statistic: Statistic,
    denominators: FloatArray,
    target: float,
    multiplier: float,
    poisson_limits: PoissonLimits = "observed_count",
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    n = denominators
    if statistic == "proportion":
        av = target / multiplier
        out = []
        for p, side in ((P95, "low"), (P95, "high"), (P998, "low"), (P998, "high")):
            lim = _wilson_funnel(p, n, av, side)  # type: ignore[arg-type]
            out.append(as_float(np.clip(lim, 0.0, 1.0) * multiplier))
        return out[0], out[1], out[2], out[3]
    # ratio: expected = theta0 * E; rate: expected = n * rate / multiplier
    expected = as_float(n * (target / multiplier))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = as_float(np.where(n > 0, multiplier / n, np.nan))
    funnel = _poisson_funnel if poisson_limits == "observed_count" else _expected_count_funnel
    lo95 = funnel(P95, expected, "low") * scale
    hi95 = funnel(P95, expected, "high") * scale
    lo998 = funnel(P998, expected, "low") * scale
    hi998 = funnel(P998, expected, "high") * scale
    return lo95, hi95, lo998, hi998


# --------------------------------------------------------------------------------------
# Normal approximations and over-dispersion (Spiegelhalter 2005)
# --------------------------------------------------------------------------------------


def _scale_params(
    statistic: Statistic, n: FloatArray, theta0: float, scale: Scale
) -> tuple[FloatArray, float]:
    """Per-unit standard error ``s`` of the statistic (on the 0-1 / ratio / per-1
    scale, or on the transformed scale) and the target on that scale."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if statistic == "proportion":
            if scale != "natural":
                raise ValueError("proportion funnels support scale='natural' only")
            return as_float(np.sqrt(theta0 * (1.0 - theta0) / n)), theta0
        expected = n * theta0  # expected events (theta0 on the per-1 scale)
        if scale == "natural":
            return as_float(np.sqrt(theta0 / n)), theta0
        if scale == "log":
            return as_float(1.0 / np.sqrt(expected)), float(np.log(theta0))
        if scale == "sqrt":
            return as_float(1.0 / (2.0 * np.sqrt(n))), float(np.sqrt(theta0))
    raise ValueError(f"scale must be 'natural', 'log' or 'sqrt', got {scale!r}")


def _to_scale(y: FloatArray, scale: Scale) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale == "log":
            return as_float(np.log(y))
        if scale == "sqrt":
            return as_float(np.sqrt(y))
    return y


def _from_scale(t: FloatArray, scale: Scale) -> FloatArray:
    if scale == "log":
        return as_float(np.exp(t))
    if scale == "sqrt":
        return as_float(np.where(t > 0, t, 0.0) ** 2)
    return t


def _normal_limits(
    statistic: Statistic,
    n: FloatArray,
    theta0: float,
    scale: Scale,
    overdispersion: Overdispersion,
    phi: float,
    tau2: float,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    s, t0 = _scale_params(statistic, n, theta0, scale)
    if overdispersion == "multiplicative":
        width = s * np.sqrt(max(phi, 1.0))
    elif overdispersion == "additive":
        width = np.sqrt(s * s + tau2)
    else:
        width = s
    out = []
    for zq in (-Z95, Z95, -Z998, Z998):
        lim = _from_scale(as_float(t0 + zq * width), scale)
        if statistic == "proportion":
            lim = as_float(np.clip(lim, 0.0, 1.0))
        else:
            lim = as_float(np.maximum(lim, 0.0))
        out.append(lim)
    return out[0], out[1], out[2], out[3]


def _dispersion(
    z: FloatArray,
    s: FloatArray,
    winsorise: float,
    mode: Literal["winsorise", "truncate"],
) -> tuple[float, float]:
    """phi = mean of squared winsorised z-scores; DerSimonian-Laird style tau² =
    (I phi - (I - 1)) / (sum w - sum w² / sum w), w = 1/s² (Spiegelhalter 2005)."""
    ok = np.isfinite(z) & np.isfinite(s) & (s > 0)
    zz, ss = z[ok], s[ok]
    if zz.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(zz, [winsorise, 1.0 - winsorise])  # R type 7
    if mode == "winsorise":
        zw = np.clip(zz, lo, hi)
        keep = np.ones(zz.size, dtype=bool)
    else:  # FunnelPlotR's SHMI method drops the extreme units
        keep = (zz > lo) & (zz < hi) if winsorise > 0 else np.ones(zz.size, dtype=bool)
        zw = zz[keep]
        ss = ss[keep]
    count = zw.size
    if count == 0:
        return float("nan"), float("nan")
    phi = float(np.mean(zw * zw))
    w = 1.0 / (ss * ss)
    denom = float(w.sum() - (w * w).sum() / w.sum())
    tau2 = max(0.0, (count * phi - (count - 1)) / denom) if denom > 0 else 0.0
    return phi, tau2


def _check_statistic(statistic: str) -> Statistic:
    if statistic not in ("proportion", "rate", "ratio"):
        raise ValueError(f"statistic must be 'proportion', 'rate' or 'ratio', got {statistic!r}")
    return statistic  # type: ignore[return-value]


def _check_overdispersion(overdispersion: str | None) -> Overdispersion:
    if overdispersion not in (None, "multiplicative", "additive"):
        raise ValueError(
            f"overdispersion must be None, 'multiplicative' or 'additive', got {overdispersion!r}"
        )
    return overdispersion  # type: ignore[return-value]


def funnel_limits(
    statistic: Statistic,
    denominators: ArrayLike,
    target: float,
    *,
    multiplier: float | None = None,
    overdispersion: Overdispersion = None,
    phi: float | None = None,
    tau2: float | None = None,
    scale: Scale = "natural",
    poisson_limits: PoissonLimits = "observed_count",
) -> FunnelLimits:
    """95% and 99.8% funnel plot limits at each denominator.

    ``statistic``:

    * ``"proportion"`` - denominators are the unit sizes, ``target`` a proportion on
      the output scale (e.g. ``0.8``, or ``80`` with ``multiplier=100``).
    * ``"rate"`` - denominators are populations (person-time), ``target`` a rate per
      ``multiplier`` (default 100,000). For DSRs pass the derived denominator
      ``multiplier * events / DSR`` as PHEindicatormethods does.
    * ``"ratio"`` - denominators are expected counts, ``target`` the reference ratio
      (usually 1; ``multiplier`` e.g. 100 for SMR x 100).

    Without over-dispersion the limits are exact, as PHEindicatormethods
    ``calculate_funnel_limits``: for proportions the Wilson-score funnel
    (``sigma_adjustment``: the proportion whose Wilson interval just reaches the
    target); for rates and ratios the observed count whose exact Poisson interval
    just reaches the expected count (``poisson_funnel``), here solved for any
    denominator with the inverse regularised gamma function rather than tabulated
    at integer counts - at integer counts the two coincide. ``poisson_limits``
    chooses between the two published conventions for the exact rate and ratio
    funnels:

    * ``"observed_count"`` (default, PHEindicatormethods / Fingertips): the limit is
      the observed count at which the unit's own exact interval just reaches the
      expected count - so a unit lies outside the funnel exactly when
      :func:`funnel_significance` flags it;
    * ``"expected_count"`` (FunnelPlotR): the exact (Garwood) interval of the
      expected count taken as if it were observed, ``qchisq(0.025, 2E) / 2E`` ..
      ``qchisq(0.975, 2E + 2) / 2E``. Its funnel sits higher - narrower below the
      target and wider above it (at E = 15: 0.560 .. 1.649 against 0.495 .. 1.568) -
      so plotted points and significance flags can disagree.

    Limits are clipped to
    [0, multiplier] for proportions (PHEindicatormethods clips at 100 whatever the
    multiplier) and at 0 for rates and ratios.

    With ``overdispersion`` the limits are normal approximations (Spiegelhalter DJ
    (2005) *Funnel plots for comparing institutional performance*, Stat Med
    24:1185-1202): ``multiplicative`` -> ``target ± z sqrt(phi) s`` (phi below 1 is
    treated as 1); ``additive`` (random effects) -> ``target ± z sqrt(s² + tau²)``,
    with ``s`` the unit's standard error under the target. ``phi`` / ``tau2`` must
    be given (estimate them with :func:`funnel_significance`). ``scale`` chooses
    where the normal approximation is made for rates and ratios: ``"natural"``
    (Spiegelhalter), ``"log"`` (FunnelPlotR / NHS Digital SHMI method, tau² on the
    log scale) or ``"sqrt"`` (FunnelPlotR's CQC method); proportions support
    ``"natural"`` only.
    """
    stat = _check_statistic(statistic)
    od = _check_overdispersion(overdispersion)
    m = _DEFAULT_MULTIPLIER[stat] if multiplier is None else float(multiplier)
    n = as_float(denominators)
    require_non_negative(n, "denominators")
    t = float(target)
    if od == "multiplicative" and phi is None:
        raise ValueError("multiplicative over-dispersion needs phi (see funnel_significance)")
    if od == "additive" and tau2 is None:
        raise ValueError("additive over-dispersion needs tau2 (see funnel_significance)")
    if poisson_limits not in ("observed_count", "expected_count"):
        raise ValueError(
            f"poisson_limits must be 'observed_count' or 'expected_count', got {poisson_limits!r}"
        )
    if od is None:
        lo95, hi95, lo998, hi998 = _exact_limits(stat, n, t, m, poisson_limits)
    else:
        theta0 = t / m
        lims = _normal_limits(stat, n, theta0, scale, od, phi or 1.0, tau2 or 0.0)
        lo95, hi95, lo998, hi998 = (as_float(x * m) for x in lims)
    return FunnelLimits(
        value=frozen(np.full_like(n, t)),
        lower=frozen(lo95),
        upper=frozen(hi95),
        lower_95=frozen(lo95),
        upper_95=frozen(hi95),
        lower_998=frozen(lo998),
        upper_998=frozen(hi998),
        denominator=frozen(n, copy=True),
        statistic=stat,
        multiplier=m,
        overdispersion=od,
        phi=None if phi is None else float(phi),
        tau2=None if tau2 is None else float(tau2),
    )


def funnel_significance(
    statistic: Statistic,
    numerators: ArrayLike,
    denominators: ArrayLike,
    target: float | None = None,
    *,
    overdispersion: Overdispersion = None,
    winsorise: float = 0.1,
    multiplier: float | None = None,
    scale: Scale = "natural",
    winsorise_mode: Literal["winsorise", "truncate"] = "winsorise",
) -> FunnelSignificance:
    """Flag each unit against the 95% and 99.8% funnels and estimate over-dispersion.

    ``numerators`` are events; ``denominators`` are unit sizes (proportions),
    populations (rates) or expected counts (ratios). ``target`` is on the output
    scale; by default the pooled average ``sum(numerators) / sum(denominators)``
    (times the multiplier) for proportions and rates, and 1 (times the multiplier)
    for ratios - PHEindicatormethods ``assign_funnel_significance`` conventions.

    For directly standardised rates pass, as PHEindicatormethods does, the
    denominator each DSR implies, ``multiplier * events / DSR``; a DSR that
    :func:`~opencommissioning.analytics.methods.dsr` leaves NaN (fewer than 10
    events) then gives a NaN denominator and the flag ``"n/a"`` (PHE's "not
    applicable for events less than 10 for dsrs") without moving the average.
    For crude rates pass the populations; a zero-event unit counts towards the
    average, as in PHE.

    Flags (:class:`FunnelFlag`): ``"high 99.8"``, ``"high 95"``, ``"within"``,
    ``"low 95"``, ``"low 99.8"``, and ``"n/a"`` for a missing or zero denominator.

    * No over-dispersion: as ``assign_funnel_significance`` - a proportion is
      compared with the Wilson-score funnel at its denominator; a rate or ratio is
      flagged when the target lies outside the unit's own 95% / 99.8% interval
      (exact Poisson below 10 events, Byar's otherwise). The 'within' band of the
      flags can therefore differ very slightly from :func:`funnel_limits` for
      counts of 10+ (Byar's approximation versus exact limits), exactly as in
      PHEindicatormethods.
    * With over-dispersion: ``|z_adjusted|`` against 1.959964 and 3.090232.

    Over-dispersion (Spiegelhalter 2005): z-scores ``z = (y - target) / s`` on the
    chosen ``scale`` are winsorised at the ``winsorise`` and ``1 - winsorise``
    quantiles (10%/90% by default; quantiles as R type 7, from finite z-scores);
    ``phi = mean(z_w²)``; ``tau² = max(0, (I phi - (I-1)) / (sum w - sum w²/sum w))``
    with ``w = 1/s²``. ``winsorise_mode="truncate"`` drops rather than clamps the
    extreme units (FunnelPlotR's SHMI method). On the ``"sqrt"`` scale (FunnelPlotR's
    CQC method) FunnelPlotR divides by ``sum(w) - sum(1/s) / sum(w)``, where
    Spiegelhalter's formula - used here - has ``sum(w²) / sum(w)``; its tau² for
    that method therefore differs from ours. ``z_adjusted`` is ``z / sqrt(phi)``
    (multiplicative, phi >= 1) or ``(y - target) / sqrt(s² + tau²)`` (additive).
    """
    stat = _check_statistic(statistic)
    od = _check_overdispersion(overdispersion)
    if not 0.0 <= winsorise < 0.5:
        raise ValueError("winsorise must be in [0, 0.5)")
    if winsorise_mode not in ("winsorise", "truncate"):
        raise ValueError("winsorise_mode must be 'winsorise' or 'truncate'")
    m = _DEFAULT_MULTIPLIER[stat] if multiplier is None else float(multiplier)
    x, n = (as_float(a) for a in np.broadcast_arrays(as_float(numerators), as_float(denominators)))
    require_non_negative(x, "numerators")
    require_non_negative(n, "denominators")
    if stat == "proportion" and np.any(x > n):
        idx = index_of(x > n)
        raise ValueError(
            f"numerator must not exceed denominator for a proportion{at_index(idx)}: "
            f"numerator {float(x[idx])!r} > denominator {float(n[idx])!r}"
        )
    usable = np.isfinite(x) & np.isfinite(n) & (n > 0)
    if target is None:
        if stat == "ratio":
            t = m
        else:
            t = float(np.sum(x[usable]) / np.sum(n[usable])) * m
    else:
        t = float(target)
    theta0 = t / m

    with np.errstate(divide="ignore", invalid="ignore"):
        y = as_float(np.where(usable, x / np.where(n > 0, n, 1.0), np.nan))  # per-1 scale
    s, t0 = _scale_params(stat, n, theta0, scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = as_float((_to_scale(y, scale) - t0) / s)
    z = as_float(np.where(usable, z, np.nan))
    phi, tau2 = _dispersion(z, s, winsorise, winsorise_mode)

    flag = np.full(x.shape, FunnelFlag.WITHIN.value, dtype="<U9")
    if od is None:
        z_adj = z
        lo95, hi95, lo998, hi998 = _exact_limits(stat, n, t, m)
        if stat == "proportion":
            yo = y * m
            high998, high95 = yo > hi998, yo > hi95
            low998, low95 = yo < lo998, yo < lo95
            # PHE tests the raw Wilson funnels (no clipping) - same result, since
            # a proportion can never fall below 0 or above 1.
        else:
            l95, u95 = poisson_count_limits(x, 0.95)
            l998, u998 = poisson_count_limits(x, 0.998)
            expected = n * theta0
            high998, high95 = expected < l998, expected < l95
            low998, low95 = expected > u998, expected > u95
        _assign(flag, high998, high95, low998, low95)
    else:
        phi_used = phi if np.isfinite(phi) else 1.0
        tau_used = tau2 if np.isfinite(tau2) else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            if od == "multiplicative":
                z_adj = as_float(z / np.sqrt(max(phi_used, 1.0)))
            else:
                z_adj = as_float((_to_scale(y, scale) - t0) / np.sqrt(s * s + tau_used))
        lims = _normal_limits(stat, n, theta0, scale, od, phi_used, tau_used)
        lo95, hi95, lo998, hi998 = (as_float(v * m) for v in lims)
        _assign(flag, z_adj > Z998, z_adj > Z95, z_adj < -Z998, z_adj < -Z95)
    flag[~usable] = FunnelFlag.NOT_APPLICABLE.value

    return FunnelSignificance(
        value=frozen(y * m),
        lower=frozen(lo95),
        upper=frozen(hi95),
        lower_998=frozen(lo998),
        upper_998=frozen(hi998),
        target=t,
        z=frozen(z),
        z_adjusted=frozen(z_adj),
        phi=phi,
        tau2=tau2,
        flag=frozen_any(flag),  # type: ignore[arg-type]
        statistic=stat,
        multiplier=m,
        overdispersion=od,
    )


def _assign(
    flag: StrArray,
    high998: ArrayLike,
    high95: ArrayLike,
    low998: ArrayLike,
    low95: ArrayLike,
) -> None:
    # PHE order of precedence: low 99.8, low 95, high 99.8, high 95.
    flag[np.asarray(high95, dtype=bool)] = FunnelFlag.HIGH_95.value
    flag[np.asarray(high998, dtype=bool)] = FunnelFlag.HIGH_998.value
    flag[np.asarray(low95, dtype=bool)] = FunnelFlag.LOW_95.value
    flag[np.asarray(low998, dtype=bool)] = FunnelFlag.LOW_998.value
