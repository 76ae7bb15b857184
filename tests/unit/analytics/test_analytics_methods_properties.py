"""Hypothesis property tests, disclosure control and import purity."""

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from opencommissioning.analytics.methods import (
    ESP2013,
    disclosure_control,
    dsr,
    isr,
    mean,
    proportion,
    rate,
)

confidences = st.floats(min_value=0.5, max_value=0.999, allow_nan=False)
denominators = st.integers(min_value=1, max_value=10_000_000)


@st.composite
def num_den(draw):
    n = draw(denominators)
    x = draw(st.integers(min_value=0, max_value=n))
    return x, n


@given(num_den(), confidences)
def test_proportion_interval_contains_value(xn, conf):
    x, n = xn
    r = proportion(x, n, conf)
    assert 0.0 <= r.lower <= r.value * (1 + 1e-12) + 1e-15
    assert r.value <= r.upper * (1 + 1e-12) + 1e-15 and r.upper <= 1.0 + 1e-12


@given(num_den(), confidences, confidences)
def test_proportion_interval_widens_with_confidence(xn, c1, c2):
    assume(abs(c1 - c2) > 1e-6)
    lo_c, hi_c = sorted((c1, c2))
    x, n = xn
    narrow, wide = proportion(x, n, lo_c), proportion(x, n, hi_c)
    assert wide.lower <= narrow.lower + 1e-12 and wide.upper >= narrow.upper - 1e-12


@given(denominators, confidences, st.data())
def test_proportion_limits_monotone_in_numerator(n, conf, data):
    x = np.array(sorted(data.draw(st.lists(st.integers(0, n), min_size=2, max_size=20))))
    r = proportion(x, n, conf)
    assert np.all(np.diff(r.lower) >= -1e-12)
    assert np.all(np.diff(r.upper) >= -1e-12)


@given(st.integers(0, 1_000_000), denominators, confidences)
def test_rate_interval_contains_value(count, n, conf):
    r = rate(count, n, conf)
    assert r.lower <= r.value * (1 + 1e-12) and r.value <= r.upper


@given(st.integers(0, 1_000_000), confidences, confidences)
def test_rate_interval_widens_with_confidence(count, c1, c2):
    assume(abs(c1 - c2) > 1e-6)
    lo_c, hi_c = sorted((c1, c2))
    narrow, wide = rate(count, 1e5, lo_c), rate(count, 1e5, hi_c)
    assert wide.lower <= narrow.lower * (1 + 1e-12) and wide.upper >= narrow.upper


@settings(max_examples=50)
@given(confidences)
def test_rate_limits_monotone_in_count_across_the_exact_byars_switch(conf):
    counts = np.arange(0, 500)
    r = rate(counts, 1000, conf)
    assert np.all(np.diff(r.upper) > 0)
    # Byar's lower limit is a slightly different approximation from the exact one;
    # both are increasing and the switch at 10 does not reverse the order.
    assert np.all(np.diff(r.lower) > 0)


@st.composite
def age_table(draw):
    counts = draw(st.lists(st.integers(0, 500), min_size=19, max_size=19))
    pops = draw(st.lists(st.integers(1, 100_000), min_size=19, max_size=19))
    return np.array(counts, dtype=float), np.array(pops, dtype=float)


@given(age_table(), confidences)
def test_dsr_interval_contains_value(table, conf):
    x, n = table
    r = dsr(x, n, confidence=conf)
    if x.sum() < 10:
        assert np.isnan(r.value)
    else:
        assert r.lower <= r.value <= r.upper


@given(age_table(), confidences, confidences)
def test_dsr_widens_with_confidence(table, c1, c2):
    assume(abs(c1 - c2) > 1e-6)
    x, n = table
    assume(x.sum() >= 10)
    lo_c, hi_c = sorted((c1, c2))
    narrow, wide = dsr(x, n, confidence=lo_c), dsr(x, n, confidence=hi_c)
    assert wide.lower <= narrow.lower + 1e-9 and wide.upper >= narrow.upper - 1e-9


@given(age_table(), st.integers(0, 300))
def test_isr_interval_contains_value(table, observed):
    x, n = table
    ref_x = np.arange(1.0, 20.0) * 10
    r = isr(observed, n, ref_x, np.full(19, 1e5))
    assert r.lower <= r.value <= r.upper


@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=50), confidences)
def test_mean_interval_contains_value(values, conf):
    r = mean(values, confidence=conf)
    assert r.lower <= r.value <= r.upper


# ------------------------------------------------------------------ disclosure control


def test_disclosure_examples_and_display():
    r = disclosure_control([0, 1, 7, 8, 12, 13, 1234, np.nan])
    assert np.isnan(r.value[1]) and np.isnan(r.value[2])
    assert r.value[[0, 3, 4, 5, 6]].tolist() == [0, 10, 10, 15, 1235]
    assert r.suppressed.tolist() == [False, True, True] + [False] * 5
    assert r.missing[-1] and not r.suppressed[-1]
    assert r.display() == ["0", "*", "*", "10", "10", "15", "1,235", ""]
    assert r.display(suppressed="[c]", missing="-")[1:3] == ["[c]", "[c]"]
    assert r.lower[3] == 8 and r.upper[3] == 12  # a published 10 was 8..12
    assert r.lower[1] == 1 and r.upper[1] == 7
    with pytest.raises(ValueError):
        disclosure_control([-1])
    big = disclosure_control([8, 25], suppress_at_or_below=3, round_to=20)
    assert big.value.tolist() == [20, 20]  # 8 never published as a false zero


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=200))
def test_disclosure_never_reveals_one_to_seven(counts):
    r = disclosure_control(counts)
    shown = r.value[~np.isnan(r.value)]
    assert not np.any((shown >= 1) & (shown <= 7))
    assert np.all(np.isnan(r.value) == (np.array(counts) >= 1) & (np.array(counts) <= 7))
    assert np.all(r.value[np.array(counts) == 0] == 0)
    assert np.all(np.mod(shown, 5) == 0)
    for text, c in zip(r.display(), counts, strict=True):
        if 1 <= c <= 7:
            assert text == "*"
        else:
            assert text.replace(",", "").isdigit() and int(text.replace(",", "")) not in range(1, 8)
    assert np.all((r.lower <= np.array(counts)) & (np.array(counts) <= r.upper))


# ---------------------------------------------------------------------- import purity


def test_methods_package_never_imports_django():
    code = (
        "import sys; import opencommissioning.analytics.methods as m; "
        "bad = [k for k in sys.modules if k == 'django' or k.startswith('django.')]; "
        "assert not bad, bad; "
        "print(m.ESP2013.sum())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "100000.0"


def test_dsr_default_is_esp2013():
    x = np.full(19, 10.0)
    n = np.full(19, 1000.0)
    assert float(dsr(x, n).value) == pytest.approx(float(dsr(x, n, ESP2013).value))
