"""Proportions, rates, means, DSRs and SII against PHEindicatormethods' published outputs.

The expected values are the outputs printed in PHEindicatormethods' own vignettes (knitr
output of the package at CRAN release 2.x), as stored in the CRAN mirror
r-hub2/some-psychogenic-africanporcupine-PHEindicatormethods:

* ``inst/doc/Introduction_to_PHEindicatormethods.html`` - ``phe_proportion``,
  ``phe_rate`` and ``phe_mean`` on the 8-row ``df`` printed there (R's data.frame
  print: 7 significant digits; tibbles print 3);
* ``inst/doc/DSR-vignette.html`` - ``calculate_dsr`` on a tiny population with
  missing (NA) death counts;
* ``inst/doc/WorkedExamples_phe_sii.html`` - ``phe_sii`` on the package data sets
  ``LE_data`` and ``DSR_data``, whose inputs are the CSV files
  ``tests/testthat/LE_testdata.csv`` and ``tests/testthat/DSR_testdata.csv`` of
  ukhsa-collaboration/PHEindicatormethods.

Each comparison is made at the printed precision (half a unit in the last printed
digit). PHE's ``confidence = 99.8`` is our ``confidence=99.8`` (a percentage is
accepted as in PHE); PHE's default multiplier for rates (100,000) is ours too.
"""

import numpy as np
import pytest

from opencommissioning.analytics.methods import dsr, mean, proportion, rate, sii


def printed(value: float, digits: int = 7) -> float:
    """Half a unit in the last of ``digits`` significant digits of ``value``."""
    return 0.5 * 10 ** (np.floor(np.log10(abs(value))) - digits + 1)


def assert_printed(actual, expected, digits: int = 7) -> None:
    for a, e in zip(np.ravel(actual), np.ravel(expected), strict=True):
        assert abs(a - e) <= printed(e, digits) * (1 + 1e-9), (a, e)


# The vignette's data frame (area, year, obs, pop), as printed there.
OBS = np.array([27, 22, 80, 53, 37, 84, 89, 85], dtype=float)
POP = np.array([106, 113, 150, 193, 159, 122, 101, 196], dtype=float)

# phe_proportion(df, obs, pop): value, lowercl, uppercl (proportion of 1, 95%)
PROPORTION_95 = [
    (0.2547170, 0.1813642, 0.3452262),
    (0.1946903, 0.1322333, 0.2772229),
    (0.5333333, 0.4536625, 0.6113395),
    (0.2746114, 0.2165053, 0.3415146),
    (0.2327044, 0.1738037, 0.3042162),
    (0.6885246, 0.6016542, 0.7638851),
    (0.8811881, 0.8037295, 0.9307128),
    (0.4336735, 0.3662266, 0.5036703),
]
# phe_proportion(df, obs, pop, confidence = 99.8, multiplier = 100): lowercl, uppercl
PROPORTION_998_PERCENT = [
    (14.81031, 40.18735),
    (10.54176, 33.15448),
    (40.92696, 65.34069),
    (18.77465, 38.27289),
    (14.61350, 34.95622),
    (54.93185, 80.03596),
    (74.76217, 94.88987),
    (32.98917, 54.36182),
]
# phe_rate(df, obs, pop): value, lowercl, uppercl per 100,000 (all counts >= 10: Byar's)
RATE_95 = [
    (25471.70, 16782.04, 37061.41),
    (19469.03, 12196.90, 29477.68),
    (53333.33, 42288.58, 66378.77),
    (27461.14, 20568.85, 35920.56),
    (23270.44, 16382.37, 32076.16),
    (68852.46, 54917.70, 85245.02),
    (88118.81, 70764.64, 108438.96),
    (43367.35, 34639.24, 53625.01),
]
# phe_rate(df, obs, pop, confidence = 99.8, multiplier = 100): lowercl, uppercl
RATE_998_PER_100 = [
    (12.926737, 44.59202),
    (9.074329, 36.05431),
    (36.773690, 74.46881),
    (17.249087, 41.24758),
    (13.193195, 37.70884),
    (47.933814, 95.39407),
    (62.029689, 120.99575),
    (30.260955, 59.97329),
]


def test_proportion_matches_phe_vignette_95_and_998():
    r = proportion(OBS, POP)
    assert_printed(r.value, [row[0] for row in PROPORTION_95])
    assert_printed(r.lower, [row[1] for row in PROPORTION_95])
    assert_printed(r.upper, [row[2] for row in PROPORTION_95])
    pct = proportion(OBS, POP, confidence=99.8, multiplier=100)
    assert_printed(pct.lower, [row[0] for row in PROPORTION_998_PERCENT])
    assert_printed(pct.upper, [row[1] for row in PROPORTION_998_PERCENT])


def test_proportion_grouped_totals_match_phe_vignette_tibble():
    # df %>% group_by(year) %>% phe_proportion(obs, pop): 182/562 and 295/578,
    # printed by tibble to 3 significant digits.
    r = proportion([182, 295], [562, 578])
    assert_printed(r.value, [0.324, 0.510], digits=3)
    assert_printed(r.lower, [0.286, 0.470], digits=3)
    assert_printed(r.upper, [0.364, 0.551], digits=3)


def test_rate_matches_phe_vignette_95_and_998():
    r = rate(OBS, POP)
    assert not r.exact.any()
    assert_printed(r.value, [row[0] for row in RATE_95])
    assert_printed(r.lower, [row[1] for row in RATE_95])
    assert_printed(r.upper, [row[2] for row in RATE_95])
    per100 = rate(OBS, POP, confidence=99.8, multiplier=100)
    assert_printed(per100.lower, [row[0] for row in RATE_998_PER_100])
    assert_printed(per100.upper, [row[1] for row in RATE_998_PER_100])
    grouped = rate([182, 295], [562, 578])  # tibble: 32384. 27850. 37446. / 51038. ...
    assert_printed(grouped.lower, [27850.0, 45379.0], digits=5)
    assert_printed(grouped.upper, [37446.0, 57207.0], digits=5)


def test_mean_matches_phe_vignette():
    # phe_mean(df, obs): value_sum 477, value_count 8, stdev 28.16248, value 59.625,
    # lowercl 36.08058, uppercl 83.16942 (95%)
    r = mean(OBS)
    assert float(r.sum) == 477 and float(r.count) == 8
    assert_printed(r.stdev, 28.16248)
    assert float(r.value) == 59.625
    assert_printed(r.lower, 36.08058)
    assert_printed(r.upper, 83.16942)
    # grouped by year at 99.8% (tibble, 3 significant digits):
    # 2015: stdev 26.7, value 45.5, -90.9 .. 182.; 2016: 24.6, 73.8, -51.9 .. 199.
    g = mean(OBS.reshape(2, 4), confidence=0.998)
    assert_printed(g.stdev, [26.7, 24.6], digits=3)
    assert_printed(g.value, [45.5, 73.8], digits=3)
    assert_printed(g.lower, [-90.9, -51.9], digits=3)
    assert_printed(g.upper, [182.0, 199.0], digits=3)


def test_dsr_tiny_population_with_missing_counts_matches_phe_vignette():
    # DSR vignette, "zero deaths in some age bands": 19 ESP2013 bands, 860 people,
    # deaths missing (NA, treated as 0) in 10-14, 15-19 and 20-24.
    # calculate_dsr: total_count 88, total_pop 860, value 8283.016,
    # lowercl 6570.819, uppercl 10289.65 per 100,000 (95%, Dobson).
    pops = [30, 35, 35, 35, 40, 40, 45, 50, 50, 50, 60, 60, 70, 75, 70, 60, 20, 20, 15]
    nan = np.nan
    deaths = [1, 1, nan, nan, nan, 1, 1, 3, 3, 3, 3, 10, 10, 10, 10, 8, 8, 8, 8]
    r = dsr(deaths, pops)
    assert float(r.total_count) == 88 and float(r.total_population) == 860
    assert_printed(r.value, 8283.016)
    assert_printed(r.lower, 6570.819)
    assert_printed(r.upper, 10289.65)
    assert r.method == "Dobson"


# --------------------------------------------------------------------------- SII
# LE_testdata.csv (ukhsa-collaboration/PHEindicatormethods tests/testthat), Sex 1,
# GeoCode E06000001 and E06000002: deciles 1 (most deprived) .. 10.
LE_POP = np.array(
    [
        [13837, 14519, 14940, 14599, 12311, 13196, 13335, 13388, 13685, 11779],
        [21675, 20065, 19750, 24713, 20112, 19618, 22408, 19752, 18939, 19312],
    ],
    dtype=float,
)
LE_VALUE = np.array(
    [
        [70.56313911, 72.61347473, 75.06710359, 75.20662276, 76.23469045,
         75.21801932, 77.09240397, 79.84156222, 80.81329918, 82.73763832],
        [70.54853186, 71.57155734, 72.48698671, 73.51985519, 73.14605425,
         76.15898712, 78.65444871, 80.56476961, 80.85486627, 79.9711253],
    ]
)  # fmt: skip
LE_SE = np.array(
    [
        [1.133868862, 1.020288759, 1.108685178, 1.485618539, 1.311653285,
         1.169033147, 1.306645801, 1.090905616, 0.979426096, 1.319452272],
        [0.947488056, 1.043688022, 0.969320245, 1.023567868, 1.006757968,
         0.906037647, 0.724013864, 1.118131371, 0.848327099, 0.94159082],
    ]
)  # fmt: skip
# phe_sii(..., value_type = 0, confidence = c(0.95, 0.998), se = SE, repetitions = 1000)
# (WorkedExamples_phe_sii, Example 1): sii, lower/upper 95%, lower/upper 99.8%.
LE_SII = [
    (11.68886, 9.215442, 14.07460, 7.896985, 15.27278),
    (12.54785, 10.579679, 14.57307, 9.433565, 15.43696),
]

# DSR_testdata.csv: Period 2010, quintiles 1 (most deprived) .. 5.
DSR_2010_POP = np.array([1434002, 1450590, 1453827, 1440980, 1457780], dtype=float)
DSR_2010_VALUE = np.array([150.2200205, 131.0221747, 127.4954973, 130.494241, 135.4664241])
DSR_2010_LOWER = np.array([147.3194185, 128.3676972, 125.0421198, 128.2469515, 133.2469515])
DSR_2010_UPPER = np.array([153.1498241, 133.7051129, 129.975513, 132.7657553, 137.8657553])
# phe_sii(value_type = 1, lower_cl, upper_cl, transform = TRUE, rii = TRUE),
# 100,000 repetitions (Example 2, Period 2010):
# sii -14.03684, rii 0.9010655, sii 95% -17.95990 .. -10.126662, rii 0.8752420 .. 0.9275826
DSR_2010_SII = (-14.03684, 0.9010655, -17.95990, -10.126662, 0.8752420, 0.9275826)


def test_sii_normal_values_match_phe_worked_example():
    r95 = sii(LE_VALUE, LE_POP, se=LE_SE, confidence=0.95, seed=7)
    r998 = sii(LE_VALUE, LE_POP, se=LE_SE, confidence=0.998, seed=7)
    for g, (value, lo95, hi95, lo998, hi998) in enumerate(LE_SII):
        # the SII is a weighted least-squares slope: exact to the printed digits
        assert_printed(r95.sii[g], value, digits=7)
        # PHE's limits come from only 1,000 simulations, so they carry Monte Carlo
        # error of a few per cent of the interval; PHE's own tests allow 5%.
        assert r95.sii_lower[g] == pytest.approx(lo95, rel=0.05)
        assert r95.sii_upper[g] == pytest.approx(hi95, rel=0.05)
        assert r998.sii_lower[g] == pytest.approx(lo998, rel=0.05)
        assert r998.sii_upper[g] == pytest.approx(hi998, rel=0.05)


def test_sii_log_transformed_rates_match_phe_worked_example():
    value, rii_value, lo, hi, rii_lo, rii_hi = DSR_2010_SII
    r = sii(
        DSR_2010_VALUE, DSR_2010_POP, lower=DSR_2010_LOWER, upper=DSR_2010_UPPER,
        value_type="rate", transform=True, seed=3,
    )  # fmt: skip
    assert r.transform
    assert_printed(r.sii, value, digits=7)
    assert_printed(r.rii, rii_value, digits=7)
    # 100,000 simulations in R and here: the limits agree to simulation error,
    # well within 2% of the interval width.
    width, rii_width = hi - lo, rii_hi - rii_lo
    assert float(r.sii_lower) == pytest.approx(lo, abs=0.02 * width)
    assert float(r.sii_upper) == pytest.approx(hi, abs=0.02 * width)
    assert float(r.rii_lower) == pytest.approx(rii_lo, abs=0.02 * rii_width)
    assert float(r.rii_upper) == pytest.approx(rii_hi, abs=0.02 * rii_width)


def test_sii_transform_negative_multiplier_orders_limits_and_needs_a_transform():
    r = sii(
        DSR_2010_VALUE, DSR_2010_POP, lower=DSR_2010_LOWER, upper=DSR_2010_UPPER,
        value_type="rate", transform=True, multiplier=-1, seed=3, repetitions=5000,
    )  # fmt: skip
    assert float(r.sii) == pytest.approx(14.03684, abs=1e-5)
    assert float(r.rii) == pytest.approx(1 / 0.9010655, rel=1e-6)
    assert float(r.sii_lower) < float(r.sii) < float(r.sii_upper)
    assert float(r.rii_lower) < float(r.rii) < float(r.rii_upper)
    with pytest.raises(ValueError, match="transform"):
        sii(LE_VALUE, LE_POP, se=LE_SE, transform=True)
    with pytest.raises(ValueError, match="transform"):
        sii(DSR_2010_VALUE, DSR_2010_POP, lower=DSR_2010_LOWER, upper=DSR_2010_UPPER,
            value_type="rate", transform=True, rii_method="mean")  # fmt: skip
