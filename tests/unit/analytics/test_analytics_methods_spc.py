"""XmR charts (NHSRplotthedots ptd_spc rules), RA-CUSUM and VLAD."""

import numpy as np
import pytest

from opencommissioning.analytics.methods import ra_cusum, vlad, xmr

# ------------------------------------------------------------------------------ XmR


def test_xmr_one_to_twenty_hand_worked():
    r = xmr(np.arange(1, 21))
    # mean 10.5; every moving range is 1 so MR-bar = 1; limits 10.5 ± 2.66
    assert r.mean[0] == 10.5
    assert r.mean_moving_range[0] == 1.0
    assert r.lower[0] == pytest.approx(7.84) and r.upper[0] == pytest.approx(13.16)
    assert r.lower_2sigma[0] == pytest.approx(10.5 - 2 * 2.66 / 3)
    assert np.isnan(r.moving_range[0]) and np.all(r.moving_range[1:] == 1)
    # 1..7 below the LCL, 14..20 above the UCL, 8..13 part of a rising trend
    assert r.special_cause_type[:7].tolist() == ["Below LCL"] * 7
    assert r.special_cause_type[13:].tolist() == ["Above UCL"] * 7
    assert r.special_cause_type[7:13].tolist() == ["7 Point Trend (Increasing)"] * 6
    assert r.special_cause.all()
    assert r.point_type[0] == "special_cause_concern"
    assert r.point_type[-1] == "special_cause_improvement"
    assert r.variation == "special_cause_improvement"
    assert r.variation_icon == "improvement_high"
    assert r.assurance is None


def test_xmr_degenerate_equal_values_do_not_crash():
    r = xmr([5.0] * 15, target=4)
    assert np.all(r.lower == 5.0) and np.all(r.upper == 5.0)
    assert not r.special_cause.any()
    assert r.variation == "common_cause" and r.variation_icon == "common_cause"
    assert r.assurance == "consistent_pass"  # target below a process that never varies
    single = xmr([3.0])
    assert np.isnan(single.lower[0]) and single.variation == "common_cause"
    assert single.short_segment[0]


def test_xmr_screening_of_large_moving_ranges():
    y = np.array([10, 11, 9, 10, 12, 11, 10, 9, 10, 11, 10, 25, 10, 11, 9, 10.0])
    mr = np.abs(np.diff(y))
    amr = mr.mean()
    screened = mr[mr < 3.267 * amr].mean()
    r = xmr(y)
    assert r.mean_moving_range[0] == pytest.approx(screened)
    assert r.upper[0] == pytest.approx(y.mean() + 2.66 * screened)
    unscreened = xmr(y, screen_outliers=False)
    assert unscreened.mean_moving_range[0] == pytest.approx(amr)
    assert r.special_cause_type[11] == "Above UCL"


def test_xmr_shift_two_in_three_and_orientation():
    base = [10, 11, 9, 10, 12, 11, 10, 9, 10, 11, 10, 11]
    y = np.array(base + [12, 12.5, 12, 12.5, 12, 12.5, 12.2], dtype=float)
    r = xmr(y, improvement="decrease", fix_after_n_points=12)
    assert r.mean[0] == pytest.approx(np.mean(base))  # baseline frozen
    # 8 points above the mean (the last baseline point too); the 12.5s are beyond
    # 2 sigma (12.43) and "2 in 3" takes precedence over the run of 7.
    shift, two3 = "7 Points Above CL", "2 in 3 Above CL"
    assert r.special_cause_type[-8:].tolist() == [shift, shift] + [two3, shift] * 3
    assert all(p == "special_cause_concern" for p in r.point_type[-8:])
    assert r.variation_icon == "concern_high"

    # two of three beyond 2 sigma, all three on the same side of the mean (and the
    # two not beyond the limits): mean 10, MR-bar 15/11, "close" band above 12.42
    flat = [10, 11, 9, 10, 11, 9, 10, 11, 9, 10, 11, 9]
    y2 = np.array(flat + [10.5, 12.8, 12.8, 10.0], dtype=float)
    r2 = xmr(y2, fix_after_n_points=12)
    assert r2.close_to_limits[13] and r2.close_to_limits[14]
    assert not r2.outside_limits[13]
    assert r2.special_cause_type[12:].tolist() == [
        "Common Cause",
        "2 in 3 Above CL",
        "2 in 3 Above CL",
        "Common Cause",
    ]
    assert r2.point_type[13] == "special_cause_improvement"
    # NHSRplotthedots needs all three points on the same side: 9.5 breaks it
    r3 = xmr(np.array(flat + [9.5, 12.8, 12.8, 10.0]), fix_after_n_points=12)
    assert not r3.special_cause[12:].any()


def test_xmr_neither_direction_and_assurance():
    y = np.r_[np.full(6, 10.0) + [0, 1, -1, 0, 1, -1], np.full(8, 20.0)]
    r = xmr(y, improvement="neither", target=15)
    assert r.point_type[-1] == "special_cause_neutral_high"
    assert r.variation_icon == "neutral_high"
    assert r.assurance is None
    base = np.array([50, 52, 48, 51, 49, 50, 53, 47, 50, 51, 49, 50.0])
    assert xmr(base, target=40).assurance == "consistent_pass"
    assert xmr(base, target=60).assurance == "consistent_fail"
    assert xmr(base, target=50).assurance == "inconsistent"
    assert xmr(base, improvement="decrease", target=40).assurance == "consistent_fail"
    assert xmr(base, improvement="decrease", target=60).assurance == "consistent_pass"


def test_xmr_rebase_restarts_calculations():
    first = np.array([10, 11, 9, 10, 12, 11, 10, 9, 10, 11.0])
    second = first + 30
    r = xmr(np.r_[first, second], rebase_at=[10])
    assert r.segment.tolist() == [0] * 10 + [1] * 10
    assert r.mean[0] == pytest.approx(first.mean())
    assert r.mean[-1] == pytest.approx(second.mean())
    assert np.isnan(r.moving_range[10])  # no moving range across the rebase
    assert not r.special_cause.any()
    with pytest.raises(ValueError):
        xmr(first, rebase_at=[0])
    with pytest.raises(ValueError):
        xmr([1.0, np.nan, 2.0])
    with pytest.raises(ValueError):
        xmr(first, improvement="up")  # type: ignore[arg-type]


def test_xmr_trend_down_and_run_length_option():
    y = np.array([10, 11, 9, 10, 11, 9, 10, 10.5, 10, 9.5, 9, 8.5, 8, 7.9, 7.8])
    r = xmr(y)
    assert any("Decreasing" in t for t in r.special_cause_type)
    short = xmr(y, trend_length=6, shift_length=6)
    assert short.special_cause.sum() >= r.special_cause.sum()


# --------------------------------------------------------------------------- RA-CUSUM


def cusum_naive(y, p, odds, h, reset):
    s, path, signals = 0.0, [], []
    for yi, pi in zip(y, p, strict=True):
        w = yi * np.log(odds) - np.log(1 - pi + odds * pi)
        if odds > 1:
            s = max(0.0, s + w)
            hit = s >= h
        else:
            s = min(0.0, s - w)
            hit = s <= -h
        path.append(s)
        signals.append(hit)
        if hit and reset:
            s = 0.0
    return np.array(path), np.array(signals)


@pytest.mark.parametrize("odds", [2.0, 0.5])
@pytest.mark.parametrize("reset", [True, False])
def test_ra_cusum_matches_naive_recursion(odds, reset):
    rng = np.random.default_rng(8)
    p = rng.uniform(0.02, 0.4, size=600)
    y = rng.binomial(1, np.clip(p * (1.8 if odds > 1 else 0.4), 0, 1)).astype(float)
    r = ra_cusum(y, p, odds_ratio=odds, threshold=3.0, reset=reset)
    path, signals = cusum_naive(y, p, odds, 3.0, reset)
    np.testing.assert_allclose(r.value, path, atol=1e-9)
    np.testing.assert_array_equal(r.signal, signals)
    assert r.signal.any()
    assert r.direction == ("upper" if odds > 1 else "lower")
    if odds > 1:
        assert np.all(r.value >= 0) and np.all(r.upper == 3.0)
    else:
        assert np.all(r.value <= 0) and np.all(r.lower == -3.0)


def test_ra_cusum_weights_and_validation():
    r = ra_cusum([1, 0], [0.2, 0.2], odds_ratio=2)
    assert r.weights[0] == pytest.approx(np.log(2) - np.log(1.2))
    assert r.weights[1] == pytest.approx(-np.log(1.2))
    with pytest.raises(ValueError):
        ra_cusum([2], [0.1])
    with pytest.raises(ValueError):
        ra_cusum([1], [1.1])
    with pytest.raises(ValueError):
        ra_cusum([1], [0.1], odds_ratio=1)
    with pytest.raises(ValueError):
        ra_cusum([1], [0.1], threshold=-4.5)


def test_vlad_is_cumulative_expected_minus_observed():
    y = np.array([0, 1, 0, 0, 1, 0.0])
    p = np.array([0.1, 0.3, 0.2, 0.1, 0.5, 0.2])
    r = vlad(y, p)
    np.testing.assert_allclose(r.value, np.cumsum(p - y))
    np.testing.assert_allclose(r.sd, np.sqrt(np.cumsum(p * (1 - p))))
    np.testing.assert_allclose(r.upper - r.value, 1.959963985 * r.sd)
    assert r.observed[-1] == 2 and r.expected[-1] == pytest.approx(1.4)


def test_xmr_two_close_points_on_opposite_sides_are_common_cause():
    # The NHSRplotthedots regression case (test-ptd_spc_standard.R).
    y = np.tile([1.0, -1.0], 8)
    y[14], y[15] = 5.5, -5.5
    r = xmr(y)
    assert r.close_to_limits[14] and r.close_to_limits[15]
    assert r.point_type[-2:].tolist() == ["common_cause", "common_cause"]


# ------------------------------------- degenerate moving ranges (issue 3, bug b)


def test_xmr_rare_event_series_keeps_its_limits_instead_of_collapsing():
    # Monthly counts of a rare event. NHSRplotthedots screens out the two moving ranges
    # of 1 (both above 3.267 x MR-bar), leaving MR-bar 0: its limits sit on the mean and
    # 14 of 15 points were "special cause improvement" (below the lower limit).
    r = xmr([0] * 9 + [1] + [0] * 5, improvement="decrease")
    assert r.mean_moving_range[0] == pytest.approx(2 / 14)  # unscreened
    assert r.upper[0] == pytest.approx(1 / 15 + 2.66 * 2 / 14)
    assert r.lower[0] == pytest.approx(1 / 15 - 2.66 * 2 / 14)
    assert r.outside_limits.tolist() == [False] * 9 + [True] + [False] * 5
    assert "Below LCL" not in r.special_cause_type.tolist()
    assert r.special_cause_type[9] == "Above UCL" and r.point_type[9] == "special_cause_concern"
    # the run rule still reads 9 zeros below a positive mean as a shift (documented)
    assert (r.point_type == "special_cause_improvement").sum() == 9
    assert r.point_type[10:].tolist() == ["common_cause"] * 5


def test_xmr_near_constant_series_and_screening_that_still_applies():
    blip = xmr([5.0] * 10 + [6.0] + [5.0] * 10)
    assert blip.upper[0] > blip.mean[0] > blip.lower[0]
    assert blip.outside_limits.sum() == 1 and blip.outside_limits[10]
    # constant series: zero-width limits, nothing special, with or without screening
    for screen in (True, False):
        flat = xmr([3.0] * 12, screen_outliers=screen)
        assert np.all(flat.upper == 3.0) and not flat.special_cause.any()
    # screening still drops one large moving range when others remain
    y = np.array([10, 11, 10, 11, 10, 11, 10, 30, 10, 11, 10, 11.0])
    mr = np.abs(np.diff(y))
    screened = xmr(y)
    assert screened.mean_moving_range[0] == pytest.approx(mr[mr < 3.267 * mr.mean()].mean())
    assert screened.mean_moving_range[0] < mr.mean()
