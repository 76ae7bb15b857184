"""The compiler's shortcuts: the conditions an engine may test before grouping, and
distinct-person counts in a plan of their own."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from opencommissioning.analytics.catalogue import Condition, load_catalogue
from opencommissioning.analytics.compiler import (
    Measure,
    compile_catalogue,
    condition_matches,
    necessary_conditions,
)

SETTING_A = Condition("setting", "equals", ("admission",))
EMERGENCY = Condition("admission_method", "equals", ("emergency",))
ELECTIVE = Condition("admission_method", "in", ("elective", "other"))
ICD = Condition("icd10", "starts_with", ("J45", "E10"))


def count(*where: Condition) -> Measure:
    return Measure("count", None, where)


def test_a_condition_every_measure_shares_is_kept_and_listed_values_are_pooled() -> None:
    got = necessary_conditions([count(SETTING_A, EMERGENCY, ICD), count(SETTING_A, ELECTIVE)])
    assert SETTING_A in got
    assert Condition("admission_method", "in", ("elective", "emergency", "other")) in got
    assert ICD not in got  # only one measure needs it


def test_nothing_is_necessary_when_some_measure_counts_every_row() -> None:
    assert necessary_conditions([count(SETTING_A), count()]) == ()
    assert necessary_conditions([]) == ()


def test_a_column_only_some_measures_restrict_is_not_used() -> None:
    got = necessary_conditions([count(SETTING_A, EMERGENCY), count(Condition("setting", "equals", ("register",)))])
    assert got == (Condition("setting", "in", ("admission", "register")),)


def test_two_lists_on_one_column_in_one_measure_intersect() -> None:
    narrow = count(Condition("setting", "in", ("admission", "register")), Condition("setting", "equals", ("admission",)))
    got = necessary_conditions([narrow, count(Condition("setting", "equals", ("prescription",)))])
    assert got == (Condition("setting", "in", ("admission", "prescription")),)


def test_the_starter_catalogue_counts_people_in_plans_of_their_own() -> None:
    compiled = compile_catalogue(load_catalogue())
    persons = [p for p in compiled.plans if p.persons]
    assert persons, "the QOF prevalence indicators count people"
    for plan in compiled.plans:
        kinds = {m.kind for _, m in plan.measures}
        assert (kinds == {"persons"}) == plan.persons


VALUES: dict[str, list[Any]] = {
    "setting": ["admission", "register", "prescription", None],
    "admission_method": ["elective", "emergency", "other", None],
    "icd10": ["J450", "E101", "I500", None],
}
conditions = st.one_of(
    st.builds(lambda c, v: Condition(c, "equals", (v,)), st.sampled_from(["setting", "admission_method"]),
              st.sampled_from(["admission", "register", "elective", "emergency"])),
    st.builds(lambda c, vs: Condition(c, "in", tuple(vs)), st.sampled_from(["setting", "admission_method"]),
              st.lists(st.sampled_from(["admission", "prescription", "other", "emergency"]), min_size=1,
                       max_size=3, unique=True)),
    st.just(ICD),
    st.just(Condition("icd10", "is_null")),
)
rows = st.fixed_dictionaries({c: st.sampled_from(v) for c, v in VALUES.items()})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(conditions, max_size=3).map(lambda w: count(*w)), min_size=1, max_size=4),
       st.lists(rows, max_size=20))
def test_no_row_any_measure_counts_fails_a_necessary_condition(measures: list[Measure],
                                                               data: list[dict[str, Any]]) -> None:
    necessary = necessary_conditions(measures)
    for row in data:
        counted = any(all(condition_matches(c, row.get(c.column)) for c in m.where) for m in measures)
        if counted:
            assert all(condition_matches(c, row.get(c.column)) for c in necessary), (row, necessary)


def test_duckdb_spills_under_the_temporary_folder_never_the_working_directory() -> None:
    import tempfile

    from opencommissioning.analytics.engines.duckdb import DuckDBEngine

    engine = DuckDBEngine(memory_limit="1GB", threads=1)
    try:
        temp, limit, threads = engine.backend.execute(
            "SELECT current_setting('temp_directory'), current_setting('memory_limit'), "
            "current_setting('threads')").fetchone()
    finally:
        engine.close()
    assert temp.startswith(tempfile.gettempdir())
    assert limit.endswith("MiB") or limit.endswith("GiB")
    assert int(threads) == 1
