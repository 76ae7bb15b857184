"""XmR charts against NHSRplotthedots' published test results, and the risk-adjusted
CUSUM against the R package ``vlad``.

Sources (repository, path):

* nhs-r-community/NHSRplotthedots ``tests/testthat/test-ptd_spc_standard.R`` with its
  snapshot ``tests/testthat/_snaps/ptd_spc_standard.md`` (``set.seed(123); rnorm(20)``,
  then the 15th value set to 10, with and without outlier screening: mean and process
  limits printed by ``pillar::glimpse`` to 7 significant digits) and
  ``tests/testthat/_snaps/ptd_spc.md`` (the same series faceted into its first and
  last 10 points: 3 significant digits, and 20 common-cause points);
  ``tests/testthat/test-ptd_calculate_point_type.R`` (the trend, run and 2-of-3
  rules) and ``tests/testthat/test-ptd_calculate_assurance_type.R``;
* the CRAN package ``vlad`` (Wittenberg & Knoth), example of ``racusum_scores``
  (``man-roxygen/racusum_scores.R``): with ``coeff = c(-3.67, 0.077)`` a surviving
  patient of Parsonnet score 19 gives an upper CUSUM (RA = 2) of 0 and a lower CUSUM
  (RA = 1/2) of 0.05083.

NHSRplotthedots' ``improvement_direction = "neutral"`` is our ``improvement="neither"``.
"""

import numpy as np
import pytest
from scipy import special

from opencommissioning.analytics.methods import ra_cusum, xmr

# R: set.seed(123); rnorm(20) - the values printed in the snapshot (8 decimals).
RNORM_123 = np.array(
    [
        -0.56047565, -0.23017749, 1.55870831, 0.07050839, 0.12928774, 1.71506499,
        0.46091621, -1.26506123, -0.68685285, -0.44566197, 1.22408180, 0.35981383,
        0.40077145, 0.11068272, -0.55584113, 1.78691314, 0.49785048, -1.96661716,
        0.70135590, -0.47279141,
    ]
)  # fmt: skip


def close_to(printed: float, digits: int = 7) -> float:
    return 0.5 * 10 ** (np.floor(np.log10(abs(printed))) - digits + 1) + 1e-12


def test_xmr_matches_nhsrplotthedots_snapshot_for_rnorm_20():
    r = xmr(RNORM_123)
    assert abs(r.mean[0] - 0.1416238) <= close_to(0.1416238)
    assert abs(r.lower[0] - -3.01138) <= close_to(-3.01138, 6)  # printed "-3.01138"
    assert abs(r.upper[0] - 3.294627) <= close_to(3.294627)
    assert not r.outside_limits.any()
    # the snapshot prints close_to_limits FALSE for the first points; the 18th
    # (-1.97) is close to the lower limit, but alone, so still common cause
    assert r.close_to_limits.tolist() == [False] * 17 + [True, False, False]
    # relative_to_mean as printed for the first 15 points
    expected_rtm = [-1, -1, 1, -1, -1, 1, 1, -1, -1, -1, 1, 1, 1, -1, -1]
    assert r.relative_to_mean[:15].tolist() == expected_rtm
    # ptd_spc summary: 20 common-cause points, no special cause
    assert (r.point_type == "common_cause").sum() == 20


def test_xmr_outlier_screening_matches_nhsrplotthedots_snapshot():
    y = RNORM_123.copy()
    y[14] = 10.0  # data$y[15] <- 10
    screened = xmr(y)
    assert abs(screened.mean[0] - 0.6694159) <= close_to(0.6694159)
    assert abs(screened.lower[0] - -2.383666) <= close_to(-2.383666)
    assert abs(screened.upper[0] - 3.722497) <= close_to(3.722497)
    unscreened = xmr(y, screen_outliers=False)
    assert abs(unscreened.lower[0] - -4.596625) <= close_to(-4.596625)
    assert abs(unscreened.upper[0] - 5.935457) <= close_to(5.935457)
    assert screened.relative_to_mean[:15].tolist() == [
        -1, -1, 1, -1, -1, 1, -1, -1, -1, -1, 1, -1, -1, -1, 1,
    ]  # fmt: skip


def test_xmr_each_facet_and_rebase_match_nhsrplotthedots_summary():
    # ptd_spc(facet_field = "facet"): facets 0 and 1 are the first and last 10 points;
    # printed mean_col, lpl, upl: 0.0746 -2.60 2.75 and 0.209 -3.28 3.70.
    for half, (mu, lo, hi) in zip(
        (RNORM_123[:10], RNORM_123[10:]),
        ((0.0746, -2.60, 2.75), (0.209, -3.28, 3.70)),
        strict=True,
    ):
        r = xmr(half)
        assert abs(r.mean[0] - mu) <= close_to(mu, 3)
        assert abs(r.lower[0] - lo) <= close_to(lo, 3)
        assert abs(r.upper[0] - hi) <= close_to(hi, 3)
        assert r.short_segment.all()  # fewer than 12 points: NHSRplotthedots warns
    # a rebase at point 11 recalculates exactly as two separate charts
    rebased = xmr(RNORM_123, rebase_at=[10])
    np.testing.assert_allclose(rebased.upper[:10], xmr(RNORM_123[:10]).upper)
    np.testing.assert_allclose(rebased.lower[10:], xmr(RNORM_123[10:]).lower)


def test_xmr_rules_match_nhsrplotthedots_unit_cases():
    flat = [10.0, 11, 9, 10, 11, 9, 10, 11, 9, 10, 11, 9]
    # ptd_seven_point_trend(c(2, 1:7, 3)): seven strictly rising points flag the
    # trend at the 7th; ptd_part_of_seven_trend marks all seven, not the points around.
    rising = [9.0, 9.2, 9.4, 9.6, 9.8, 10.0, 10.2]
    trend = xmr(np.array(flat + rising + [9.1]), fix_after_n_points=12)
    assert not trend.outside_limits.any() and not trend.close_to_limits.any()
    assert trend.special_cause_type[12:].tolist() == (
        ["7 Point Trend (Increasing)"] * 7 + ["Common Cause"]
    )
    assert trend.special_cause_type[11] == "Common Cause"  # 9 then 9.0: not rising
    # ptd_seven_point_one_side_mean(c(rep(1, 8), -1)): a run of 8 on one side flags
    # every point of it; the point on the other side breaks it.
    base = [50.0, 52, 48, 51, 49, 50, 53, 47, 50, 51, 49, 50]
    run = xmr(np.array(base + [51, 51.5, 51, 51.5, 51, 51.5, 51, 51.5, 45]), fix_after_n_points=12)
    types = run.special_cause_type[12:].tolist()
    assert types[:8] == ["7 Points Above CL"] * 8 and types[8] != "7 Points Above CL"
    # ptd_two_in_three(c(1, 0, 0, 1, 1)) -> only the last two points (a window of three
    # consecutive points with two close to the limits), all on the same side
    mu, amr = np.mean(flat), np.mean(np.abs(np.diff(flat)))
    near = mu + 2.2 * amr  # beyond 2 sigma (1.773 MR-bar), inside the limit (2.66)
    mid = mu + 0.5 * amr
    two3 = xmr(np.array(flat + [near, mid, mid, near, near]), fix_after_n_points=12)
    assert two3.close_to_limits[12:].tolist() == [True, False, False, True, True]
    assert two3.special_cause_type[12:].tolist() == [
        "Common Cause", "Common Cause", "Common Cause", "2 in 3 Above CL", "2 in 3 Above CL",
    ]  # fmt: skip


def alternating(mean: float, lpl: float, n: int = 12) -> np.ndarray:
    """A series whose XmR mean and lower limit are ``mean`` and ``lpl``."""
    d = (mean - lpl) / 2.66 / 2  # |y_t - y_t-1| = 2d -> MR-bar 2d -> limit 2.66 * 2d
    return mean + d * np.tile([1.0, -1.0], n // 2)


def test_xmr_assurance_matches_nhsrplotthedots_cases():
    # test-ptd_calculate_assurance_type.R: target 4 against (lpl, mean, upl) =
    # (1, 2, 3) -> fail / pass / NA, and (5, 6, 7) -> pass / fail / NA for
    # increase / decrease / neutral; a target inside the limits is "inconsistent".
    a = alternating(2.0, 1.0)
    b = alternating(6.0, 5.0)
    c = alternating(4.0, 1.0)
    assert xmr(a).upper[-1] == pytest.approx(3.0)
    assert xmr(a, target=4).assurance == "consistent_fail"
    assert xmr(b, target=4).assurance == "consistent_pass"
    assert xmr(c, target=4).assurance == "inconsistent"
    assert xmr(a, improvement="decrease", target=4).assurance == "consistent_pass"
    assert xmr(b, improvement="decrease", target=4).assurance == "consistent_fail"
    assert xmr(a, improvement="neither", target=4).assurance is None
    # after a rebase only the last segment counts (the "rebase" case there)
    assert xmr(np.r_[b, a], rebase_at=[12], improvement="decrease", target=4).assurance == (
        "consistent_pass"
    )


def test_xmr_all_equal_values_differ_from_nhsrplotthedots_screening_by_design():
    # NHSRplotthedots screens moving ranges with `mr < 3.267 * amr`; when every moving
    # range is 0 that drops them all and its limits are NaN. Without screening it gives
    # zero-width limits at the mean, which is what we give in both cases.
    y = np.full(15, 7.0)
    for screen in (True, False):
        r = xmr(y, screen_outliers=screen)
        assert np.all(r.lower == 7.0) and np.all(r.upper == 7.0)
        assert not r.special_cause.any()


# --------------------------------------------------------------------------- CUSUM


def test_ra_cusum_matches_vlad_racusum_scores_example():
    p = float(special.expit(-3.67 + 0.077 * 19))  # Parsonnet 19
    up = ra_cusum([0], [p], odds_ratio=2)
    assert float(up.value[0]) == 0.0  # s1 = 0
    down = ra_cusum([0], [p], odds_ratio=0.5)
    # vlad's lower CUSUM accumulates the RA = 1/2 scores upwards (s1l = 0.05083, the
    # score rounded to 5 decimals); ours is Steiner et al.'s lower chart plotted below
    # zero, so it is the same number with the opposite sign.
    assert round(float(down.weights[0]), 5) == 0.05083
    assert round(-float(down.value[0]), 5) == 0.05083


def test_ra_cusum_weights_follow_steiner_with_r0_one():
    # Steiner et al. (2000) eq. 2.2 with R0 = 1: W = y log(RA) - log(1 - p + RA p)
    p = special.expit(-3.68 + 0.077 * np.array([0.0, 0.0, 50.0, 50.0]))
    y = np.array([0.0, 1.0, 0.0, 1.0])
    w = ra_cusum(y, p, odds_ratio=2).weights
    np.testing.assert_allclose(w, y * np.log(2) - np.log(1 + p))
    assert w[1] > w[3] > 0 > w[0] > w[2]  # a low-risk death weighs most
