"""Direct and indirect age standardisation (DSRs, ISRs / SMRs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from ._common import (
    EXACT_BELOW,
    BoolArray,
    FloatArray,
    Interval,
    as_float,
    byars_lower,
    byars_upper,
    frozen,
    frozen_bool,
    index_of,
    normalise_confidence,
    poisson_count_limits,
    require_non_negative,
    z_two_sided,
)

#: The 2013 European Standard Population: 19 five-year age bands, 0-4 ... 85-89, 90+,
#: summing to 100,000. Source: Eurostat (2013) *Revision of the European Standard
#: Population: report of Eurostat's task force*, Methodologies and Working papers,
#: catalogue KS-RA-13-028 (the ``esp2013`` vector in PHEindicatormethods).
ESP2013: FloatArray = frozen(
    [
        5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
        7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000,
    ]
)  # fmt: skip

#: Labels of the ESP2013 age bands, in the same order as :data:`ESP2013`.
ESP2013_BANDS: tuple[str, ...] = tuple(f"{a}-{a + 4}" for a in range(0, 90, 5)) + ("90+",)


@dataclass(frozen=True, eq=False)
class DsrResult(Interval):
    """A directly standardised rate per ``multiplier``.

    ``total_count`` is the number of events (for non-independent events, the sum of
    frequency x people). Where ``total_count < 10`` the value and limits are NaN and
    ``reliable`` is False, as PHEindicatormethods.
    """

    total_count: FloatArray
    total_population: FloatArray
    multiplier: float
    reliable: BoolArray
    method: str


@dataclass(frozen=True, eq=False)
class IsrResult(Interval):
    """An indirectly standardised ratio (``kind="ratio"``, times ``multiplier``) or
    rate (``kind="rate"``, per ``multiplier``)."""

    observed: FloatArray
    expected: FloatArray
    reference_rate: FloatArray
    kind: str
    multiplier: float
    exact: BoolArray


def _na_zero(x: FloatArray) -> FloatArray:
    return as_float(np.where(np.isnan(x), 0.0, x))


def _empty_bands_contribute_nothing(events: FloatArray, pop: FloatArray, bands: int) -> FloatArray:
    """``pop`` with its zero entries replaced by infinity, so that an empty band adds
    ``0 / inf = 0`` to the rate and to the variance; raises ``ValueError`` naming the
    first band with events but no population."""
    zero = pop == 0
    bad = np.broadcast_to(zero, np.broadcast_shapes(zero.shape, events.shape)) & (events > 0)
    if np.any(bad):
        idx = index_of(np.asarray(bad))
        where = idx if isinstance(idx, tuple) else (idx,)
        label = ESP2013_BANDS[where[-1]] if bands == len(ESP2013_BANDS) else f"{where[-1]}"
        group = f" of group {where[0] if len(where) == 2 else where[:-1]}" if len(where) > 1 else ""
        n_events = float(np.broadcast_to(events, bad.shape)[where])
        raise ValueError(
            f"band {label}{group} has {n_events:g} events but a population of 0: events "
            "need a population (check the population for that band)"
        )
    return as_float(np.where(zero, np.inf, pop))


def dsr(
    counts: ArrayLike,
    populations: ArrayLike,
    standard_populations: ArrayLike = ESP2013,
    confidence: float = 0.95,
    multiplier: float = 100_000,
    independent_events: bool = True,
    frequencies: ArrayLike | None = None,
) -> DsrResult:
    """A directly standardised rate with Dobson confidence limits.

    Sources: Dobson AJ, Kuulasmaa K, Eberle E, Scherer J (1991) *Confidence
    intervals for weighted sums of Poisson parameters*, Stat Med 10:457-462, using
    Byar's limits for the total count (Breslow & Day 1987). Implemented as
    PHEindicatormethods ``phe_dsr`` / ``calculate_dsr`` (>= 2.0), including the
    non-independent events adjustment (``independent_events = FALSE, eventfreq``).

    Shapes (the standardisation category - usually the age band - is the last axis)
    ----------------------------------------------------------------------------
    * Independent events: ``counts`` is ``(..., bands)``: 1-d for a single group
      (0-d results), 2-d ``(groups, bands)`` for one DSR per group.
    * ``independent_events=False``: ``counts`` is ``(..., F, bands)`` where entry
      ``[..., k, a]`` is the number of *people* in band ``a`` who had
      ``frequencies[k]`` events, and ``frequencies`` is the 1-d array of the F event
      frequencies. The rate is built from the total events ``sum_k f_k x_k`` and the
      Dobson variance is replaced by ``sum_k f_k^2 var_k``, where ``var_k`` is the
      usual DSR variance computed from the people with frequency ``f_k``
      (PHEindicatormethods ``calculate_dsr``, ``independent_events = FALSE``).
    * ``populations`` broadcasts against ``(..., bands)``; ``standard_populations``
      is ``(bands,)`` (default :data:`ESP2013`, 19 bands).

    Formulae: ``DSR = sum(x w / n) / sum(w) * m``, ``var = sum(x (w/n)^2) / sum(w)^2``,
    ``limit = DSR + sqrt(var / O) * (Byar(O) - O) * m`` with ``O`` the total count.

    Edge cases
    ----------
    * Total count < 10: value and limits NaN (unreliable), ``reliable`` False.
    * NaN counts are treated as zero (as PHEindicatormethods ``na.zero``).
    * An empty band - population 0 and no events (nobody aged 90+ in a small
      practice) - contributes nothing: a rate of 0 weighted by its standard
      population, with zero variance, so the DSR is that of the people who are
      there. PHEindicatormethods ``calculate_dsr`` stops instead ("denominators must
      all be greater than zero") for any zero population; we differ on purpose, as a
      commissioner expects a small practice to get a rate.
    * A band with events but a population of 0 is an error in the data and raises
      ``ValueError`` naming the group and the band; a NaN (unknown) population gives
      NaN for that group. Negative counts or populations raise ``ValueError``.
    """
    conf = normalise_confidence(confidence)
    x = as_float(counts)
    pop = as_float(populations)
    std = as_float(standard_populations)
    if std.ndim != 1:
        raise ValueError("standard_populations must be 1-d (one weight per band)")
    if x.ndim == 0 or x.shape[-1] != std.shape[0]:
        raise ValueError(
            f"the last axis of counts must have one entry per standard population band "
            f"({std.shape[0]}), got shape {x.shape}"
        )
    # Single-pass checks (min() propagates NaN) keep large tables fast.
    if x.size and np.isnan(np.min(x)):
        x = _na_zero(x)
    if x.size and np.min(x) < 0:
        require_non_negative(x, "counts")
    empty_bands = False
    if pop.size and np.min(pop) > 0:  # the usual case: no per-group check needed
        pop_min: FloatArray | float = 1.0
    else:
        require_non_negative(pop, "populations")
        # NaN (unknown) populations make the group NaN; a zero population is an empty band
        pop_min = as_float(np.where(np.isnan(pop), np.nan, 1.0))
        pop_min = as_float(np.min(pop_min, axis=-1) if pop.ndim >= 1 else pop_min)
        empty_bands = bool(np.any(pop == 0))
    require_non_negative(std, "standard_populations")
    m = float(multiplier)
    wsum = float(np.sum(std))
    people = pop  # before empty bands are given an infinite population below

    if independent_events:
        if frequencies is not None:
            raise ValueError("frequencies is only used with independent_events=False")
        events = x
        if empty_bands:
            pop = _empty_bands_contribute_nothing(events, pop, std.shape[0])
        # Memory-lean for large tables: a single (groups x bands) temporary.
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.divide(events, pop)  # x / n
            value = as_float(r @ std) / wsum * m
            np.divide(r, pop, out=r)  # x / n^2
            var = as_float(r @ (std * std)) / (wsum * wsum)
        del r
        method = "Dobson"
    else:
        if frequencies is None:
            raise ValueError("independent_events=False needs frequencies (events per person)")
        f = as_float(frequencies)
        if f.ndim != 1:
            raise ValueError("frequencies must be 1-d")
        if np.any(f <= 0):
            raise ValueError("frequencies must be positive")
        if x.ndim < 2 or x.shape[-2] != f.shape[0]:
            raise ValueError(
                "with independent_events=False counts must be (..., frequencies, bands); "
                f"got shape {x.shape} for {f.shape[0]} frequencies"
            )
        if empty_bands:
            pop = _empty_bands_contribute_nothing(
                as_float(np.einsum("...ka,k->...a", x, f)), pop, std.shape[0]
            )
        pop_f = pop[..., np.newaxis, :] if pop.ndim >= 1 else pop
        with np.errstate(divide="ignore", invalid="ignore"):
            sq = x / pop_f / pop_f  # people x (1/n)^2, per frequency
            var_k = as_float(sq @ (std * std)) / (wsum * wsum)  # (..., F)
            var = as_float(var_k @ (f * f))
            events = as_float(np.einsum("...ka,k->...a", x, f))  # events per band
            value = as_float((events / pop) @ std) / wsum * m
        method = "Dobson, non-independent events"

    shape = value.shape
    total = as_float(np.broadcast_to(np.sum(events, axis=-1), shape))
    pop_b = people if people.ndim >= 1 else np.broadcast_to(people, std.shape)
    total_pop = as_float(np.broadcast_to(np.sum(pop_b, axis=-1), shape))
    bad_pop = np.broadcast_to(~(pop_min > 0), shape)  # zero (or NaN) population
    var = as_float(np.broadcast_to(var, shape))
    z = z_two_sided(conf)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_unit = np.sqrt(var / total)
        lower = value + se_unit * (byars_lower(total, z) - total) * m
        upper = value + se_unit * (byars_upper(total, z) - total) * m
    reliable = (total >= EXACT_BELOW) & ~bad_pop
    value = as_float(np.where(reliable, value, np.nan))
    lower = as_float(np.where(reliable, lower, np.nan))
    upper = as_float(np.where(reliable, upper, np.nan))
    return DsrResult(
        value=frozen(value),
        lower=frozen(lower),
        upper=frozen(upper),
        confidence=conf,
        total_count=frozen(total),
        total_population=frozen(total_pop),
        multiplier=m,
        reliable=frozen_bool(reliable),
        method=method,
    )


def isr(
    observed: ArrayLike,
    populations: ArrayLike,
    reference_counts: ArrayLike,
    reference_populations: ArrayLike,
    confidence: float = 0.95,
    kind: Literal["ratio", "rate"] = "ratio",
    multiplier: float = 1,
) -> IsrResult:
    """An indirectly standardised ratio (SMR-style) or rate.

    ``expected = sum(populations * reference_counts / reference_populations)`` over
    the last axis (the standardisation category). The ratio is
    ``observed / expected * multiplier`` (PHEindicatormethods ``calculate_ISRatio``,
    whose ``refvalue`` is our ``multiplier``, e.g. 100 for SMR x 100); the rate is
    ``observed / expected * reference_rate * multiplier`` where
    ``reference_rate = sum(reference_counts) / sum(reference_populations)``
    (``calculate_ISRate``; pass ``multiplier=100_000`` for a rate per 100,000).
    Limits are those of the observed count - exact Poisson (Armitage & Berry 2002)
    below 10 events, Byar's (Breslow & Day 1987) otherwise - divided by the expected.

    Shapes
    ------
    ``populations`` is ``(..., bands)``; ``reference_counts`` and
    ``reference_populations`` broadcast against it (usually ``(bands,)``).
    ``observed`` is either age-specific, with the same number of dimensions as
    ``populations`` (summed over the last axis, NaN as zero), or totals with one fewer dimension
    (PHEindicatormethods' ``observed_totals``). A 1-d ``populations`` gives 0-d results.

    Edge cases
    ----------
    NaN reference counts and populations are treated as zero (``na.zero``). Zero
    expected events give NaN. Negative inputs raise ``ValueError``.
    """
    conf = normalise_confidence(confidence)
    if kind not in ("ratio", "rate"):
        raise ValueError(f"kind must be 'ratio' or 'rate', got {kind!r}")
    obs = as_float(observed)
    pop = as_float(populations)
    ref_x = as_float(reference_counts)
    ref_n = as_float(reference_populations)
    if pop.ndim == 0:
        raise ValueError("populations needs a last axis of standardisation bands")
    for arr, name in (
        (obs, "observed"),
        (pop, "populations"),
        (ref_x, "reference_counts"),
        (ref_n, "reference_populations"),
    ):
        require_non_negative(arr, name)
    np.broadcast_shapes(pop.shape, ref_x.shape, ref_n.shape)  # raises if they do not fit
    # the reference is usually one row of bands for every area: work it out once and let
    # the arithmetic broadcast, rather than copying it out to every area first
    ref_n_total = as_float(np.sum(ref_n, axis=-1))
    if np.any(ref_n_total <= 0):
        raise ValueError("reference_populations must not sum to zero")
    with np.errstate(divide="ignore", invalid="ignore"):
        ref_x0 = _na_zero(ref_x)
        ref_rates = ref_x0 / ref_n
        expected = as_float(np.sum(ref_rates * (_na_zero(pop) if np.isnan(pop).any() else pop), axis=-1))
        ref_rate = as_float(np.sum(ref_x0, axis=-1) / ref_n_total)
    if obs.ndim == pop.ndim:
        obs_total = as_float(np.nansum(obs, axis=-1))  # sum(x, na.rm = TRUE)
    elif obs.ndim == pop.ndim - 1:
        obs_total = obs
    else:
        raise ValueError(
            f"observed must be age-specific (ndim {pop.ndim}) or totals (ndim {pop.ndim - 1}); "
            f"got shape {obs.shape}"
        )
    obs_total, expected, ref_rate = (
        as_float(a) for a in np.broadcast_arrays(obs_total, expected, ref_rate)
    )
    lo, hi = poisson_count_limits(obs_total, conf)
    m = float(multiplier)
    factor = m if kind == "ratio" else ref_rate * m
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = as_float(
            np.where(expected > 0, factor / np.where(expected > 0, expected, 1.0), np.nan)
        )
    return IsrResult(
        value=frozen(obs_total * scale),
        lower=frozen(lo * scale),
        upper=frozen(hi * scale),
        confidence=conf,
        observed=frozen(obs_total, copy=True),
        expected=frozen(expected),
        reference_rate=frozen(ref_rate),
        kind=kind,
        multiplier=m,
        exact=frozen_bool(obs_total < EXACT_BELOW),
    )
