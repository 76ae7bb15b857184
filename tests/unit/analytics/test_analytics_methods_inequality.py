"""SII / RII and quantile assignment (PHEindicatormethods phe_sii, phe_quantile)."""

import numpy as np
import pytest
from scipy import stats

from opencommissioning.analytics.methods import quantiles, sii

# The phe_sii documentation example (two areas, deciles 1 = most deprived).
POP = np.array(
    [
        [7291, 7997, 6105, 7666, 5790, 6934, 5918, 5974, 7147, 7534],
        [21675, 20065, 19750, 24713, 20112, 19618, 22408, 19752, 18939, 19312],
    ],
    dtype=float,
)
VALUE = np.array(
    [
        [75.9, 78.3, 83.8, 83.6, 80.5, 81.1, 81.7, 84.2, 80.6, 86.3],
        [70.5, 71.6, 72.5, 73.5, 73.1, 76.2, 78.7, 80.6, 80.9, 80],
    ]
)
SE = np.array(
    [
        [1.64, 1.58, 1.51, 1.78, 1.7, 1.56, 1.37, 1.4, 2.43, 1.57],
        [0.23, 0.26, 0.3, 0.16, 0.79, 0.78, 0.4, 0.28, 0.23, 0.35],
    ]
)


def wls(values, pops):
    a = pops / pops.sum()
    b = np.cumsum(a) - a / 2
    design = np.column_stack([np.sqrt(a), b * np.sqrt(a)])
    coef, *_ = np.linalg.lstsq(design, values * np.sqrt(a), rcond=None)
    return coef, a, b


def test_sii_point_estimates_are_weighted_least_squares():
    r = sii(VALUE, POP, se=SE, repetitions=1000)
    assert r.sii.shape == (2,)
    for g in range(2):
        (alpha, beta), _, _ = wls(VALUE[g], POP[g])
        assert r.sii[g] == pytest.approx(beta, rel=1e-10)
        assert r.rii[g] == pytest.approx((alpha + beta) / alpha, rel=1e-10)
    np.testing.assert_array_equal(r.value, r.sii)
    np.testing.assert_array_equal(r.lower, r.sii_lower)


def test_sii_simulated_limits_match_normal_theory():
    # For value_type "normal" the SII is linear in the values, so its sampling
    # distribution is exactly normal: Monte Carlo limits must agree closely.
    r = sii(VALUE, POP, se=SE, repetitions=100_000, seed=3)
    for g in range(2):
        _, a, b = wls(VALUE[g], POP[g])
        sqrt_a = np.sqrt(a)
        design = np.vstack([sqrt_a, b * sqrt_a])
        solver = np.linalg.solve(design @ design.T, design)
        c = solver[1] * sqrt_a  # SII = c . y
        sd = np.sqrt(np.sum(c**2 * SE[g] ** 2))
        lo, hi = stats.norm.interval(0.95, loc=r.sii[g], scale=sd)
        width = hi - lo
        assert r.sii_lower[g] == pytest.approx(lo, abs=0.02 * width)
        assert r.sii_upper[g] == pytest.approx(hi, abs=0.02 * width)
        assert r.rii_lower[g] < r.rii[g] < r.rii_upper[g]


def test_sii_is_reproducible_from_seed_and_limits_from_cls():
    a = sii(VALUE[0], POP[0], se=SE[0], repetitions=5000, seed=11)
    b = sii(VALUE[0], POP[0], se=SE[0], repetitions=5000, seed=11)
    c = sii(VALUE[0], POP[0], se=SE[0], repetitions=5000, seed=12)
    assert a.sii.shape == ()
    assert float(a.sii_lower) == float(b.sii_lower)
    assert float(a.sii_lower) != float(c.sii_lower)
    z = stats.norm.ppf(0.975)
    from_cls = sii(
        VALUE[0], POP[0], lower=VALUE[0] - z * SE[0], upper=VALUE[0] + z * SE[0],
        repetitions=5000, seed=11,
    )  # fmt: skip
    assert float(from_cls.sii_lower) == pytest.approx(float(a.sii_lower))


def test_sii_rate_and_proportion_transformations_and_multiplier():
    props = np.linspace(0.30, 0.12, 10)
    pops = np.full(10, 1000.0)
    lo = props - 0.02
    hi = props + 0.02
    r = sii(props, pops, lower=lo, upper=hi, value_type="proportion", multiplier=100,
            repetitions=2000)  # fmt: skip
    (alpha, beta), _, _ = wls(props, pops)
    assert float(r.sii) == pytest.approx(beta * 100)
    assert float(r.sii) < 0 and float(r.sii_lower) < float(r.sii) < float(r.sii_upper)
    neg = sii(props, pops, lower=lo, upper=hi, value_type="proportion", multiplier=-1,
              repetitions=2000)  # fmt: skip
    assert float(neg.sii) == pytest.approx(-beta)
    assert float(neg.rii) == pytest.approx(alpha / (alpha + beta))
    rates = sii(props * 1e5, pops, lower=lo * 1e5, upper=hi * 1e5, value_type="rate",
                repetitions=2000)  # fmt: skip
    assert float(rates.sii) == pytest.approx(beta * 1e5)


def test_rii_mean_method():
    r = sii(VALUE[0], POP[0], se=SE[0], repetitions=2000, rii_method="mean")
    (alpha, beta), a, _ = wls(VALUE[0], POP[0])
    assert float(r.rii) == pytest.approx(beta / np.sum(a * VALUE[0]))
    assert float(r.rii_lower) < float(r.rii) < float(r.rii_upper)


def test_sii_validation():
    with pytest.raises(ValueError, match="between 5 and 100"):
        sii(VALUE[0, :4], POP[0, :4], se=SE[0, :4])
    with pytest.raises(ValueError, match="populations"):
        sii(VALUE[0], np.zeros(10), se=SE[0])
    with pytest.raises(ValueError, match="repetitions"):
        sii(VALUE[0], POP[0], se=SE[0], repetitions=10)
    with pytest.raises(ValueError, match="se"):
        sii(VALUE[0], POP[0])
    with pytest.raises(ValueError):
        sii(VALUE[0], POP[0], se=SE[0], value_type="proportion")
    missing = VALUE.copy()
    missing[1, 3] = np.nan
    r = sii(missing, POP, se=SE, repetitions=1000)
    assert np.isfinite(r.sii[0]) and np.isnan(r.sii[1])


# ---------------------------------------------------------------------------- quantiles


def phe_quantile_naive(values, nq, invert):
    v = [x for x in values if not np.isnan(x)]
    big_n = len(v)
    adj = [(max(v) - x) if invert else x for x in values]
    out = []
    for x, a in zip(values, adj, strict=True):
        if np.isnan(x) or big_n < nq:
            out.append(np.nan)
            continue
        rank = 1 + sum(1 for b in adj if not np.isnan(b) and b < a)  # ties.method = "min"
        q = np.floor((nq + 1) - np.ceil(((big_n + 1) - rank) / (big_n / nq)))
        out.append(1.0 if q == 0 else q)
    return np.array(out)


def test_quantiles_hand_example_and_polarity():
    values = np.array([5, 4, 3, 3, 2, 1, np.nan, 7, 8, 9, 10])
    high = quantiles(values, 5)
    np.testing.assert_array_equal(high.value, [3, 3, 4, 4, 5, 5, np.nan, 2, 2, 1, 1])
    low = quantiles(values, 5, polarity="low_is_most_deprived")
    np.testing.assert_array_equal(low.value, [3, 3, 2, 2, 1, 1, np.nan, 4, 4, 5, 5])


def test_quantiles_match_naive_with_ties_and_groups():
    rng = np.random.default_rng(5)
    values = rng.integers(0, 40, size=300).astype(float)
    values[rng.integers(0, 300, 10)] = np.nan
    groups = rng.choice(["north", "south", "east"], size=300)
    for polarity, invert in (("high_is_most_deprived", True), ("low_is_most_deprived", False)):
        r = quantiles(values, 10, polarity=polarity, groups=groups)  # type: ignore[arg-type]
        for g in ("north", "south", "east"):
            sel = groups == g
            np.testing.assert_array_equal(r.value[sel], phe_quantile_naive(values[sel], 10, invert))
    # ties always share a quantile
    r = quantiles(values, 10, groups=groups)
    for g in ("north", "south", "east"):
        sel = (groups == g) & ~np.isnan(values)
        for v in np.unique(values[sel]):
            assert len(set(r.value[sel & (values == v)])) == 1


def test_quantiles_deciles_of_1_to_100():
    r = quantiles(np.arange(1.0, 101.0), 10, polarity="low_is_most_deprived")
    np.testing.assert_array_equal(r.value, np.repeat(np.arange(1.0, 11.0), 10))


def test_quantiles_small_groups_and_validation():
    r = quantiles([1.0, 2, 3, 4, 5, 6, 7], 5, groups=["a"] * 3 + ["b"] * 4)
    assert r.too_small.all() and np.isnan(r.value).all()
    with pytest.raises(ValueError):
        quantiles([1.0, 2.0], 0)
    with pytest.raises(ValueError):
        quantiles([1.0, 2.0], 2, polarity="up")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        quantiles([1.0, 2.0], 2, groups=["a"])


# ------------------------------------------------- a zero quintile (issue 3, bug a)

ZERO_Q = dict(lower=[0, 6, 4, 3, 1], upper=[1, 10, 8, 6, 4], value_type="rate")


def test_sii_zero_rate_quintile_gives_finite_limits_without_transform():
    # Before the fix: log(0) entered the simulation and the upper limit was NaN, silently.
    r = sii([0, 8, 6, 4, 2], [100] * 5, **ZERO_Q, seed=5)
    (alpha, beta), a, b = wls(np.array([0, 8, 6, 4, 2.0]), np.full(5, 100.0))
    assert float(r.sii) == pytest.approx(beta, abs=1e-12)
    for name in ("sii_lower", "sii_upper", "rii_lower", "rii_upper"):
        assert np.isfinite(float(getattr(r, name))), name
    assert float(r.sii_lower) < float(r.sii) < float(r.sii_upper)
    # the zero quintile is simulated on its natural scale, with the standard error its
    # 95% limits imply: (1 - 0) / 3.92; the others on the log scale as phe_sii
    se = np.r_[1 / 3.919927969080108,
               (np.log([10, 8, 6, 4]) - np.log([6, 4, 3, 1])) / 3.919927969080108]  # fmt: skip
    sd_if_normal = np.sqrt(np.sum((wls_slope_weights(np.full(5, 100.0)) * se * [1, 8, 6, 4, 2]) ** 2))
    assert float(r.sii_upper - r.sii_lower) == pytest.approx(2 * 1.96 * sd_if_normal, rel=0.25)


def wls_slope_weights(pops):
    a = pops / pops.sum()
    b = np.cumsum(a) - a / 2
    db = b - np.sum(a * b)
    return a * db / np.sum(a * db * db)


def test_sii_zero_quintile_with_transform_names_the_quintile_instead_of_dividing_by_zero():
    # Before the fix: ZeroDivisionError. phe_sii's own regression stops on log(0) = -Inf.
    with pytest.raises(ValueError, match=r"log of each value.*value \(or 95% limit\) of 0.0 at index 0"):
        sii([0, 8, 6, 4, 2], [100] * 5, **ZERO_Q, transform=True)
    grouped = np.array([[0, 8, 6, 4, 2], [9, 8, 6, 4, 2.0]])
    with pytest.raises(ValueError, match=r"at index \(0, 0\)"):
        sii(grouped, np.full((2, 5), 100.0), lower=grouped * 0.5, upper=grouped * 1.5 + 1,
            value_type="rate", transform=True)  # fmt: skip


def test_sii_proportions_of_zero_and_one_and_limits_off():
    values = [0.0, 0.2, 0.5, 0.7, 1.0]
    r = sii(values, [100] * 5, lower=[0, 0.1, 0.4, 0.6, 0.96], upper=[0.04, 0.3, 0.6, 0.8, 1],
            value_type="proportion", seed=2)  # fmt: skip
    assert np.isfinite([r.sii_lower, r.sii_upper, r.rii_lower, r.rii_upper]).all()
    assert float(r.sii_lower) < float(r.sii) < float(r.sii_upper)
    quick = sii(values, [100] * 5, lower=[0, 0.1, 0.4, 0.6, 0.96], upper=[0.04, 0.3, 0.6, 0.8, 1],
                value_type="proportion", limits=False)  # fmt: skip
    assert float(quick.sii) == float(r.sii) and np.isnan(quick.sii_lower)
    with pytest.raises(ValueError, match="needs its 95% limits"):
        sii(values, [100] * 5, se=[0.1] * 5, value_type="proportion")
    with pytest.raises(ValueError, match="rates must be >= 0"):
        sii([-1, 8, 6, 4, 2], [100] * 5, **ZERO_Q)


def test_sii_groups_are_vectorised_and_match_one_group_at_a_time():
    rng = np.random.default_rng(4)
    v = rng.uniform(50, 150, (6, 5))
    p = rng.uniform(1e4, 5e4, (6, 5))
    together = sii(v, p, lower=v * 0.9, upper=v * 1.1, value_type="rate", repetitions=2000, seed=9)
    # the generator stream is consumed group by group, so one call equals a loop
    rng_stream = np.random.default_rng(9)
    for g in range(6):
        alone = sii(v[g], p[g], lower=v[g] * 0.9, upper=v[g] * 1.1, value_type="rate",
                    repetitions=2000, seed=rng_stream)  # fmt: skip
        assert float(alone.sii) == pytest.approx(together.sii[g], rel=1e-12)
        assert float(alone.sii_lower) == pytest.approx(together.sii_lower[g], rel=1e-12)
        assert float(alone.rii_upper) == pytest.approx(together.rii_upper[g], rel=1e-12)
