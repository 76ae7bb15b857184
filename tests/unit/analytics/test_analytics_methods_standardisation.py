"""DSRs and ISRs checked against naive, loop-based implementations of the
PHEindicatormethods formulae."""

import numpy as np
import pytest
from scipy import stats

from opencommissioning.analytics.methods import ESP2013, ESP2013_BANDS, dsr, isr


def byars(o: float, z: float) -> tuple[float, float]:
    lo = o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3
    hi = (o + 1) * (1 - 1 / (9 * (o + 1)) + z / (3 * np.sqrt(o + 1))) ** 3
    return lo, hi


def dsr_naive(x, n, w, conf=0.95, mult=100_000):
    """phe_dsr written out term by term."""
    z = stats.norm.ppf(conf + (1 - conf) / 2)
    total = 0.0
    wt_rate = 0.0
    sq_rate = 0.0
    for xi, ni, wi in zip(x, n, w, strict=True):
        total += xi
        wt_rate += xi * wi / ni
        sq_rate += xi * (wi / ni) ** 2
    value = wt_rate / sum(w) * mult
    var = sq_rate / sum(w) ** 2
    lo_o, hi_o = byars(total, z)
    lower = value + np.sqrt(var / total) * (lo_o - total) * mult
    upper = value + np.sqrt(var / total) * (hi_o - total) * mult
    return value, lower, upper


def test_esp2013_constant():
    assert ESP2013.shape == (19,)
    assert ESP2013.sum() == 100_000
    assert ESP2013[0] == 5000 and ESP2013[-1] == 1000
    assert ESP2013_BANDS[0] == "0-4" and ESP2013_BANDS[-2] == "85-89"
    assert ESP2013_BANDS[-1] == "90+" and len(ESP2013_BANDS) == 19


def test_dsr_matches_naive_dobson_for_many_groups():
    rng = np.random.default_rng(42)
    x = rng.integers(0, 200, size=(25, 19)).astype(float)
    n = rng.integers(1_000, 20_000, size=(25, 19)).astype(float)
    for conf in (0.95, 0.998):
        r = dsr(x, n, confidence=conf)
        for g in range(25):
            v, lo, hi = dsr_naive(x[g], n[g], ESP2013, conf)
            assert r.value[g] == pytest.approx(v, rel=1e-12)
            assert r.lower[g] == pytest.approx(lo, rel=1e-12)
            assert r.upper[g] == pytest.approx(hi, rel=1e-12)
        assert r.lower.shape == (25,)


def test_dsr_single_group_is_0d_and_custom_standard():
    x = np.array([10.0, 20, 30])
    n = np.array([1000.0, 2000, 1500])
    w = np.array([1.0, 2, 3])
    r = dsr(x, n, standard_populations=w, multiplier=1000)
    v, lo, hi = dsr_naive(x, n, w, mult=1000)
    assert r.value.shape == ()
    assert float(r.value) == pytest.approx(v)
    assert float(r.lower) == pytest.approx(lo)
    assert float(r.upper) == pytest.approx(hi)
    assert float(r.total_count) == 60 and float(r.total_population) == 4500


def test_dsr_small_totals_are_nan_and_nan_counts_are_zero():
    x = np.zeros((2, 19))
    x[0, :9] = 1  # total 9 -> unreliable
    x[1, :10] = 1  # total 10 -> calculated
    x[1, 15] = np.nan
    r = dsr(x, np.full((2, 19), 1000.0))
    assert np.isnan(r.value[0]) and np.isnan(r.lower[0]) and not r.reliable[0]
    assert r.reliable[1] and np.isfinite(r.lower[1])
    assert r.total_count.tolist() == [9, 10]


def test_dsr_events_without_population_name_the_band_and_bad_input_raises():
    n = np.full((2, 19), 1000.0)
    n[0, 3] = 0
    with pytest.raises(ValueError, match="band 15-19 of group 0 has 5 events but a population of 0"):
        dsr(np.full((2, 19), 5.0), n)
    unknown = np.full((2, 19), 1000.0)
    unknown[0, 3] = np.nan  # an unknown population leaves that group undefined
    r = dsr(np.full((2, 19), 5.0), unknown)
    assert np.isnan(r.value[0]) and np.isfinite(r.value[1])
    with pytest.raises(ValueError):
        dsr(np.full(18, 5.0), np.full(18, 100.0))  # 18 bands against ESP2013
    with pytest.raises(ValueError, match="counts"):
        dsr(-np.ones(19), np.ones(19))


def test_dsr_non_independent_events_matches_naive():
    rng = np.random.default_rng(7)
    freqs = np.array([1.0, 2.0, 3.0, 5.0])
    people = rng.integers(0, 60, size=(3, 4, 19)).astype(float)  # groups x freq x band
    n = rng.integers(5_000, 9_000, size=(3, 19)).astype(float)
    r = dsr(people, n, independent_events=False, frequencies=freqs)
    z = stats.norm.ppf(0.975)
    w = ESP2013
    for g in range(3):
        events = sum(f * people[g, k] for k, f in enumerate(freqs))
        value = np.sum(events * w / n[g]) / w.sum() * 1e5
        var = 0.0
        for k, f in enumerate(freqs):
            var += f**2 * np.sum(people[g, k] * (w / n[g]) ** 2) / w.sum() ** 2
        total = events.sum()
        lo_o, hi_o = byars(total, z)
        assert r.value[g] == pytest.approx(value)
        assert r.lower[g] == pytest.approx(value + np.sqrt(var / total) * (lo_o - total) * 1e5)
        assert r.upper[g] == pytest.approx(value + np.sqrt(var / total) * (hi_o - total) * 1e5)
        assert r.total_count[g] == pytest.approx(total)
    # wider than treating the same events as independent
    events = np.einsum("gka,k->ga", people, freqs)
    indep = dsr(events, n)
    np.testing.assert_allclose(indep.value, r.value)
    assert np.all(r.upper - r.lower > indep.upper - indep.lower)


def test_dsr_non_independent_with_frequency_one_equals_independent():
    x = np.arange(19, dtype=float)[np.newaxis, :] + 3
    n = np.full(19, 4000.0)
    a = dsr(x, n, independent_events=False, frequencies=[1])
    b = dsr(x[0], n)
    assert float(a.lower) == pytest.approx(float(b.lower))
    with pytest.raises(ValueError):
        dsr(x, n, independent_events=False)


def test_isr_ratio_and_rate_match_naive():
    obs = np.array([[3.0, 10, 25], [1, 2, 3]])
    pop = np.array([[1000.0, 2000, 3000], [500, 800, 900]])
    ref_x = np.array([50.0, 300, 900])
    ref_n = np.array([100_000.0, 120_000, 110_000])
    r = isr(obs, pop, ref_x, ref_n, multiplier=100)
    expected = (pop * ref_x / ref_n).sum(axis=1)
    o = obs.sum(axis=1)
    np.testing.assert_allclose(r.expected, expected)
    np.testing.assert_allclose(r.value, o / expected * 100)
    z = stats.norm.ppf(0.975)
    assert r.lower[0] == pytest.approx(byars(38, z)[0] / expected[0] * 100)  # 38 >= 10
    assert r.upper[1] == pytest.approx(stats.chi2.ppf(0.975, 2 * 6 + 2) / 2 / expected[1] * 100)
    assert r.lower[1] == pytest.approx(stats.chi2.ppf(0.025, 12) / 2 / expected[1] * 100)
    assert r.exact.tolist() == [False, True]

    rr = isr(obs, pop, ref_x, ref_n, kind="rate", multiplier=100_000)
    ref_rate = ref_x.sum() / ref_n.sum()
    np.testing.assert_allclose(rr.value, o / expected * ref_rate * 1e5)
    np.testing.assert_allclose(rr.upper / rr.value, r.upper / r.value)


def test_isr_observed_totals_equal_age_breakdown_and_1d_is_scalar():
    pop = np.array([1000.0, 2000, 3000])
    ref_x = np.array([50.0, 300, 900])
    ref_n = np.array([100_000.0, 120_000, 110_000])
    a = isr([5, 6, 7], pop, ref_x, ref_n)
    b = isr(18, pop, ref_x, ref_n)
    assert a.value.shape == () and float(a.value) == pytest.approx(float(b.value))
    assert float(a.upper) == pytest.approx(float(b.upper))
    with pytest.raises(ValueError):
        isr(18, pop, ref_x, ref_n, kind="smr")  # type: ignore[arg-type]
    zero = isr(3, np.zeros(3), ref_x, ref_n)
    assert np.isnan(zero.value)


# ------------------------------------------------- an empty age band (issue 3, bug c)

# The DSR vignette's tiny population (PHEindicatormethods, DSR-vignette): 19 bands.
TINY_POP = np.array([30, 35, 35, 35, 40, 40, 45, 50, 50, 50, 60, 60, 70, 75, 70, 60, 20, 20, 15.0])
TINY_DEATHS = np.array([1, 1, 0, 0, 0, 1, 1, 3, 3, 3, 3, 10, 10, 10, 10, 8, 8, 8, 8.0])


def test_dsr_an_empty_band_contributes_nothing_instead_of_making_the_rate_nan():
    # Nobody aged 90+ and no deaths there: before the fix the whole DSR was NaN.
    pop, deaths = TINY_POP.copy(), TINY_DEATHS.copy()
    pop[18], deaths[18] = 0, 0
    r = dsr(deaths, pop)
    assert r.reliable and np.isfinite(r.value) and r.lower < r.value < r.upper
    assert float(r.total_population) == TINY_POP[:18].sum()
    # the band adds a rate of 0 weighted by its standard population (1,000 of 100,000)
    # and no variance: the same as dropping the band but keeping the ESP total
    kept = ESP2013[:18]
    value = np.sum(deaths[:18] / pop[:18] * kept) / ESP2013.sum() * 1e5
    var = np.sum(deaths[:18] * (kept / pop[:18]) ** 2) / ESP2013.sum() ** 2
    assert float(r.value) == pytest.approx(value, rel=1e-12)
    o = deaths.sum()
    byars_hi = (o + 1) * (1 - 1 / (9 * (o + 1)) + 1.959963984540054 / (3 * np.sqrt(o + 1))) ** 3
    assert float(r.upper) == pytest.approx(value + np.sqrt(var / o) * (byars_hi - o) * 1e5)
    # one group with an empty band among others: only its own rate changes
    both = dsr(np.vstack([TINY_DEATHS, deaths]), np.vstack([TINY_POP, pop]))
    assert both.value[0] == pytest.approx(8283.016, abs=5e-4)  # the vignette's value
    assert both.value[1] == pytest.approx(value, rel=1e-12)


def test_dsr_empty_band_with_non_independent_events():
    pop, deaths = TINY_POP.copy(), TINY_DEATHS.copy()
    pop[0], deaths[0] = 0, 0
    people = np.stack([deaths, np.zeros(19)])  # everyone had one event
    r = dsr(people, pop, independent_events=False, frequencies=[1, 2])
    assert float(r.value) == pytest.approx(float(dsr(deaths, pop).value), rel=1e-12)
    assert float(r.upper) == pytest.approx(float(dsr(deaths, pop).upper), rel=1e-12)
    with pytest.raises(ValueError, match="band 0-4 has 2 events"):
        bad = np.stack([np.r_[0.0, deaths[1:]], np.r_[1.0, np.zeros(18)]])
        dsr(bad, pop, independent_events=False, frequencies=[1, 2])
