"""Funnel limits and significance against published outputs of PHEindicatormethods
and FunnelPlotR.

Sources (repository, path):

* ukhsa-collaboration/PHEindicatormethods ``tests/testthat/``:
  ``testdata_funnel_rate_outputs.csv`` (``calculate_funnel_limits`` for a DSR per
  100,000 over 3 years of data), ``testdata_funnel_ratio_inputs.csv`` and
  ``testdata_funnel_rate_dsr_inputs.csv`` (``assign_funnel_significance`` flags for
  ratios, DSRs and crude rates, with and without a zero-event record),
  ``testdata_funnel_prop_inputs.csv`` (flags for proportions) with the average
  80.642448% printed in ``testdata_funnel_prop_outputs.csv``;
* nhs-r-community/FunnelPlotR ``tests/testthat/test-poisson_limits.R`` (exact Poisson
  limits at expected counts 15, 20 and 30, printed to 7 significant digits).

Conventions converted here: PHE's flags "High (0.001)", "High (0.025)", "Low (0.025)",
"Low (0.001)", "Not significant" are our ``FunnelFlag`` values "high 99.8", "high 95",
"low 95", "low 99.8", "within" (the 0.001 / 0.025 are one-sided tail areas of the
99.8% / 95% limits); PHE's "Not applicable for events less than 10 for dsrs" is our
"n/a". PHE's rate funnels are tabulated per *one-year* population: with
``years_of_data = 3`` our denominator is three times PHE's
``*_population_1_year``.
"""

import numpy as np
import pytest

from opencommissioning.analytics.methods import FunnelFlag, funnel_limits, funnel_significance

FLAG = {
    "H3": FunnelFlag.HIGH_998,
    "H2": FunnelFlag.HIGH_95,
    "NS": FunnelFlag.WITHIN,
    "L2": FunnelFlag.LOW_95,
    "L3": FunnelFlag.LOW_998,
    "NA": FunnelFlag.NOT_APPLICABLE,
}

# testdata_funnel_rate_outputs.csv: baseline 116.1720835 per 100,000 (DSR), and for
# selected observed events O the one-year population at which O sits on each funnel
# with the limit printed there: (O, lower 95 pop, lower 95 limit, upper 95 pop,
# upper 95 limit, lower 99.8 pop, lower 99.8 limit, upper 99.8 pop, upper 99.8 limit)
PHE_DSR_BASELINE = 116.1720835
PHE_DSR_FUNNEL = [
    (1, 1598.675694, 20.85059119, 7.264481402, 4588.535848,
     2649.348525, 12.58170943, 0.287087625, 116108.569),
    (2, 2072.984403, 32.15975314, 69.49732367, 959.2695538,
     3221.906682, 20.69168143, 13.02722321, 5117.48863),
    (5, 3348.002593, 49.78092521, 465.8280129, 357.7858395,
     4721.370883, 35.30048174, 212.14848, 785.6132963),
    (9, 4902.152951, 61.19760093, 1180.827018, 254.0592274,
     6501.096999, 46.14605812, 703.6760012, 426.3325728),
    (10, 5276.757672, 63.17010446, 1375.943768, 242.2579623,
     6924.776769, 48.13632908, 849.4639547, 392.4043292),
    (99, 34583.45945, 95.42133877, 23087.10848, 142.9369123,
     38382.78582, 85.97604186, 20393.92315, 161.8129075),
    (1360, 411529.9259, 110.158048, 369759.5622, 122.6021934,
     424043.2424, 106.9073359, 358342.3275, 126.5084525),
]  # fmt: skip


def bisection_tolerance(observed: float, expected: float) -> float:
    """PHE finds each point by bisection on v = E / (E + O + 1) down to a step of
    1e-7, so E is known to about 1e-7 (1 + O) / (1 - v)^2; as a relative error (plus
    the 1e-6 of its printed digits) that is what we allow."""
    v = expected / (expected + observed + 1)
    return 2e-6 + 1e-7 * (1 + observed) / (1 - v) ** 2 / expected


@pytest.mark.parametrize("row", PHE_DSR_FUNNEL, ids=lambda r: f"O={r[0]}")
def test_dsr_rate_funnel_matches_phe_outputs_including_small_counts(row):
    o, *points = row
    years = 3
    av = PHE_DSR_BASELINE / 1e5
    for (pop_1yr, limit), which in zip(
        zip(points[::2], points[1::2], strict=True),
        ("lower_95", "upper_95", "lower_998", "upper_998"),
        strict=True,
    ):
        denominator = pop_1yr * years
        assert o / denominator * 1e5 == pytest.approx(limit, rel=1e-6)  # PHE's own pair
        ours = float(getattr(funnel_limits("rate", [denominator], PHE_DSR_BASELINE), which)[0])
        tol = bisection_tolerance(o, denominator * av)
        assert ours == pytest.approx(limit, rel=tol), which


# testdata_funnel_ratio_inputs.csv: (observed, expected, flag), a selection covering
# every flag, zero and small (exact-method) counts.
PHE_RATIO_SIGNIFICANCE = [
    (8, 6.239860227, "NS"), (151, 106.4429719, "H3"), (159, 232.9329036, "L3"),
    (150, 119.5695496, "H2"), (0, 240.6273499, "L3"), (101, 126.2973615, "L2"),
    (16, 36.38844667, "L3"), (6, 4.293052052, "NS"), (27, 26.73002673, "NS"),
    (87, 45.27241505, "H3"), (48, 64.0, "L2"), (74, 52.09066592, "H2"),
    (40, 55.14959327, "L2"), (25, 55.01760563, "L3"), (35, 56.15273544, "L2"),
    (29, 31.19956966, "NS"), (38, 35.36199516, "NS"), (31, 57.81424841, "L3"),
    (94, 67.43668843, "H2"), (113, 73.49115505, "H3"), (182, 143.6804295, "H2"),
    (241, 288.6919023, "L2"), (893, 706.7669173, "H3"), (327, 344.573235, "NS"),
]  # fmt: skip


def test_ratio_significance_matches_phe_flags():
    obs, exp, flags = zip(*PHE_RATIO_SIGNIFICANCE, strict=True)
    r = funnel_significance("ratio", obs, exp)
    assert r.target == 1.0
    assert r.flag.tolist() == [FLAG[f].value for f in flags]
    # the same flags on the SMR x 100 scale (PHE ratio_type = "isr", multiplier 100)
    smr = funnel_significance("ratio", obs, exp, multiplier=100)
    assert smr.target == 100 and smr.flag.tolist() == r.flag.tolist()


# testdata_funnel_rate_dsr_inputs.csv: count, DSR per 100,000, population, crude rate
# per 100,000 and the flags for: DSR with the zero-event record, DSR without it,
# crude rate with it, crude rate without it (per 100 gives the same flags).
PHE_RATE_SIGNIFICANCE = [
    (2419, 907.6174266, 264102, "H3", "H3", "H3", "H3"),
    (2337, 948.5620216, 259711, "H3", "H3", "H3", "H3"),
    (2291, 799.9690496, 289247, "H3", "H3", "H3", "H3"),
    (2242, 852.5637927, 265029, "H3", "H3", "H3", "H3"),
    (2218, 868.5358183, 284649, "H3", "H3", "H3", "H3"),
    (2159, 769.6242217, 293578, "H3", "H3", "H3", "H3"),
    (2130, 752.3254955, 286718, "H2", "H2", "H3", "H3"),
    (2111, 710.2689402, 307381, "NS", "NS", "NS", "NS"),
    (2105, 815.3530325, 274145, "H3", "H3", "H3", "H3"),
    (2083, 717.7035916, 297424, "NS", "NS", "H2", "NS"),
    (2078, 755.8016993, 272628, "H3", "H3", "H3", "H3"),
    (2062, 825.9742848, 269656, "H3", "H3", "H3", "H3"),
    (2061, 702.2972468, 294692, "NS", "NS", "H2", "NS"),
    (2033, 785.6210132, 277710, "H3", "H3", "H3", "H2"),
    (2033, 743.6763018, 259213, "H2", "H2", "H3", "H3"),
    (2010, 781.8323058, 285516, "H3", "H3", "H2", "NS"),
    (2004, 772.6781064, 269449, "H3", "H3", "H3", "H3"),
    (2002, 652.3391553, 290888, "L3", "L3", "NS", "NS"),
    (1977, 648.4969973, 287112, "L3", "L3", "NS", "NS"),
    (1944, 727.5777428, 286492, "NS", "NS", "NS", "NS"),
    (1932, 625.6551186, 287012, "L3", "L3", "NS", "NS"),
    (1922, 688.5582424, 291277, "NS", "NS", "NS", "NS"),
    (1912, 662.4465438, 289859, "L2", "L2", "NS", "NS"),
    (1881, 627.1624732, 289653, "L3", "L3", "NS", "L2"),
    (1844, 657.1114147, 282519, "L2", "L2", "NS", "L2"),
    (1835, 724.8456714, 274220, "NS", "NS", "NS", "NS"),
    (1833, 659.7820553, 280271, "L2", "L2", "NS", "L2"),
    (1825, 654.7053631, 284206, "L3", "L3", "NS", "L2"),
    (1816, 624.4435507, 274508, "L3", "L3", "NS", "NS"),
    (1809, 646.7588823, 288384, "L3", "L3", "L2", "L3"),
    (1798, 703.1689982, 287072, "NS", "NS", "L2", "L3"),
    (1754, 567.9922764, 282744, "L3", "L3", "L3", "L3"),
    (1746, 617.7750715, 289208, "L3", "L3", "L3", "L3"),
    (1709, 610.8327232, 287736, "L3", "L3", "L3", "L3"),
    (1694, 608.5089462, 296175, "L3", "L3", "L3", "L3"),
    (1688, 662.3775859, 303255, "L2", "L2", "L3", "L3"),
    (1649, 667.6454503, 285959, "L2", "L2", "L3", "L3"),
    (1553, 604.1141693, 274661, "L3", "L3", "L3", "L3"),
    (1332, 469.5645784, 281425, "L3", "L3", "L3", "L3"),
]
PHE_RATE_ZERO_RECORD = (0, 297820)  # no DSR; flags "not applicable" (DSR) and "Low (0.001)"


def rate_columns():
    count, dsr_rate, pop, dsr_w0, dsr_wo0, crude_w0, crude_wo0 = (
        np.array(col) for col in zip(*PHE_RATE_SIGNIFICANCE, strict=True)
    )
    return (
        count.astype(float),
        dsr_rate.astype(float),
        pop.astype(float),
        (dsr_w0, dsr_wo0, crude_w0, crude_wo0),
    )


def test_dsr_significance_matches_phe_flags_with_and_without_a_zero_record():
    count, dsr_rate, _, (dsr_w0, dsr_wo0, _, _) = rate_columns()
    # A DSR funnel uses the denominator the DSR implies, 100,000 x count / DSR (as
    # PHE's assign_funnel_significance); a zero-event record has none (NaN -> "n/a")
    # and leaves the average unchanged.
    derived = 1e5 * count / dsr_rate
    without = funnel_significance("rate", count, derived, multiplier=1e5)
    assert without.flag.tolist() == [FLAG[f].value for f in dsr_wo0]
    with_zero = funnel_significance(
        "rate", np.r_[count, 0.0], np.r_[derived, np.nan], multiplier=1e5
    )
    assert with_zero.flag.tolist() == [FLAG[f].value for f in dsr_w0] + ["n/a"]
    assert with_zero.target == pytest.approx(without.target)
    # per 100 instead of per 100,000: the same flags
    per100 = funnel_significance("rate", count, 100 * count / dsr_rate, multiplier=100)
    assert per100.flag.tolist() == without.flag.tolist()


def test_crude_rate_significance_matches_phe_flags_with_and_without_a_zero_record():
    count, _, pop, (_, _, crude_w0, crude_wo0) = rate_columns()
    without = funnel_significance("rate", count, pop)
    assert without.flag.tolist() == [FLAG[f].value for f in crude_wo0]
    # the zero-event record counts towards the average (its population is known),
    # which moves several flags, and is itself far below the funnel
    zero_count, zero_pop = PHE_RATE_ZERO_RECORD
    with_zero = funnel_significance("rate", np.r_[count, zero_count], np.r_[pop, zero_pop])
    assert with_zero.flag.tolist() == [FLAG[f].value for f in crude_w0] + ["low 99.8"]
    assert with_zero.target < without.target


# testdata_funnel_prop_inputs.csv: (numerator, denominator, flag), a selection with
# every flag and those nearest the 95% limits; the average over all 303 PCTs is the
# 80.642448% printed in testdata_funnel_prop_outputs.csv (baseline).
PHE_PROP_AVERAGE = 0.80642448
PHE_PROP_SIGNIFICANCE = [
    (35078.4880, 41980, "H3"), (24803.6256, 31824, "L3"), (50050.7443, 61921, "NS"),
    (24648.7596, 30521, "NS"), (31759.3850, 39350, "NS"), (26789.2380, 33012, "H2"),
    (18550.7595, 22905, "NS"), (36850.0492, 45449, "H2"), (34502.0685, 42485, "H2"),
    (23910.2469, 29457, "H2"), (30277.5312, 37828, "L2"), (21139.2936, 25992, "H2"),
    (14493.3552, 17964, "NS"), (29561.6517, 36627, "NS"), (17321.4088, 21587, "NS"),
    (18986.0000, 22000, "H3"), (15808.1975, 20597, "L3"), (20781.4840, 25672, "NS"),
    (29709.0543, 36583, "H2"), (18504.9982, 22739, "H2"), (16924.1296, 20776, "H2"),
    (38045.3716, 46958, "H2"), (13240.9172, 16477, "NS"), (18746.7077, 23233, "NS"),
]  # fmt: skip


def test_proportion_significance_matches_phe_flags():
    x, n, flags = zip(*PHE_PROP_SIGNIFICANCE, strict=True)
    r = funnel_significance("proportion", x, n, PHE_PROP_AVERAGE)
    assert r.flag.tolist() == [FLAG[f].value for f in flags]
    pct = funnel_significance("proportion", x, n, 100 * PHE_PROP_AVERAGE, multiplier=100)
    assert pct.flag.tolist() == r.flag.tolist()


# FunnelPlotR test-poisson_limits.R: calculate_limits(number.seq = c(15, 20, 30),
# target = 1, OD_adjust = FALSE), rounded there to 7 (lower) and 6 (upper) decimals.
FUNNELPLOTR_POISSON = {
    "lower_95": [0.5596924, 0.6108260, 0.6746958],
    "upper_95": [1.649348, 1.544419, 1.427562],
    "lower_998": [0.3862650, 0.4479107, 0.5289724],
    "upper_998": [2.082907, 1.902094, 1.702771],
}


def test_expected_count_poisson_limits_match_funnelplotr():
    r = funnel_limits("ratio", [15.0, 20.0, 30.0], 1.0, poisson_limits="expected_count")
    for name, expected in FUNNELPLOTR_POISSON.items():
        decimals = 7 if name.startswith("lower") else 6
        np.testing.assert_array_equal(np.round(getattr(r, name), decimals), expected)


def test_the_two_poisson_conventions_differ_and_only_ours_agrees_with_the_flags():
    e = np.array([15.0, 20.0, 30.0])
    phe = funnel_limits("ratio", e, 1.0)
    fpr = funnel_limits("ratio", e, 1.0, poisson_limits="expected_count")
    assert np.all(phe.lower_95 < fpr.lower_95) and np.all(phe.upper_95 < fpr.upper_95)
    # an observed count between the two lower limits: outside FunnelPlotR's funnel,
    # inside PHE's - and funnel_significance (PHE's exact test) calls it "within"
    o = np.floor(fpr.lower_95 * e)
    assert np.all(o / e < fpr.lower_95) and np.all(o / e >= phe.lower_95)
    assert funnel_significance("ratio", o, e).flag.tolist() == ["within"] * 3
    with pytest.raises(ValueError, match="poisson_limits"):
        funnel_limits("ratio", e, 1.0, poisson_limits="exact")  # type: ignore[arg-type]
