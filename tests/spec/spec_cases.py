"""The analytics spec, as small table-shaped cases.

Each case is an indicator (the YAML fields that matter; the rest are defaults), the
input rows of each table, and the expected rows of the result. The same cases run on
every engine (``test_spec.py``). Rows only name the columns they need; the others are
null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from opencommissioning.analytics import methods
from opencommissioning.analytics.datamodel import AGE_BANDS

Row = dict[str, Any]

BASE: dict[str, Any] = {
    "id": "spec_indicator",
    "title": "Spec indicator",
    "why_it_matters": "It is in the spec.",
    "outcome_domain": 3,
    "level": "practice",
    "method": "crude_rate",
    "multiplier": 1000,
    "polarity": "low_is_good",
    "disclosure": "none",
    "disclosure_reason": "spec cases check the exact arithmetic",
    "source": {"name": "Spec", "url": "https://example.org/spec"},
    "authored_by": "Author",
    "checked_by": "Checker",
    "review_status": "draft",
    "next_review": "2030-01-01",
    "denominator": {"table": "population"},
}


def indicator(**fields: Any) -> dict[str, Any]:
    return {**BASE, **fields}


def pop(org: str, count: int, *, period: str = "2024-01", sex: str = "F", age_band: str = "40-44",
        commissioner: str = "C1") -> Row:
    return {"organisation": org, "commissioner": commissioner, "period": period, "sex": sex,
            "age_band": age_band, "count": count}


def act(practice: str = "P1", *, period: str = "2024-01", setting: str = "admission", **cols: Any) -> Row:
    row = {"practice": practice, "period": period, "setting": setting, "commissioner": "C1",
           "provider": "R1", "sex": "F", "age_band": "40-44"}
    row.update(cols)
    return row


def emergency(practice: str = "P1", **cols: Any) -> Row:
    return act(practice, admission_method="emergency", **cols)


@dataclass
class Case:
    name: str
    indicator: dict[str, Any]
    population: list[Row]
    activity: list[Row]
    expected: list[Row]
    deprivation: list[Row] = field(default_factory=list)
    #: run for publication (each indicator's disclosure rule applied) or exact (the default)
    publish: bool = False


def _rate(n: float, d: float, m: float = 1000) -> Row:
    r = methods.rate(n, d, multiplier=m)
    return {"numerator": n, "denominator": d, "value": float(r.value), "lower": float(r.lower),
            "upper": float(r.upper)}


def _prop(n: float, d: float, m: float = 100) -> Row:
    r = methods.proportion(n, d, multiplier=m)
    return {"numerator": n, "denominator": d, "value": float(r.value), "lower": float(r.lower),
            "upper": float(r.upper)}


EMERGENCY = {"table": "activity", "where": {"setting": "admission", "admission_method": "emergency"}}

# A two-band population for standardisation cases: P1 young, P2 old.
_bands_p1 = {"0-4": 1000, "70-74": 200}
_bands_p2 = {"0-4": 200, "70-74": 1000}


def _std_pop() -> list[Row]:
    rows = []
    for org, bands in (("P1", _bands_p1), ("P2", _bands_p2)):
        for band in AGE_BANDS:
            rows.append(pop(org, bands.get(band, 50), age_band=band))
    return rows


def _std_activity() -> list[Row]:
    rows = []
    for org, young, old in (("P1", 12, 6), ("P2", 3, 20)):
        rows += [emergency(org, age_band="0-4") for _ in range(young)]
        rows += [emergency(org, age_band="70-74") for _ in range(old)]
    rows += [emergency("P1", age_band="30-34") for _ in range(4)]
    return rows


def _dsr_expected(org: str, bands: dict[str, int], young: int, old: int, extra: int) -> Row:
    counts = [{"0-4": young, "70-74": old, "30-34": extra}.get(b, 0) for b in AGE_BANDS]
    pops = [bands.get(b, 50) for b in AGE_BANDS]
    d = methods.dsr(counts, pops)
    return {"organisation": org, "numerator": float(sum(counts)), "denominator": float(sum(pops)),
            "value": float(d.value), "lower": float(d.lower), "upper": float(d.upper)}


def _isr_expected() -> list[Row]:
    import numpy as np

    obs = np.zeros((2, 19))
    pops = np.array([[_bands_p1.get(b, 50) for b in AGE_BANDS], [_bands_p2.get(b, 50) for b in AGE_BANDS]],
                    dtype=float)
    i0, i70, i30 = AGE_BANDS.index("0-4"), AGE_BANDS.index("70-74"), AGE_BANDS.index("30-34")
    obs[0, [i0, i70, i30]] = [12, 6, 4]
    obs[1, [i0, i70]] = [3, 20]
    s = methods.isr(obs, pops, obs.sum(axis=0), pops.sum(axis=0), multiplier=100)
    return [{"organisation": o, "numerator": float(obs[i].sum()), "denominator": float(pops[i].sum()),
             "value": float(s.value[i]), "lower": float(s.lower[i]), "upper": float(s.upper[i])}
            for i, o in enumerate(("P1", "P2"))]


def _isr_published() -> list[Row]:
    """The ISR from the rounded total observed (22 -> 20, 23 -> 25) over the expected count
    from the exact reference rates."""
    import numpy as np

    rows = _isr_expected()
    obs = np.zeros((2, 19))
    pops = np.array([[_bands_p1.get(b, 50) for b in AGE_BANDS], [_bands_p2.get(b, 50) for b in AGE_BANDS]],
                    dtype=float)
    i0, i70, i30 = AGE_BANDS.index("0-4"), AGE_BANDS.index("70-74"), AGE_BANDS.index("30-34")
    obs[0, [i0, i70, i30]] = [12, 6, 4]
    obs[1, [i0, i70]] = [3, 20]
    s = methods.isr(np.array([20.0, 25.0]), pops, obs.sum(axis=0), pops.sum(axis=0), multiplier=100)
    return [{**r, "numerator": n, "value": float(s.value[i]), "lower": float(s.lower[i]),
             "upper": float(s.upper[i]), "suppressed": False}
            for i, (r, n) in enumerate(zip(rows, (20.0, 25.0), strict=True))]


def _mean(values: list[float]) -> Row:
    r = methods.mean(values)
    return {"numerator": float(sum(values)), "denominator": float(len(values)),
            "value": float(r.value), "lower": float(r.lower), "upper": float(r.upper)}


CASES: list[Case] = [
    Case(
        "a crude rate counts matching rows per organisation and period over the summed population",
        indicator(numerator=EMERGENCY),
        [pop("P1", 600), pop("P1", 400, sex="M", age_band="0-4"), pop("P2", 2000),
         pop("P1", 1000, period="2024-02")],
        [emergency(), emergency(), emergency(), act(admission_method="elective"),
         act(setting="ae_attendance"), emergency("P2"), emergency(period="2024-02")],
        [{"organisation": "P1", "period": "2024-01", **_rate(3, 1000)},
         {"organisation": "P1", "period": "2024-02", **_rate(1, 1000)},
         {"organisation": "P2", "period": "2024-01", **_rate(1, 2000)}],
    ),
    Case(
        "an organisation with population but no activity has a zero numerator",
        indicator(numerator=EMERGENCY),
        [pop("P1", 100), pop("P2", 100)],
        [emergency("P1")],
        [{"organisation": "P1", "period": "2024-01", **_rate(1, 100)},
         {"organisation": "P2", "period": "2024-01", **_rate(0, 100)}],
    ),
    Case(
        "activity of an organisation without population is left out (no denominator)",
        indicator(numerator=EMERGENCY),
        [pop("P1", 100), pop("P3", 0)],
        [emergency("P1"), emergency("P2"), emergency("P3")],
        [{"organisation": "P1", "period": "2024-01", **_rate(1, 100)}],
    ),
    Case(
        "a list means any of the values",
        indicator(numerator={"table": "activity", "where": {"setting": ["ae_attendance", "outpatient_referral"]}}),
        [pop("P1", 100)],
        [act(setting="ae_attendance"), act(setting="outpatient_referral"), act(setting="admission")],
        [{"organisation": "P1", "period": "2024-01", **_rate(2, 100)}],
    ),
    Case(
        "not_in never matches a null value",
        indicator(numerator={"table": "activity", "where": {"treatment_function": {"not_in": ["110"]}}}),
        [pop("P1", 100)],
        [act(treatment_function="110"), act(treatment_function="330"), act(treatment_function=None)],
        [{"organisation": "P1", "period": "2024-01", **_rate(1, 100)}],
    ),
    Case(
        "starts_with matches any prefix and never a null",
        indicator(numerator={"table": "activity", "where": {"icd10": {"starts_with": ["J45", "E1"]}}}),
        [pop("P1", 100)],
        [act(icd10="J450"), act(icd10="J46"), act(icd10="E119"), act(icd10="E1"), act(icd10="XJ45"),
         act(icd10=None)],
        [{"organisation": "P1", "period": "2024-01", **_rate(3, 100)}],
    ),
    Case(
        "numeric comparisons: le, gt and between include their bounds as written",
        indicator(numerator={"table": "activity", "where": {"ae_minutes": {"between": [60, 240]},
                                                           "ae_department_type": {"le": 2}}}),
        [pop("P1", 100)],
        [act(ae_minutes=59, ae_department_type=1), act(ae_minutes=60, ae_department_type=1),
         act(ae_minutes=240, ae_department_type=2), act(ae_minutes=241, ae_department_type=1),
         act(ae_minutes=100, ae_department_type=3), act(ae_minutes=None, ae_department_type=1)],
        [{"organisation": "P1", "period": "2024-01", **_rate(2, 100)}],
    ),
    Case(
        "is_null and not_null test for missing values",
        indicator(numerator={"table": "activity", "where": {"rtt_days": {"not_null": True},
                                                           "provider": {"is_null": True}}}),
        [pop("P1", 100)],
        [act(rtt_days=10, provider=None), act(rtt_days=None, provider=None), act(rtt_days=10)],
        [{"organisation": "P1", "period": "2024-01", **_rate(1, 100)}],
    ),
    Case(
        "persons counts distinct people, ignoring a missing person id",
        indicator(method="proportion", multiplier=100,
                  numerator={"table": "activity", "where": {"setting": "register", "register": "DM"},
                             "measure": "persons"}),
        [pop("P1", 10)],
        [act(setting="register", register="DM", person_id="a"),
         act(setting="register", register="DM", person_id="a"),
         act(setting="register", register="DM", person_id="b"),
         act(setting="register", register="DM", person_id=None),
         act(setting="register", register="HYP", person_id="c")],
        [{"organisation": "P1", "period": "2024-01", **_prop(2, 10)}],
    ),
    Case(
        "a sum adds a column over matching rows, skipping nulls",
        indicator(numerator={"table": "activity", "where": {"bnf": {"starts_with": ["0501"]}},
                             "measure": {"sum": "items"}}),
        [pop("P1", 1000)],
        [act(setting="prescription", bnf="0501013K0AAAJAJ", items=3),
         act(setting="prescription", bnf="0501021A0AAAAAA", items=2),
         act(setting="prescription", bnf="0501021A0AAAAAA", items=None),
         act(setting="prescription", bnf="0407010H0AAAMAM", items=7)],
        [{"organisation": "P1", "period": "2024-01", **_rate(5, 1000)}],
    ),
    Case(
        "a proportion's numerator is the denominator's rows that also meet its own conditions",
        indicator(method="proportion", multiplier=100, level="provider",
                  denominator={"table": "activity", "where": {"setting": "ae_attendance"}},
                  numerator={"where": {"ae_minutes": {"le": 240}}}),
        [],
        [act(setting="ae_attendance", ae_minutes=30), act(setting="ae_attendance", ae_minutes=240),
         act(setting="ae_attendance", ae_minutes=500), act(setting="admission", ae_minutes=30),
         act(setting="ae_attendance", ae_minutes=30, provider="R2"),
         act(setting="admission", provider="R3")],
        [{"organisation": "R1", "period": "2024-01", **_prop(2, 3)},
         {"organisation": "R2", "period": "2024-01", **_prop(1, 1)}],
    ),
    Case(
        "rows with no organisation at the indicator's level are left out",
        indicator(method="proportion", multiplier=100, level="provider",
                  denominator={"table": "activity", "where": {"setting": "ae_attendance"}},
                  numerator={"where": {"ae_minutes": {"le": 240}}}),
        [],
        [act(setting="ae_attendance", ae_minutes=30), act(setting="ae_attendance", ae_minutes=30, provider=None),
         act(setting="ae_attendance", ae_minutes=300, provider=None, period="2024-02")],
        [{"organisation": "R1", "period": "2024-01", **_prop(1, 1)}],
    ),
    Case(
        "commissioner level groups both tables by commissioner",
        indicator(level="commissioner", numerator=EMERGENCY),
        [pop("P1", 100, commissioner="C1"), pop("P2", 300, commissioner="C1"),
         pop("P3", 50, commissioner="C2")],
        [emergency("P1"), emergency("P2"), emergency("P3", commissioner="C2")],
        [{"organisation": "C1", "period": "2024-01", **_rate(2, 400)},
         {"organisation": "C2", "period": "2024-01", **_rate(1, 50)}],
    ),
    Case(
        "a DSR standardises age-specific rates to ESP2013",
        indicator(method="dsr", multiplier=100000, numerator=EMERGENCY),
        _std_pop(),
        _std_activity(),
        [{**_dsr_expected("P1", _bands_p1, 12, 6, 4), "period": "2024-01"},
         {**_dsr_expected("P2", _bands_p2, 3, 20, 0), "period": "2024-01"}],
    ),
    Case(
        "a DSR over some age bands uses only those bands' standard weights",
        indicator(method="dsr", multiplier=100000,
                  numerator={**EMERGENCY, "where": {**EMERGENCY["where"], "age_band": ["70-74", "75-79"]}},
                  denominator={"table": "population", "where": {"age_band": ["70-74", "75-79"]}}),
        [pop("P1", 1000, age_band="70-74"), pop("P1", 500, age_band="75-79"), pop("P1", 99, age_band="0-4")],
        [emergency(age_band="70-74") for _ in range(8)] + [emergency(age_band="75-79") for _ in range(5)]
        + [emergency(age_band="0-4")],
        [{"organisation": "P1", "period": "2024-01", "numerator": 13.0, "denominator": 1500.0,
          **{k: float(getattr(methods.dsr([8, 5], [1000, 500], standard_populations=[
              methods.ESP2013[AGE_BANDS.index("70-74")], methods.ESP2013[AGE_BANDS.index("75-79")]]), k))
             for k in ("value", "lower", "upper")}}],
    ),
    Case(
        "an ISR compares observed with expected from all organisations' age-specific rates",
        indicator(method="isr", multiplier=100, numerator=EMERGENCY),
        _std_pop(),
        _std_activity(),
        [{**r, "period": "2024-01"} for r in _isr_expected()],
    ),
    Case(
        "a mean uses the non-null values of the column",
        indicator(method="mean", multiplier=1, level="provider", denominator=None,
                  numerator={**EMERGENCY, "measure": {"mean": "length_of_stay"}}),
        [],
        [emergency(length_of_stay=0), emergency(length_of_stay=2), emergency(length_of_stay=7),
         emergency(length_of_stay=None), emergency(length_of_stay=5, provider="R2"),
         act(admission_method="elective", length_of_stay=30)],
        [{"organisation": "R1", "period": "2024-01", **_mean([0, 2, 7])},
         {"organisation": "R2", "period": "2024-01", **_mean([5])}],
    ),
    Case(
        "published: disclosure control suppresses 1-7, rounds the numerator to 5 and computes "
        "the rate and its interval from the rounded count",
        indicator(numerator=EMERGENCY, disclosure={"suppress_at_or_below": 7, "round_to": 5}),
        [pop("P1", 1000), pop("P2", 1000), pop("P3", 1000)],
        [emergency("P1") for _ in range(3)] + [emergency("P2") for _ in range(12)],
        [{"organisation": "P1", "period": "2024-01", "numerator": None, "denominator": 1000.0,
          "value": None, "lower": None, "upper": None, "suppressed": True},
         {"organisation": "P2", "period": "2024-01", **_rate(10, 1000), "suppressed": False},
         {"organisation": "P3", "period": "2024-01", **_rate(0, 1000), "suppressed": False}],
        publish=True,
    ),
    Case(
        "exact (not for publication): the disclosure rule is not applied",
        indicator(numerator=EMERGENCY, disclosure={"suppress_at_or_below": 7, "round_to": 5}),
        [pop("P1", 1000), pop("P2", 1000)],
        [emergency("P1") for _ in range(3)] + [emergency("P2") for _ in range(12)],
        [{"organisation": "P1", "period": "2024-01", **_rate(3, 1000), "suppressed": False},
         {"organisation": "P2", "period": "2024-01", **_rate(12, 1000), "suppressed": False}],
    ),
    Case(
        "published proportion: Wilson limits on the rounded numerator; a count that would round "
        "above its denominator is suppressed",
        indicator(method="proportion", multiplier=100, level="provider", disclosure={"suppress_at_or_below": 7, "round_to": 5},
                  denominator={"table": "activity", "where": {"setting": "ae_attendance"}},
                  numerator={"where": {"ae_minutes": {"le": 240}}}),
        [],
        [act(setting="ae_attendance", provider="R1", ae_minutes=100 if i < 12 else 300) for i in range(13)]
        + [act(setting="ae_attendance", provider="R2", ae_minutes=60) for _ in range(9)]
        + [act(setting="ae_attendance", provider="R3", ae_minutes=60 if i < 3 else 500) for i in range(20)],
        [{"organisation": "R1", "period": "2024-01", **_prop(10, 13), "suppressed": False},
         {"organisation": "R2", "period": "2024-01", "numerator": None, "denominator": 9.0, "value": None,
          "lower": None, "upper": None, "suppressed": True},
         {"organisation": "R3", "period": "2024-01", "numerator": None, "denominator": 20.0, "value": None,
          "lower": None, "upper": None, "suppressed": True}],
        publish=True,
    ),
    Case(
        "published ISR: the rounded total observed over the expected count (exact reference rates)",
        indicator(method="isr", multiplier=100, numerator=EMERGENCY, disclosure={"suppress_at_or_below": 7, "round_to": 5}),
        _std_pop(),
        _std_activity(),
        [{**r, "period": "2024-01"} for r in _isr_published()],
        publish=True,
    ),
    Case(
        "published DSR: the total count is rounded; the rate comes from the exact counts by age band, "
        "which are never published",
        indicator(method="dsr", multiplier=100000, numerator=EMERGENCY, disclosure={"suppress_at_or_below": 7, "round_to": 5}),
        _std_pop(),
        _std_activity(),
        [{**_dsr_expected("P1", _bands_p1, 12, 6, 4), "numerator": 20.0, "period": "2024-01"},
         {**_dsr_expected("P2", _bands_p2, 3, 20, 0), "numerator": 25.0, "period": "2024-01"}],
        publish=True,
    ),
    Case(
        "published mean: suppressed at 7 or fewer records; the count of records and their total "
        "are rounded, the mean and its interval exact",
        indicator(method="mean", multiplier=1, level="provider", denominator=None, disclosure={"suppress_at_or_below": 7, "round_to": 5},
                  numerator={**EMERGENCY, "measure": {"mean": "length_of_stay"}}),
        [],
        [emergency(length_of_stay=d) for d in (0, 1, 2, 3, 4, 5, 6, 9)]
        + [emergency(length_of_stay=d, provider="R2") for d in (1, 2, 3)],
        [{"organisation": "R1", "period": "2024-01", **_mean([0, 1, 2, 3, 4, 5, 6, 9]), "numerator": 30.0,
          "denominator": 10.0, "suppressed": False},
         {"organisation": "R2", "period": "2024-01", "numerator": None, "denominator": None, "value": None,
          "lower": None, "upper": None, "suppressed": True}],
        publish=True,
    ),
    Case(
        "practice results carry the practice's deprivation quintile",
        indicator(numerator=EMERGENCY),
        [pop("P1", 100), pop("P2", 100)],
        [emergency("P1")],
        [{"organisation": "P1", "period": "2024-01", "imd_quintile": 1, **_rate(1, 100)},
         {"organisation": "P2", "period": "2024-01", "imd_quintile": None, **_rate(0, 100)}],
        deprivation=[{"organisation": "P1", "imd_score": 45.2, "imd_quintile": 1}],
    ),
]
