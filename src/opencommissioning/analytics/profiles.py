"""What a profile page shows, computed from stored indicator values with the methods.

Web pages call these with plain lists and arrays (never Django objects), so every figure
on a needs assessment page comes from here or from :mod:`.assessment`:

* :func:`compare` - significance against a comparator with the 95% / 99.8% convention
  and the indicator's polarity (the Fingertips "better / similar / worse" colours);
* :func:`spread` - the distribution of a comparator group (for the spine chart);
* :func:`funnel` - funnel plot flags and limit curves, with the over-dispersion
  adjustment, for each calculation method;
* :func:`spc` - an XmR chart with the Making Data Count icons;
* :func:`inequality` - the slope index of inequality across deprivation quintiles;
* :func:`nearest_neighbours` and :func:`peer_features` - statistically nearest
  neighbours on weighted, standardised characteristics;
* :func:`public_counts` - disclosure control for counts shown to the public.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.stats import norm

from . import methods
from .datamodel import AGE_BANDS

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

#: Significance categories: the first word is the direction against the comparator.
BETTER_998, BETTER_95, SIMILAR, WORSE_95, WORSE_998 = ("better 99.8", "better 95", "similar", "worse 95", "worse 99.8")
HIGHER_998, HIGHER_95, LOWER_95, LOWER_998 = ("higher 99.8", "higher 95", "lower 95", "lower 99.8")
NOT_COMPARED = "not compared"


def _nan(x: float | None) -> float:
    return float("nan") if x is None else float(x)


def compare(value: float | None, lower: float | None, upper: float | None, lower_998: float | None,
            upper_998: float | None, comparator: float | None, polarity: str) -> str:
    """Where a value's intervals sit against a comparator's value (Fingertips' rule: the
    comparator outside the 95% interval is significant; outside the 99.8% interval, more
    so), turned into better/worse by polarity (``no_judgement`` gives higher/lower)."""
    v, lo, hi, lo9, hi9, c = (_nan(x) for x in (value, lower, upper, lower_998, upper_998, comparator))
    if not (np.isfinite(v) and np.isfinite(lo) and np.isfinite(hi) and np.isfinite(c)):
        return NOT_COMPARED
    if lo <= c <= hi:
        return SIMILAR
    high = lo > c
    strong = (lo9 > c) if high else (np.isfinite(hi9) and hi9 < c)
    if not np.isfinite(lo9 if high else hi9):
        strong = False
    if polarity == "no_judgement":
        return (HIGHER_998 if strong else HIGHER_95) if high else (LOWER_998 if strong else LOWER_95)
    good = high == (polarity == "high_is_good")
    if good:
        return BETTER_998 if strong else BETTER_95
    return WORSE_998 if strong else WORSE_95


def significant_change(value: float | None, lower: float | None, upper: float | None, before: float | None,
                       before_lower: float | None, before_upper: float | None, confidence: float = 0.95) -> bool | None:
    """Whether a value differs from an earlier one more than chance explains: a two-sided
    z-test on the difference, each standard error taken from its 95% interval (half its
    width over 1.96; an approximation for skewed intervals, as PHE's Fingertips trend
    comparisons use). None when either lacks an interval."""
    nums = [_nan(x) for x in (value, lower, upper, before, before_lower, before_upper)]
    if not all(np.isfinite(x) for x in nums):
        return None
    v, lo, hi, b, blo, bhi = nums
    z95 = 1.959963984540054
    se = np.hypot((hi - lo) / (2 * z95), (bhi - blo) / (2 * z95))
    if se <= 0:
        return v != b
    return bool(abs(v - b) / se > norm.ppf(0.5 + confidence / 2))


@dataclass(frozen=True)
class Spread:
    count: int
    minimum: float
    q25: float
    median: float
    q75: float
    maximum: float


def spread(values: Sequence[float | None]) -> Spread | None:
    """Minimum, quartiles and maximum of the finite values (None when there are none)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return None
    q = np.quantile(v, [0.0, 0.25, 0.5, 0.75, 1.0])
    return Spread(int(v.size), *(float(x) for x in q))


#: Fewer events than this make a value unreliable as a comparator (PHE's rule of thumb for
#: rates: below 10 events an interval is too wide for a fair comparison).
RELIABLE_EVENTS = 10
#: A peer comparator needs at least this many reliable peers.
MIN_PEERS = 3


@dataclass(frozen=True)
class PeerComparator:
    """The median of the peers' values, when enough of them are reliable; ``reason`` says
    why there is none otherwise."""

    median: float | None
    count: int
    reliable: int
    reason: str = ""


def peer_comparator(values: Sequence[float | None], numerators: Sequence[float | None], *,
                    min_events: float = RELIABLE_EVENTS, min_peers: int = MIN_PEERS) -> PeerComparator:
    """The statistically nearest neighbours' comparator: the median of the peers whose value
    rests on at least ``min_events`` events, if there are ``min_peers`` of them. A median of
    a few tiny counts (often zeros) would make any organisation look significantly
    different, so then there is no comparator, and the reason is given."""
    pairs = [(v, n) for v, n in zip(values, numerators, strict=True) if v is not None and np.isfinite(v)]
    good = [v for v, n in pairs if n is not None and n >= min_events]
    if not pairs:
        return PeerComparator(None, 0, 0, "no peer has a value")
    if len(good) < min_peers:
        return PeerComparator(None, len(pairs), len(good),
                              f"fewer than {min_peers} peers have {min_events:g} or more events")
    return PeerComparator(float(np.median(good)), len(pairs), len(good))


# -- funnel plots ----------------------------------------------------------------------

@dataclass(frozen=True)
class Funnel:
    """Flags per unit (same order as the input), the target and limit curves over
    ``grid`` (x values: the funnel's denominators)."""

    statistic: str
    target: float
    flags: list[str]
    flags_unadjusted: list[str]
    x: list[float]
    phi: float
    tau2: float
    overdispersed: bool
    grid: list[float] = field(default_factory=list)
    lower_95: list[float] = field(default_factory=list)
    upper_95: list[float] = field(default_factory=list)
    lower_998: list[float] = field(default_factory=list)
    upper_998: list[float] = field(default_factory=list)
    x_label: str = ""


def funnel_inputs(method: str, numerators: FloatArray, denominators: FloatArray, values: FloatArray,
                  multiplier: float) -> tuple[str, FloatArray, FloatArray, str] | None:
    """(statistic, events, funnel denominators, x label) for a calculation method, as
    PHEindicatormethods builds funnels: proportions on their denominators; crude rates on
    their populations; DSRs on the derived denominator ``multiplier x events / DSR``; ISRs
    as ratios on the expected count ``observed x multiplier / ISR``. Means have no funnel."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "proportion":
            return "proportion", numerators, denominators, "Denominator"
        if method == "crude_rate":
            return "rate", numerators, denominators, "Registered patients (average over the year)"
        if method == "dsr":
            return "rate", numerators, np.where(values > 0, multiplier * numerators / values, np.nan), \
                "Derived population (patients: events × multiplier ÷ DSR)"
        if method == "isr":
            return "ratio", numerators, np.where(values > 0, numerators * multiplier / values, np.nan), \
                "Expected events"
    return None


def funnel(method: str, numerators: Sequence[float], denominators: Sequence[float], values: Sequence[float],
           multiplier: float, *, target: float | None = None, adjust: bool = True) -> Funnel | None:
    """Funnel plot flags (95% and 99.8% limits) with the multiplicative over-dispersion
    adjustment (Spiegelhalter 2005) when the data are over-dispersed (phi > 1) and
    ``adjust`` is on; flags without it are kept too. None for means."""
    num = np.asarray(numerators, dtype=np.float64)
    den = np.asarray(denominators, dtype=np.float64)
    val = np.asarray(values, dtype=np.float64)
    got = funnel_inputs(method, num, den, val, multiplier)
    if got is None or num.size == 0:
        return None
    stat, events, x, label = got
    ok = np.isfinite(events) & np.isfinite(x) & (x > 0)
    events = np.where(ok, events, 0.0)
    x = np.where(ok, x, 0.0)
    m = float(multiplier)
    plain = methods.funnel_significance(stat, events, x, target, multiplier=m)  # type: ignore[arg-type]
    phi = float(plain.phi) if np.isfinite(plain.phi) else 1.0
    overdispersed = adjust and phi > 1.0
    chosen = methods.funnel_significance(stat, events, x, plain.target, multiplier=m,  # type: ignore[arg-type]
                                         overdispersion="multiplicative" if overdispersed else None)
    xs = x[ok]
    if xs.size:
        grid = np.unique(np.concatenate([np.geomspace(max(xs.min() * 0.8, 1e-9), xs.max() * 1.1, 80), xs]))
    else:
        grid = np.zeros(0)
    limits = methods.funnel_limits(stat, grid, plain.target, multiplier=m,  # type: ignore[arg-type]
                                   overdispersion="multiplicative" if overdispersed else None,
                                   phi=phi if overdispersed else None)

    def clean(a: Any) -> list[float]:
        return [float(v) if np.isfinite(v) else float("nan") for v in np.asarray(a)]

    return Funnel(statistic=stat, target=float(plain.target), flags=[str(f) for f in chosen.flag],
                  flags_unadjusted=[str(f) for f in plain.flag], x=clean(x), phi=phi,
                  tau2=float(plain.tau2) if np.isfinite(plain.tau2) else 0.0, overdispersed=overdispersed,
                  grid=clean(grid), lower_95=clean(limits.lower_95), upper_95=clean(limits.upper_95),
                  lower_998=clean(limits.lower_998), upper_998=clean(limits.upper_998), x_label=label)


# -- SPC ---------------------------------------------------------------------------------

IMPROVEMENT = {"high_is_good": "increase", "low_is_good": "decrease", "no_judgement": "neither"}

VARIATION_TEXT = {
    "common_cause": "Common cause variation: no significant change",
    "improvement_high": "Special cause variation: improvement (higher)",
    "improvement_low": "Special cause variation: improvement (lower)",
    "concern_high": "Special cause variation: concern (higher)",
    "concern_low": "Special cause variation: concern (lower)",
    "neutral_high": "Special cause variation: higher (neither better nor worse)",
    "neutral_low": "Special cause variation: lower (neither better nor worse)",
}
ASSURANCE_TEXT = {
    "consistent_pass": "The target will consistently be met",
    "consistent_fail": "The target will consistently be missed",
    "inconsistent": "The target may or may not be met (hit and miss)",
}


@dataclass(frozen=True)
class Spc:
    values: list[float]
    mean: list[float]
    lower: list[float]
    upper: list[float]
    point_type: list[str]
    variation_icon: str
    variation_text: str
    assurance: str | None
    assurance_text: str
    short: bool


def spc(values: Sequence[float], polarity: str, target: float | None = None) -> Spc | None:
    """An XmR chart of a series (None with fewer than two finite points; missing points
    are left out, as NHSRplotthedots requires a series without gaps)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size < 2:
        return None
    r = methods.xmr(v, IMPROVEMENT.get(polarity, "neither"), target)  # type: ignore[arg-type]
    return Spc(values=[float(x) for x in r.value], mean=[float(x) for x in r.mean],
               lower=[float(x) for x in r.lower], upper=[float(x) for x in r.upper],
               point_type=[str(x) for x in r.point_type], variation_icon=r.variation_icon,
               variation_text=VARIATION_TEXT.get(r.variation_icon, r.variation_icon),
               assurance=r.assurance, assurance_text=ASSURANCE_TEXT.get(r.assurance or "", ""),
               short=bool(np.any(r.short_segment)))


# -- inequality --------------------------------------------------------------------------

@dataclass(frozen=True)
class Inequality:
    sii: float
    sii_lower: float
    sii_upper: float
    rii: float
    significant: bool


def inequality(method: str, values: Sequence[float], populations: Sequence[float], lower: Sequence[float],
               upper: Sequence[float], multiplier: float) -> Inequality | None:
    """The slope index of inequality over quintiles ordered most deprived first (value at
    least deprived minus most deprived, as PHEindicatormethods), from 95% limits. None
    unless every quintile has a value and a population."""
    v = np.asarray(values, dtype=np.float64)
    p = np.asarray(populations, dtype=np.float64)
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    if v.size < 5 or not (np.all(np.isfinite(v)) and np.all(p > 0) and np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        return None
    kind = "proportion" if method == "proportion" else ("normal" if method == "mean" else "rate")
    scale = multiplier if method == "proportion" else 1.0
    if kind == "rate" and (np.any(v <= 0) or np.any(lo <= 0)):
        kind = "normal"
    r = methods.sii(v / scale, p, lo / scale, hi / scale, value_type=kind,  # type: ignore[arg-type]
                    multiplier=scale, repetitions=20_000, seed=1)
    sii_lo, sii_hi = float(r.sii_lower), float(r.sii_upper)
    return Inequality(float(r.sii), sii_lo, sii_hi, float(r.rii), not (sii_lo <= 0 <= sii_hi))


def local_quintiles(codes: Sequence[str], imd_scores: Sequence[float]) -> dict[str, int]:
    """Quintiles (1 = most deprived) of practices by IMD score among themselves."""
    q = methods.quantiles(np.asarray(imd_scores, dtype=np.float64), 5, "high_is_most_deprived")
    return {c: int(x) for c, x in zip(codes, np.asarray(q.value), strict=True) if np.isfinite(x)}


# -- peers -------------------------------------------------------------------------------

#: The characteristics peers are matched on, and the default weight of each.
FEATURES: dict[str, str] = {
    "age_65_plus": "Share of patients aged 65 and over",
    "age_under_15": "Share of patients aged under 15",
    "deprivation": "IMD 2019 score of the registered population",
    "list_size": "Registered patients (log scale)",
    "rurality": "Share of patients in rural areas",
}
DEFAULT_WEIGHTS: dict[str, float] = {"age_65_plus": 1.0, "age_under_15": 0.5, "deprivation": 2.0,
                                     "list_size": 0.5, "rurality": 0.5}
_OLD = {b for b in AGE_BANDS if b in ("65-69", "70-74", "75-79", "80-84", "85-89", "90+")}
_YOUNG = {"0-4", "5-9", "10-14"}


def peer_features(population: pa.Table, deprivation: pa.Table | None, level: str) -> dict[str, dict[str, float]]:
    """Each organisation's characteristics from the latest period of ``population``
    (``level`` practice: by ``organisation``; commissioner: by ``commissioner``) and the
    practices' deprivation rows (population-weighted for commissioners)."""
    if population.num_rows == 0:
        return {}
    latest = pc.max(population["period"]).as_py()
    pop = population.filter(pc.equal(population["period"], latest))
    key = "organisation" if level == "practice" else "commissioner"
    codes = np.asarray(pop[key].to_numpy(zero_copy_only=False), dtype=object)
    practices = np.asarray(pop["organisation"].to_numpy(zero_copy_only=False), dtype=object)
    bands = np.asarray(pop["age_band"].to_numpy(zero_copy_only=False), dtype=object)
    counts = np.asarray(pop["count"].to_numpy(zero_copy_only=False), dtype=np.float64)
    imd: dict[str, float] = {}
    rural: dict[str, float] = {}
    if deprivation is not None and deprivation.num_rows:
        for row in deprivation.to_pylist():
            if row.get("imd_score") is not None:
                imd[str(row["organisation"])] = float(row["imd_score"])
            if row.get("rural") is not None:
                rural[str(row["organisation"])] = float(row["rural"])
    out: dict[str, dict[str, float]] = {}
    for code in sorted({c for c in codes if c is not None}):
        sel = codes == code
        total = float(counts[sel].sum())
        if total <= 0:
            continue
        old = float(counts[sel & np.isin(bands, list(_OLD))].sum())
        young = float(counts[sel & np.isin(bands, list(_YOUNG))].sum())
        feats = {"age_65_plus": old / total, "age_under_15": young / total, "list_size": float(np.log(total))}
        members: dict[str, float] = {}
        for p, c in zip(practices[sel], counts[sel], strict=True):
            members[str(p)] = members.get(str(p), 0.0) + float(c)
        for name, source in (("deprivation", imd), ("rurality", rural)):
            known = {p: w for p, w in members.items() if p in source}
            weight = sum(known.values())
            if weight > 0:
                feats[name] = sum(source[p] * w for p, w in known.items()) / weight
        out[str(code)] = feats
    return out


@dataclass(frozen=True)
class Neighbour:
    code: str
    distance: float


def nearest_neighbours(features: Mapping[str, Mapping[str, float]], weights: Mapping[str, float],
                       k: int) -> dict[str, list[Neighbour]]:
    """Each organisation's ``k`` nearest others by weighted Euclidean distance on
    standardised characteristics (z-scores across the organisations given; a
    characteristic missing for an organisation is set to the mean, i.e. it neither
    helps nor hurts). Ties broken by code, so the result is deterministic."""
    codes = sorted(features)
    names = [n for n in FEATURES if weights.get(n, 0) > 0]
    if len(codes) < 2 or not names:
        return {c: [] for c in codes}
    x = np.array([[features[c].get(n, np.nan) for n in names] for c in codes], dtype=np.float64)
    known = np.asarray(np.isfinite(x).any(axis=0), dtype=bool)  # a characteristic nobody has is left out
    names = [n for n, k in zip(names, known.tolist(), strict=True) if k]
    x = x[:, known]
    if not names:
        return {c: [] for c in codes}
    mean = np.nanmean(np.where(np.isfinite(x), x, np.nan), axis=0)
    x = np.where(np.isfinite(x), x, mean)
    sd = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    w = np.sqrt(np.array([float(weights[n]) for n in names]))
    zw = z * w
    d = np.sqrt(((zw[:, None, :] - zw[None, :, :]) ** 2).sum(axis=2))
    out: dict[str, list[Neighbour]] = {}
    for i, c in enumerate(codes):
        order = sorted((j for j in range(len(codes)) if j != i), key=lambda j: (d[i, j], codes[j]))
        out[c] = [Neighbour(codes[j], float(d[i, j])) for j in order[:k]]
    return out


# -- the public --------------------------------------------------------------------------

@dataclass(frozen=True)
class PublicCounts:
    numerator: list[float | None]
    denominator: list[float | None]
    suppressed: list[bool]


def public_counts(numerators: Sequence[float | None], denominators: Sequence[float | None],
                  suppress_at_or_below: int = 7, round_to: int = 5) -> PublicCounts:
    """Disclosure control for counts shown without sign-in: numerators 1-7 suppressed
    (and with them the value and its interval, which the caller hides), every other
    count (numerators and denominators) rounded to the nearest 5."""
    num = np.asarray([np.nan if x is None else x for x in numerators], dtype=np.float64)
    den = np.asarray([np.nan if x is None else x for x in denominators], dtype=np.float64)
    dn = methods.disclosure_control(num, suppress_at_or_below, round_to)
    dd = methods.disclosure_control(np.where(np.isfinite(den), np.maximum(den, 0), np.nan), 0, round_to)
    sup = np.asarray(dn.suppressed, dtype=bool) | ~np.isfinite(num)

    def col(a: Any, mask: Any) -> list[float | None]:
        return [None if (m or not np.isfinite(v)) else float(v) for v, m in zip(np.asarray(a), mask, strict=True)]

    return PublicCounts(col(dn.value, sup), col(dd.value, np.zeros(den.size, dtype=bool)), [bool(s) for s in sup])


@dataclass(frozen=True)
class PublicValues:
    """Values and intervals for the public, computed from the disclosure-controlled counts
    (None where the count is suppressed or the method cannot give one)."""

    value: list[float | None]
    lower: list[float | None]
    upper: list[float | None]
    lower_998: list[float | None]
    upper_998: list[float | None]


def public_values(methods_of: Sequence[str], multipliers: Sequence[float], confidences: Sequence[float],
                  public_numerators: Sequence[float | None], public_denominators: Sequence[float | None],
                  suppressed: Sequence[bool], numerators: Sequence[float | None], values: Sequence[float | None],
                  lowers: Sequence[float | None], uppers: Sequence[float | None],
                  lowers_998: Sequence[float | None], uppers_998: Sequence[float | None]) -> PublicValues:
    """Each public value worked out again from the public (rounded) counts with the
    indicator's own method, so multiplying a published value back by its published
    denominator gives only the rounded count, never the exact one:

    * ``proportion``: Wilson on the rounded numerator over the rounded denominator;
    * ``crude_rate``: Byar's / exact Poisson on the rounded count over the rounded population;
    * ``isr``: the rounded observed count over the expected count (``observed x multiplier /
      ISR``, which is not a count of people), with Byar's limits on the rounded count;
    * ``mean``: the rounded total over the rounded number of cases, the interval moved with
      the value (its half-width rests on the spread of the values, not on the counts);
    * ``dsr``: the exact value and interval. A DSR is a weighted sum of age-band rates whose
      band counts and populations are never published, so the published DSR and the rounded
      total cannot be worked back to the exact count (see the needs README).
    """
    n = len(methods_of)
    out: dict[str, list[float | None]] = {k: [None] * n for k in ("value", "lower", "upper", "lower_998", "upper_998")}

    def fin(x: float | None) -> bool:
        return x is not None and bool(np.isfinite(x))

    groups: dict[tuple[str, float, float], list[int]] = {}
    for i in range(n):
        if suppressed[i] or not fin(public_numerators[i]):
            continue
        groups.setdefault((methods_of[i], float(multipliers[i]), float(confidences[i])), []).append(i)
    for (method, multiplier, confidence), idx in groups.items():
        pn = np.asarray([public_numerators[i] for i in idx], dtype=np.float64)
        if method in ("proportion", "crude_rate", "isr"):
            if method == "isr":
                exact = np.asarray([_nan(numerators[i]) for i in idx], dtype=np.float64)
                val = np.asarray([_nan(values[i]) for i in idx], dtype=np.float64)
                with np.errstate(divide="ignore", invalid="ignore"):
                    den = np.where(val > 0, exact * multiplier / val, np.nan)
            else:
                den = np.asarray([_nan(public_denominators[i]) for i in idx], dtype=np.float64)
            ok = np.isfinite(den) & (den > 0) & np.isfinite(pn)
            if method == "proportion":
                ok &= pn <= den
            if not ok.any():
                continue
            sel = [i for i, good in zip(idx, ok.tolist(), strict=True) if good]
            for conf, lo_key, hi_key, with_value in ((confidence, "lower", "upper", True),
                                                     (0.998, "lower_998", "upper_998", False)):
                if method == "proportion":
                    r: Any = methods.proportion(pn[ok], den[ok], confidence=conf, multiplier=multiplier)
                else:
                    r = methods.rate(pn[ok], den[ok], confidence=conf, multiplier=multiplier)
                for j, i in enumerate(sel):
                    if with_value:
                        out["value"][i] = float(np.asarray(r.value)[j])
                    out[lo_key][i] = float(np.asarray(r.lower)[j])
                    out[hi_key][i] = float(np.asarray(r.upper)[j])
        elif method == "mean":
            for i in idx:
                pd_ = public_denominators[i]
                if not fin(pd_) or not pd_ or not fin(values[i]):
                    continue
                v = float(public_numerators[i] or 0.0) / float(pd_)
                shift = v - float(values[i])  # type: ignore[arg-type]
                out["value"][i] = v
                for key, src in (("lower", lowers), ("upper", uppers), ("lower_998", lowers_998),
                                 ("upper_998", uppers_998)):
                    out[key][i] = float(src[i]) + shift if fin(src[i]) else None  # type: ignore[arg-type]
        else:  # dsr: see the docstring
            for i in idx:
                for key, src in (("value", values), ("lower", lowers), ("upper", uppers), ("lower_998", lowers_998),
                                 ("upper_998", uppers_998)):
                    out[key][i] = float(src[i]) if fin(src[i]) else None  # type: ignore[arg-type]
    return PublicValues(out["value"], out["lower"], out["upper"], out["lower_998"], out["upper_998"])
