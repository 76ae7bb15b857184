"""The needs assessment's analytics: load checks, levels by relabelling, published counts,
and the statistics profile pages show (no Django here)."""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from opencommissioning.analytics import datamodel, methods
from opencommissioning.analytics.assessment import Grouping, compute, with_data
from opencommissioning.analytics.catalogue import load_catalogue
from opencommissioning.analytics.engines import DataSource, get_engine
from opencommissioning.analytics.profiles import (
    BETTER_998,
    NOT_COMPARED,
    SIMILAR,
    WORSE_95,
    compare,
    funnel,
    nearest_neighbours,
    peer_comparator,
    public_counts,
    spc,
)
from opencommissioning.analytics.published import PublishedCountsInvalid, published_values
from opencommissioning.analytics.runner import run_catalogue
from opencommissioning.analytics.validation import UnreadableFile, check_table, read_table

CATALOGUE = {i.id: i for i in load_catalogue()}


def _csv(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_problem_in_a_population_file_is_named_at_once(tmp_path: Path) -> None:
    path = _csv(tmp_path, "organisation,commissioner,period,sex,age_band,count,colour\n"
                          "P1,02A,2024-13,X,0-4,-1,\n"
                          "P91003,02A,2024-01,F,0-4,5,\n"
                          "P91003,02A,2024-01,F,0-4,seven,\n")
    raw, first = read_table(path)
    checked = check_table("population", raw, first_row=first)
    assert not checked.ok and checked.table is None
    text = [str(p) for p in checked.problems]
    assert "header, column colour: not a column of the population table (known: organisation, commissioner, period, sex, age_band, count)" in text
    assert "row 2, column organisation: 'P1' is not an ODS code (3 to 10 letters and digits)" in text
    assert "row 2, column period: '2024-13' is not a month written YYYY-MM" in text
    assert "row 2, column sex: 'X' is not one of F, M" in text
    assert "row 2, column count: -1 is below 0" in text
    assert "row 4, column count: 'seven' is not a whole number" in text
    assert "row 4, column organisation, period, sex, age_band: the same organisation, period, sex, age_band as row 3" in text
    assert checked.problem_count == len(text) == 7


def test_a_good_activity_file_is_typed_and_summarised(tmp_path: Path) -> None:
    path = _csv(tmp_path, "person_id,period,activity_date,setting,practice,commissioner,sex,age_band,admission_method\n"
                          "a,2024-04,2024-04-03,admission,p91003,02A,F,70-74,emergency\n"
                          "b,2024-05,2024-05-30,ae_attendance,P91004,02A,M,0-4,\n")
    raw, first = read_table(path)
    checked = check_table("activity", raw, first_row=first)
    assert checked.ok, checked.problems
    assert checked.table is not None and checked.table.schema.equals(datamodel.arrow_schema("activity"))
    assert checked.table["practice"].to_pylist() == ["P91003", "P91004"]
    assert checked.periods == ["2024-04", "2024-05"]
    assert checked.counts_by_setting == {"admission": 1, "ae_attendance": 1}


def test_activity_dates_must_fall_in_their_period_and_parquet_rows_count_from_one(tmp_path: Path) -> None:
    table = datamodel.from_rows("activity", [
        {"person_id": "a", "period": "2024-04", "activity_date": datetime.date(2024, 5, 1), "setting": "admission",
         "practice": "P91003", "commissioner": "02A", "sex": "F", "age_band": "0-4"},
    ])
    pq.write_table(table, tmp_path / "a.parquet")
    raw, first = read_table(tmp_path / "a.parquet")
    checked = check_table("activity", raw, first_row=first)
    assert [str(p) for p in checked.problems] == ["row 1, column activity_date: 2024-05-01 is not in the period 2024-04"]


def test_a_row_with_too_many_cells_makes_the_file_unreadable(tmp_path: Path) -> None:
    path = _csv(tmp_path, "organisation,imd_score,imd_quintile\nP91003,12.5,3,extra\n")
    with pytest.raises(UnreadableFile) as caught:
        read_table(path)
    assert "the row has 4 cells; the header has 3" in str(caught.value)


def _tiny() -> DataSource:
    population, activity = [], []
    for practice, size, events in (("P00001", 1000, 30), ("P00002", 2000, 20), ("P00003", 500, 12)):
        for month in ("2024-01", "2024-02"):
            for band in datamodel.AGE_BANDS:
                population.append({"organisation": practice, "commissioner": "02A", "period": month, "sex": "F",
                                   "age_band": band, "count": size // len(datamodel.AGE_BANDS)})
            for i in range(events):
                activity.append({"person_id": f"{practice}-{i}", "period": month, "setting": "admission",
                                 "practice": practice, "commissioner": "02A", "sex": "F", "age_band": "70-74",
                                 "admission_method": "emergency", "activity_date": None})
    return DataSource(tables={"population": datamodel.from_rows("population", population),
                              "activity": datamodel.from_rows("activity", activity)})


def test_groupings_are_the_catalogue_run_on_relabelled_data() -> None:
    ind = CATALOGUE["emergency_admissions_rate"]
    data = _tiny()
    values = compute([ind], get_engine("duckdb"), data, spans={"2024-01/2024-02": ["2024-01", "2024-02"]},
                     groupings=[Grouping("locality", {"P00001": "L1", "P00002": "L1", "P00003": "L2"})])
    loc = values.filter(pc.equal(values["level"], "locality")).to_pylist()
    assert {r["organisation"] for r in loc} == {"L1", "L2"}
    l1 = next(r for r in loc if r["organisation"] == "L1")
    # the same rate and interval as the method on pooled counts (a crude rate pools exactly):
    # the span's events over its average registered population (patients, not person-months)
    expected = methods.rate(100, (1000 // 19 + 2000 // 19) * 19, multiplier=1000)
    assert l1["numerator"] == 100 and l1["value"] == pytest.approx(float(expected.value))
    assert l1["lower"] == pytest.approx(float(expected.lower))
    assert l1["denominator"] == (1000 // 19 + 2000 // 19) * 19
    wide = methods.rate(100, (1000 // 19 + 2000 // 19) * 19, confidence=0.998, multiplier=1000)
    assert l1["upper_998"] == pytest.approx(float(wide.upper))
    # monthly practice values equal the plain run of the catalogue
    plain = run_catalogue([ind], get_engine("reference"), data).to_pylist()
    month = values.filter(pc.equal(values["period_kind"], "month"))
    month = month.filter(pc.equal(month["level"], "practice")).to_pylist()
    assert [(r["organisation"], r["period"], r["value"]) for r in month] == \
        [(r["organisation"], r["period"], pytest.approx(r["value"])) for r in plain]


def test_a_prevalence_over_a_span_is_the_average_monthly_prevalence() -> None:
    """A register is a monthly snapshot: the same 100 people on it in both months of a
    two-month span are 200 person-months over 2,000 person-months (10%), not 100 people
    over 2,000 (5%); in a practice whose register turns over, new people do not pile up."""
    ind = CATALOGUE["qof_prevalence_diabetes"]
    population, activity = [], []
    for month, first in (("2024-01", 0), ("2024-02", 50)):
        population.append({"organisation": "P00001", "commissioner": "02A", "period": month, "sex": "F",
                           "age_band": "50-54", "count": 1000})
        for i in range(first, first + 100):  # half the register turns over in February
            activity.append({"person_id": f"p{i}", "period": month, "setting": "register", "register": "DM",
                             "practice": "P00001", "commissioner": "02A", "sex": "F", "age_band": "50-54"})
    data = DataSource(tables={"population": datamodel.from_rows("population", population),
                              "activity": datamodel.from_rows("activity", activity)})
    values = compute([ind], get_engine("duckdb"), data, spans={"2024-01/2024-02": ["2024-01", "2024-02"]})
    span = values.filter(pc.equal(values["period_kind"], "span"))
    row = span.filter(pc.equal(span["level"], "practice")).to_pylist()[0]
    assert (row["numerator"], row["denominator"]) == (100, 1000)  # averages over the months, not person-months
    assert row["value"] == pytest.approx(10.0)
    wilson = methods.proportion(100, 1000, multiplier=100)  # the interval on the average counts
    assert row["lower"] == pytest.approx(float(wilson.lower))


def test_a_period_without_the_indicators_activity_has_no_value_rather_than_zero() -> None:
    """Prescriptions loaded for February only: January's and the two-month span's items per
    1,000 are left out, February's is computed; admissions (loaded for both) are kept."""
    population, activity = [], []
    for month in ("2024-01", "2024-02"):
        population.append({"organisation": "P00001", "commissioner": "02A", "period": month, "sex": "F",
                           "age_band": "50-54", "count": 1000})
        activity.append({"person_id": "a", "period": month, "setting": "admission", "admission_method": "emergency",
                         "practice": "P00001", "commissioner": "02A", "sex": "F", "age_band": "50-54"})
    activity.append({"person_id": "b", "period": "2024-02", "setting": "prescription", "bnf": "0501013K0AAAJAJ",
                     "items": 3, "practice": "P00001", "commissioner": "02A", "sex": "F", "age_band": "50-54"})
    data = DataSource(tables={"population": datamodel.from_rows("population", population),
                              "activity": datamodel.from_rows("activity", activity)})
    inds = [CATALOGUE["antibacterial_items_per_1000"], CATALOGUE["emergency_admissions_rate"]]
    values = compute(inds, get_engine("duckdb"), data, spans={"2024-01/2024-02": ["2024-01", "2024-02"]})
    practice = values.filter(pc.equal(values["level"], "practice"))
    got = {(r["indicator_id"], r["period"]) for r in practice.to_pylist()}
    assert ("antibacterial_items_per_1000", "2024-02") in got
    assert ("antibacterial_items_per_1000", "2024-01") not in got
    assert ("antibacterial_items_per_1000", "2024-01/2024-02") not in got
    assert {("emergency_admissions_rate", p) for p in ("2024-01", "2024-02", "2024-01/2024-02")} <= got


def test_peers_are_compared_only_when_enough_of_them_rest_on_enough_events() -> None:
    ok = peer_comparator([5.0, 7.0, 6.0, 0.0], [50, 70, 60, 0])
    assert ok.median == 6.0 and ok.count == 4 and ok.reliable == 3
    tiny = peer_comparator([0.0, 0.0, 12.0], [0, 0, 3])
    assert tiny.median is None and tiny.reason.startswith("fewer than 3 peers")
    assert peer_comparator([None, None], [None, None]).reason == "no peer has a value"


def test_indicators_without_their_setting_in_the_data_are_held_back() -> None:
    ok, missing = with_data(CATALOGUE.values(), {"admission"})
    assert CATALOGUE["antibacterial_items_per_1000"] in missing
    assert CATALOGUE["emergency_admissions_rate"] in ok


def test_published_counts_get_the_indicators_method() -> None:
    table = datamodel.from_rows("published", [
        {"indicator_id": "qof_prevalence_diabetes", "level": "commissioner", "organisation": "02A",
         "period": "2013-04/2014-03", "numerator": 11_000, "denominator": 230_000, "source": "QOF 2013-14"},
    ])
    row = published_values(load_catalogue(), table).to_pylist()[0]
    expected = methods.proportion(11_000, 230_000, multiplier=100)
    assert row["value"] == pytest.approx(float(expected.value)) and row["period_kind"] == "span"
    assert row["lower_998"] < row["lower"] and row["source"] == "QOF 2013-14"
    bad = datamodel.from_rows("published", [{"indicator_id": "acsc_chronic_emergency_admissions", "level": "practice",
                                             "organisation": "P1", "period": "2024-01", "numerator": 1,
                                             "denominator": 9, "source": "x"}])
    with pytest.raises(PublishedCountsInvalid, match="needs counts by age band"):
        published_values(load_catalogue(), bad)


def test_compare_uses_polarity_and_both_levels() -> None:
    assert compare(10, 9, 11, 8, 12, 10.5, "low_is_good") == SIMILAR
    assert compare(10, 9.5, 10.5, 9, 11, 20, "low_is_good") == BETTER_998
    assert compare(10, 9.5, 10.5, 8, 12, 11, "low_is_good") == "better 95"
    assert compare(10, 9.5, 10.5, 8, 12, 9, "low_is_good") == WORSE_95
    assert compare(10, 9.5, 10.5, 8, 12, 9, "no_judgement") == "higher 95"
    assert compare(None, None, None, None, None, 9, "low_is_good") == NOT_COMPARED


def test_funnel_flags_an_outlier_and_adjusts_for_overdispersion() -> None:
    den = np.full(20, 10_000.0)
    num = np.full(20, 100.0)
    num[0] = 200
    f = funnel("crude_rate", num, den, num / den * 1000, 1000)
    assert f is not None and f.flags[0] == "high 99.8" and f.statistic == "rate"
    assert len(f.grid) == len(f.upper_998) and not f.overdispersed  # phi < 1: exact limits
    spread_out = np.linspace(60, 140, 20)
    g = funnel("crude_rate", spread_out, den, spread_out / den * 1000, 1000)
    assert g is not None and g.phi > 1 and g.overdispersed
    assert g.flags.count("within") > g.flags_unadjusted.count("within")
    assert funnel("mean", num, den, num, 1) is None


def test_spc_gives_the_making_data_count_icon() -> None:
    values = [10.0] * 6 + [10.5, 9.5] * 3 + [5.0] * 8
    result = spc(values, "low_is_good")
    assert result is not None and result.variation_icon == "improvement_low"


def test_nearest_neighbours_are_weighted_and_standardised() -> None:
    features = {"A": {"deprivation": 10, "list_size": 8}, "B": {"deprivation": 11, "list_size": 10},
                "C": {"deprivation": 40, "list_size": 8.1}}
    by_deprivation = nearest_neighbours(features, {"deprivation": 1.0}, 1)
    assert by_deprivation["A"][0].code == "B"
    by_size = nearest_neighbours(features, {"list_size": 1.0}, 1)
    assert by_size["A"][0].code == "C"


def test_public_counts_suppress_small_numbers_and_round_the_rest() -> None:
    out = public_counts([0, 3, 12, None], [100, 101, 1234, 50])
    assert out.numerator == [0.0, None, 10.0, None]
    assert out.denominator == [100.0, 100.0, 1235.0, 50.0]
    assert out.suppressed == [False, True, False, True]


def test_the_catalogue_at_practice_level_keeps_its_definition() -> None:
    ind = dataclasses.replace(CATALOGUE["ae_4_hours_all_types"], level="practice")
    assert ind.columns()["activity"] >= {"practice", "period", "setting", "ae_minutes"}


def test_synthetic_options_for_a_commissioners_demo(tmp_path: Path) -> None:
    import pyarrow.dataset as ds

    from opencommissioning.analytics.synthetic import Change, made_up_practices, synthesise

    codes = ["Z90001", "Z90002", "Z90003"]
    made_up = made_up_practices(codes, "99Z")
    meta = synthesise(tmp_path, fraction=1.0, months=3, start="2025-01", kinds=["emergency", "DM"],
                      changes=[Change("emergency", "2025-03", 0.0, "Z90002")], made_up=made_up, seed=3)
    population = ds.dataset(tmp_path / "population").to_table()
    first = population.filter(pc.equal(population["period"], "2025-01"))
    assert sum(first["count"].to_pylist()) == int(np.rint(made_up[0].lists).sum())  # the lists themselves
    activity = ds.dataset(tmp_path / "activity").to_table()
    assert set(activity["setting"].to_pylist()) == {"admission", "register"} and meta["made_up"]
    march = activity.filter(pc.equal(activity["period"], "2025-03"))
    z2 = march.filter(pc.and_(pc.equal(march["practice"], "Z90002"), pc.equal(march["setting"], "admission")))
    assert z2.num_rows == 0  # the step change stopped its emergency admissions
    with pytest.raises(ValueError, match="unknown kind"):
        synthesise(tmp_path / "x", made_up=made_up, kinds=["admissions"])


def test_public_values_come_from_the_rounded_counts_so_they_give_back_only_the_rounded_count():
    from opencommissioning.analytics.profiles import public_counts, public_values

    # the audit's example: 22 admissions over 29,930 person-months, published as 20
    counts = public_counts([22.0, 40.0, 3.0, 12.0], [29_930.0, 200.0, 500.0, 9.0])
    assert counts.numerator[0] == 20 and counts.suppressed[2]
    exact_rate = 22 / 29_930 * 100_000
    pv = public_values(["crude_rate", "proportion", "crude_rate", "isr"], [100_000, 100, 100_000, 100], [0.95] * 4,
                       counts.numerator, counts.denominator, counts.suppressed,
                       [22.0, 40.0, 3.0, 12.0], [exact_rate, 20.0, 600.0, 120.0], [None] * 4, [None] * 4,
                       [None] * 4, [None] * 4)
    rate = pv.value[0]
    assert rate is not None and round(rate * 29_930 / 100_000) == 20  # not 22
    assert abs(rate - 20 / 29_930 * 100_000) < 1e-9 and pv.lower[0] < rate < pv.upper[0]
    assert pv.lower_998[0] < pv.lower[0]
    assert pv.value[1] == 40 / 200 * 100  # Wilson's value is the proportion of the rounded counts
    assert pv.value[2] is None  # suppressed: nothing shown
    # ISR: 10 (12 rounded) observed over the expected count 12 x 100 / 120 = 10
    assert counts.numerator[3] == 10 and abs(pv.value[3] - 100.0) < 1e-9



def test_a_change_counts_only_when_it_is_significant():
    from opencommissioning.analytics.profiles import significant_change

    # the audit's example: 17.28 a year before, 17.24 now, intervals about +/-0.5
    assert significant_change(17.24, 16.74, 17.74, 17.28, 16.78, 17.78) is False
    assert significant_change(15.0, 14.5, 15.5, 17.28, 16.78, 17.78) is True
    assert significant_change(15.0, None, None, 17.28, 16.78, 17.78) is None
