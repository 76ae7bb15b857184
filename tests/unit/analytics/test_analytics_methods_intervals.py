"""Proportions, rates and means: reference values from PHEindicatormethods' formulae."""

import numpy as np
import pytest
from scipy import stats

from opencommissioning.analytics.methods import mean, proportion, rate

Z95 = stats.norm.ppf(0.975)


def wilson_naive(x: float, n: float, z: float) -> tuple[float, float]:
    centre = 2 * x + z**2
    root = z * np.sqrt(z**2 + 4 * x * (1 - x / n))
    return (centre - root) / 2 / (n + z**2), (centre + root) / 2 / (n + z**2)


# --------------------------------------------------------------------------- proportion


def test_wilson_65_of_100():
    r = proportion(65, 100)
    assert r.value.shape == ()
    assert float(r.value) == 0.65
    assert float(r.lower) == pytest.approx(0.5525444, abs=1e-7)
    assert float(r.upper) == pytest.approx(0.7363575, abs=1e-7)
    assert r.method == "Wilson"


def test_wilson_matches_formula_vectorised_and_percentages():
    x = np.array([0, 1, 5, 50, 99, 100])
    n = np.array([100, 100, 10, 80, 100, 100])
    r = proportion(x, n, confidence=99.8, multiplier=100)
    z = stats.norm.ppf(0.999)
    for i in range(len(x)):
        lo, hi = wilson_naive(x[i], n[i], z)
        assert r.lower[i] == pytest.approx(lo * 100, rel=1e-12, abs=1e-12)
        assert r.upper[i] == pytest.approx(hi * 100, rel=1e-12)
    assert r.confidence == pytest.approx(0.998)
    assert r.lower[0] == pytest.approx(0.0, abs=1e-12)
    assert r.upper[-1] == pytest.approx(100.0)


def test_proportion_zero_denominator_gives_nan():
    r = proportion([0, 3], [0, 4])
    assert np.isnan(r.value[0]) and np.isnan(r.lower[0]) and np.isnan(r.upper[0])
    assert r.value[1] == 0.75


def test_proportion_numerator_above_denominator_names_index():
    with pytest.raises(ValueError, match=r"index 2"):
        proportion([1, 2, 9, 4], [5, 5, 5, 5])
    with pytest.raises(ValueError, match=r"index \(1, 0\)"):
        proportion([[1, 1], [7, 1]], [[5, 5], [5, 5]])


def test_proportion_rejects_negative_and_bad_confidence():
    with pytest.raises(ValueError):
        proportion(-1, 10)
    with pytest.raises(ValueError):
        proportion(1, -10)
    with pytest.raises(ValueError):
        proportion(1, 10, confidence=0)
    with pytest.raises(ValueError):
        proportion(1, 10, confidence=101)


def test_proportion_confidence_one_is_unit_interval():
    r = proportion([3, 7], [10, 10], confidence=1)
    assert np.all(r.lower == 0) and np.all(r.upper == 1)


def test_results_are_read_only():
    r = proportion([1, 2], [3, 4])
    with pytest.raises(ValueError):
        r.value[0] = 5


# --------------------------------------------------------------------------------- rate


def test_byars_65_per_100000():
    r = rate(65, 100_000)
    assert float(r.value) == 65.0
    assert float(r.lower) == pytest.approx(50.16, abs=0.005)
    assert float(r.upper) == pytest.approx(82.85, abs=0.005)
    # exactly the Byar formulae
    o = 65
    assert float(r.lower) == pytest.approx(o * (1 - 1 / (9 * o) - Z95 / (3 * np.sqrt(o))) ** 3)
    assert float(r.upper) == pytest.approx(
        (o + 1) * (1 - 1 / (9 * (o + 1)) + Z95 / (3 * np.sqrt(o + 1))) ** 3
    )
    assert not bool(r.exact)


def test_exact_poisson_for_zero_events():
    r = rate(0, 1, multiplier=1)
    assert float(r.lower) == 0.0
    assert float(r.upper) == pytest.approx(3.688879, abs=1e-6)
    assert float(r.upper) == pytest.approx(stats.chi2.ppf(0.975, 2) / 2)


@pytest.mark.parametrize("confidence", [0.95, 0.998, 0.9])
def test_exact_below_ten_byars_from_ten(confidence):
    counts = np.arange(0, 15)
    r = rate(counts, 1000, confidence=confidence, multiplier=1000)
    a = 1 - confidence
    z = stats.norm.ppf(1 - a / 2)
    for c, lo, hi, ex in zip(counts, r.lower, r.upper, r.exact, strict=True):
        if c < 10:
            assert ex
            exp_lo = 0.0 if c == 0 else stats.chi2.ppf(a / 2, 2 * c) / 2
            assert lo == pytest.approx(exp_lo, rel=1e-10, abs=1e-12)
            assert hi == pytest.approx(stats.chi2.ppf(1 - a / 2, 2 * c + 2) / 2, rel=1e-10)
        else:
            assert not ex
            assert lo == pytest.approx(c * (1 - 1 / (9 * c) - z / (3 * np.sqrt(c))) ** 3)


def test_rate_non_integer_small_counts_use_chi_square():
    r = rate(2.5, 10, multiplier=1)
    assert float(r.lower) * 10 == pytest.approx(stats.chi2.ppf(0.025, 5) / 2, rel=1e-10)


def test_rate_zero_denominator_nan_and_negative_raises():
    r = rate([5, 5], [0, 10], multiplier=1)
    assert np.isnan(r.value[0]) and np.isnan(r.upper[0])
    with pytest.raises(ValueError, match=r"count must be >= 0; got -1.0 at index 1"):
        rate([1, -1], [10, 10])


def test_rate_broadcasts_scalars_and_2d():
    r = rate([[1, 20], [300, 4000]], 1e5)
    assert r.value.shape == (2, 2)
    assert r.value[1, 1] == pytest.approx(4000.0)


# --------------------------------------------------------------------------------- mean


def test_mean_matches_student_t():
    values = np.array([30.0, 40, 50, 60])
    r = mean(values)
    lo, hi = stats.t.interval(0.95, df=3, loc=values.mean(), scale=stats.sem(values))
    assert float(r.value) == 45.0
    assert float(r.lower) == pytest.approx(lo)
    assert float(r.upper) == pytest.approx(hi)
    assert float(r.stdev) == pytest.approx(np.std(values, ddof=1))
    assert float(r.count) == 4


def test_mean_grouped_rows_ignore_nan_and_summary_mode_agrees():
    data = np.array([[20.0, 30, 40, np.nan], [200, 300, 400, 500]])
    r = mean(data)
    assert r.value.shape == (2,)
    assert r.count.tolist() == [3, 4]
    summ = mean(
        [90.0, 1400.0],
        counts=[3, 4],
        stdevs=[np.std([20, 30, 40], ddof=1), np.std([200, 300, 400, 500], ddof=1)],
    )
    np.testing.assert_allclose(summ.lower, r.lower)
    np.testing.assert_allclose(summ.upper, r.upper)
    kw = mean(sums=[90.0], counts=[3], stdevs=[10.0], confidence=99.8)
    assert kw.confidence == pytest.approx(0.998)


def test_mean_single_value_has_nan_limits_and_bad_calls_raise():
    r = mean([5.0])
    assert float(r.value) == 5.0 and np.isnan(r.lower) and np.isnan(r.upper)
    with pytest.raises(ValueError):
        mean()
    with pytest.raises(ValueError):
        mean([1.0, 2.0], counts=[2])
    with pytest.raises(ValueError):
        mean([1.0], counts=[-1], stdevs=[1.0])
