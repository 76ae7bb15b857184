"""Funnel limits and significance: PHEindicatormethods' published test outputs,
the Poisson inversion identity, and Spiegelhalter's over-dispersion estimates."""

import numpy as np
import pytest
from scipy import stats

from opencommissioning.analytics.methods import (
    FunnelFlag,
    funnel_limits,
    funnel_significance,
    proportion,
    rate,
)

# From PHEindicatormethods tests/testthat/testdata_funnel_prop_outputs.csv
# (calculate_funnel_limits, proportion, multiplier 100, average 80.642448%).
PHE_PROP = [
    # population, lower 95, upper 95, lower 99.8, upper 99.8
    (1, 3.204264, 100, 0, 100),
    (3, 35.933491, 100, 10.150815, 100),
    (10, 56.154344, 100, 42.03259, 100),
    (18, 62.390093, 98.894803, 51.864359, 100),
    (41, 68.548635, 92.73626, 61.574398, 99.710497),
    (1008, 78.203374, 83.081521, 76.796814, 84.488082),
    (110000, 80.408963, 80.875933, 80.274317, 81.010578),
]

# From testdata_funnel_ratio_outputs.csv: observed events O and the expected counts
# at which O sits on each funnel (limit = O / expected).
PHE_RATIO = [
    # observed, lower_2s_exp, upper_2s_exp, lower_3s_exp, upper_3s_exp
    (1, 5.571644585, 0.025317898, 9.233410143, 0.001000547),
    (10, 18.39035799, 4.795387629, 24.13397235, 2.960519925),
    (100, 121.6268111, 81.36400699, 134.9243187, 71.92139974),
    (716, 770.4222128, 664.5083011, 802.60414, 636.1521174),
]


@pytest.mark.parametrize("row", PHE_PROP)
def test_proportion_funnel_matches_phe_outputs(row):
    n, lo95, hi95, lo998, hi998 = row
    r = funnel_limits("proportion", n, 80.642448, multiplier=100)
    assert float(r.lower_95) == pytest.approx(lo95, abs=2e-6)
    assert float(r.upper_95) == pytest.approx(hi95, abs=2e-6)
    assert float(r.lower_998) == pytest.approx(lo998, abs=2e-6)
    assert float(r.upper_998) == pytest.approx(hi998, abs=2e-6)
    assert float(r.value) == 80.642448


@pytest.mark.parametrize("row", PHE_RATIO)
def test_ratio_funnel_matches_phe_outputs(row):
    # PHE finds these points by bisection (step 1e-7 on v = E / (E + O + 1)), so its
    # printed values carry a relative error of up to a few 1e-6.
    # At O = 1 the 99.8% upper point is ~0.001 and PHE's error reaches ~5e-5.
    o, e_lo95, e_hi95, e_lo998, e_hi998 = row
    tol = 5e-6 if o >= 10 else 1e-4
    r = funnel_limits("ratio", [e_lo95, e_hi95, e_lo998, e_hi998], 1.0)
    assert r.lower_95[0] == pytest.approx(o / e_lo95, rel=tol)
    assert r.upper_95[1] == pytest.approx(o / e_hi95, rel=tol)
    assert r.lower_998[2] == pytest.approx(o / e_lo998, rel=tol)
    assert r.upper_998[3] == pytest.approx(o / e_hi998, rel=tol)
    # and against the exact Garwood values the bisection approximates
    exact = funnel_limits("ratio", [stats.chi2.ppf(0.001, 2 * o) / 2], 1.0)
    assert float(exact.upper_998[0]) == pytest.approx(o / (stats.chi2.ppf(0.001, 2 * o) / 2))


def test_poisson_funnel_inverts_exact_limits():
    # On the lower 95% funnel at expected E, the observed count's exact upper limit
    # (Garwood) equals E; on the upper funnel its exact lower limit equals E.
    e = np.array([3.7, 12.0, 55.5, 400.0])
    r = funnel_limits("ratio", e, 1.0)
    o_lo = r.lower_95 * e
    o_hi = r.upper_95 * e
    np.testing.assert_allclose(stats.chi2.ppf(0.975, 2 * o_lo + 2) / 2, e, rtol=1e-9)
    np.testing.assert_allclose(stats.chi2.ppf(0.025, 2 * o_hi) / 2, e, rtol=1e-9)


def test_rate_funnel_is_ratio_funnel_scaled_and_ratio_target():
    pops = np.array([5_000.0, 50_000, 500_000])
    target = 120.0  # per 100,000
    rt = funnel_limits("rate", pops, target)
    ra = funnel_limits("ratio", pops * target / 1e5, 1.0)
    np.testing.assert_allclose(rt.upper_998, ra.upper_998 * target, rtol=1e-10)
    smr = funnel_limits("ratio", [40.0], 100.0, multiplier=100)
    assert float(smr.upper_95[0]) == pytest.approx(
        100 * funnel_limits("ratio", [40.0], 1).upper_95[0]
    )


def test_funnels_narrow_with_denominator():
    n = np.array([10.0, 100, 1_000, 10_000])
    for stat in ("proportion", "rate", "ratio"):
        target = 0.3 if stat == "proportion" else (50.0 if stat == "rate" else 1.0)
        denominators = n * (1_000 if stat == "rate" else 1)
        r = funnel_limits(stat, denominators, target)  # type: ignore[arg-type]
        assert np.all(np.diff(r.upper_998 - r.lower_998) < 0)
        assert np.all(r.lower_998 <= r.lower_95) and np.all(r.upper_95 <= r.upper_998)


def test_significance_proportion_agrees_with_wilson_intervals():
    rng = np.random.default_rng(1)
    n = rng.integers(200, 5_000, size=400)
    p = np.clip(rng.normal(0.7, 0.05, size=400), 0.01, 0.99)
    x = rng.binomial(n, p)
    r = funnel_significance("proportion", x, n)
    target = x.sum() / n.sum()
    assert r.target == pytest.approx(target)
    w95 = proportion(x, n, 0.95)
    w998 = proportion(x, n, 0.998)
    # outside the funnel <=> the unit's own Wilson interval excludes the target
    high = np.isin(r.flag, [FunnelFlag.HIGH_95, FunnelFlag.HIGH_998])
    low = np.isin(r.flag, [FunnelFlag.LOW_95, FunnelFlag.LOW_998])
    np.testing.assert_array_equal(high, w95.lower > target)
    np.testing.assert_array_equal(low, w95.upper < target)
    np.testing.assert_array_equal(r.flag == FunnelFlag.HIGH_998, w998.lower > target)
    np.testing.assert_array_equal(r.flag == FunnelFlag.LOW_998, w998.upper < target)
    assert set(np.unique(r.flag)) <= {f.value for f in FunnelFlag}


def test_significance_ratio_uses_unit_intervals_like_phe():
    obs = np.array([0, 3, 8, 30, 150, 60, 100])
    exp = np.array([5.0, 0.5, 14.0, 30.0, 100.0, 100.0, 98.0])
    r = funnel_significance("ratio", obs, exp)
    assert r.target == 1.0
    i95 = rate(obs, exp, confidence=0.95, multiplier=1)
    i998 = rate(obs, exp, confidence=0.998, multiplier=1)
    expected_flags = []
    for k in range(len(obs)):
        if i998.lower[k] > 1:
            expected_flags.append("high 99.8")
        elif i95.lower[k] > 1:
            expected_flags.append("high 95")
        elif i998.upper[k] < 1:
            expected_flags.append("low 99.8")
        elif i95.upper[k] < 1:
            expected_flags.append("low 95")
        else:
            expected_flags.append("within")
    assert r.flag.tolist() == expected_flags
    assert r.flag[4] == FunnelFlag.HIGH_998 and r.flag[5] == FunnelFlag.LOW_998
    assert r.flag[1] == FunnelFlag.HIGH_95  # 3 events when 0.5 expected


def test_significance_rate_and_not_applicable():
    r = funnel_significance("rate", [10, 40, 5, 3], [10_000, 10_000, 0, 9_000])
    assert r.target == pytest.approx(53 / 29_000 * 1e5)
    assert r.flag[2] == FunnelFlag.NOT_APPLICABLE
    assert np.isnan(r.value[2]) and np.isnan(r.z[2])
    assert r.flag[1] == FunnelFlag.HIGH_998


def naive_dispersion(z, s, q=0.1):
    lo, hi = np.quantile(z, [q, 1 - q])
    zw = np.clip(z, lo, hi)
    phi = np.mean(zw**2)
    w = 1 / s**2
    tau2 = max(0.0, (len(z) * phi - (len(z) - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    return phi, tau2


def overdispersed_ratios(seed=2, units=150):
    rng = np.random.default_rng(seed)
    expected = rng.uniform(20, 400, size=units)
    true_ratio = rng.lognormal(0, 0.25, size=units)
    observed = rng.poisson(expected * true_ratio)
    return observed, expected


def test_phi_and_tau2_follow_spiegelhalter():
    obs, exp = overdispersed_ratios()
    r = funnel_significance("ratio", obs, exp, overdispersion="multiplicative")
    s = np.sqrt(1.0 / exp)
    z = (obs / exp - 1.0) / s
    np.testing.assert_allclose(r.z, z)
    phi, tau2 = naive_dispersion(z, s)
    assert r.phi == pytest.approx(phi)
    assert r.tau2 == pytest.approx(tau2)
    assert r.phi > 1.5 and r.tau2 > 0
    np.testing.assert_allclose(r.z_adjusted, z / np.sqrt(phi))
    # multiplicative limits are the normal ones inflated by sqrt(phi)
    np.testing.assert_allclose(r.upper - 1.0, Z95 * np.sqrt(phi) * s, rtol=1e-10)
    lim = funnel_limits("ratio", exp, 1.0, overdispersion="multiplicative", phi=r.phi)
    np.testing.assert_allclose(lim.upper_998, r.upper_998)

    add = funnel_significance("ratio", obs, exp, overdispersion="additive")
    np.testing.assert_allclose(add.z_adjusted, (obs / exp - 1) / np.sqrt(s**2 + tau2))
    np.testing.assert_allclose(add.upper_998, 1 + Z998 * np.sqrt(s**2 + tau2))
    # adjustment flags far fewer units than the exact Poisson funnel
    exact = funnel_significance("ratio", obs, exp)
    assert np.sum(add.flag != "within") < np.sum(exact.flag != "within")
    assert np.sum(r.flag != "within") < np.sum(exact.flag != "within")


def test_log_scale_additive_matches_funnelplotr_shmi():
    obs, exp = overdispersed_ratios(seed=9)
    r = funnel_significance(
        "ratio", obs, exp, overdispersion="additive", scale="log", winsorise_mode="truncate"
    )
    z = np.sqrt(exp) * np.log(obs / exp)  # FunnelPlotR Uzscore_SHMI
    np.testing.assert_allclose(r.z, z)
    lo, hi = np.quantile(z, [0.1, 0.9])
    keep = (z > lo) & (z < hi)
    phi = np.mean(z[keep] ** 2)
    e = exp[keep]
    tau2 = max(0.0, (keep.sum() * phi - (keep.sum() - 1)) / (e.sum() - (e**2).sum() / e.sum()))
    assert r.phi == pytest.approx(phi) and r.tau2 == pytest.approx(tau2)
    np.testing.assert_allclose(r.upper_998, np.exp(Z998 * np.sqrt(1 / exp + tau2)))
    np.testing.assert_allclose(r.lower, np.exp(-Z95 * np.sqrt(1 / exp + tau2)))


def test_proportion_overdispersion_and_validation():
    rng = np.random.default_rng(4)
    n = rng.integers(100, 3_000, size=100)
    x = rng.binomial(n, np.clip(rng.normal(0.6, 0.08, size=100), 0, 1))
    r = funnel_significance("proportion", x, n, overdispersion="additive", winsorise=0.05)
    theta = x.sum() / n.sum()
    s = np.sqrt(theta * (1 - theta) / n)
    phi, tau2 = naive_dispersion((x / n - theta) / s, s, q=0.05)
    assert r.phi == pytest.approx(phi) and r.tau2 == pytest.approx(tau2)
    assert np.all((r.lower_998 >= 0) & (r.upper_998 <= 1))
    with pytest.raises(ValueError):
        funnel_limits("ratio", [10.0], 1.0, overdispersion="multiplicative")
    with pytest.raises(ValueError):
        funnel_limits("proportion", [10.0], 0.5, overdispersion="additive", tau2=0.1, scale="log")
    with pytest.raises(ValueError):
        funnel_significance("proportion", [11], [10])
    with pytest.raises(ValueError):
        funnel_significance("ratio", [1], [1.0], winsorise=0.6)
    with pytest.raises(ValueError):
        funnel_limits("mean", [10.0], 1.0)  # type: ignore[arg-type]


Z95 = stats.norm.ppf(0.975)
Z998 = stats.norm.ppf(0.999)


def test_exact_poisson_funnels_for_large_arrays_agree_with_the_direct_solution():
    # A funnel for many denominators reads the exact solution off a dense spline; it must
    # agree with the element-by-element solution (used for small arrays) to 1e-10 of
    # the observed count + 1, across expected counts from below 1 to 10^5.
    rng = np.random.default_rng(8)
    expected = np.exp(rng.uniform(np.log(0.05), np.log(1e5), 60_000))
    for method in ("observed_count", "expected_count"):
        big = funnel_limits("ratio", expected, 1.0, poisson_limits=method)
        sample = rng.choice(expected.size, 300, replace=False)
        for i in sample[:60]:
            one = funnel_limits("ratio", expected[i : i + 1], 1.0, poisson_limits=method)
            for name in ("lower_95", "upper_95", "lower_998", "upper_998"):
                a, b = getattr(big, name)[i], getattr(one, name)[0]
                assert abs(a - b) * expected[i] <= 1e-10 * (b * expected[i] + 1), (method, name)
    # one denominator repeated many times (a flat funnel) takes the direct route
    same = funnel_limits("rate", np.full(50_000, 2_500.0), 120.0)
    one = funnel_limits("rate", [2_500.0], 120.0)
    assert np.all(same.upper_998 == one.upper_998[0]) and np.all(same.lower_95 == one.lower_95[0])
