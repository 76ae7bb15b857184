"""The indicator catalogue: the schema reports every error at once, and the starter
catalogue is valid, honest and runnable."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from opencommissioning.analytics import cli
from opencommissioning.analytics.catalogue import (
    STARTER,
    CatalogueInvalid,
    from_documents,
    load_catalogue,
    validate_folder,
)
from opencommissioning.analytics.compiler import compile_catalogue
from opencommissioning.analytics.datamodel import from_rows
from opencommissioning.analytics.engines import DataSource, MissingData, get_engine
from opencommissioning.analytics.runner import run_catalogue

GOOD = yaml.safe_load((STARTER / "ae_4_hours_all_types.yaml").read_text())


def test_the_starter_catalogue_has_at_least_twenty_valid_indicators() -> None:
    indicators = load_catalogue()
    assert len(indicators) >= 20
    for ind in indicators:
        assert ind.authored_by != ind.checked_by
        assert ind.source.url.startswith("https://")
        assert ind.why_it_matters and ind.definition
    assert {i.method for i in indicators} == {"proportion", "crude_rate", "dsr", "isr", "mean"}
    assert {i.outcome_domain for i in indicators} == {1, 2, 3, 4, 5}


def test_the_catalogue_compiles_to_a_few_shared_queries() -> None:
    """27 indicators, 12 queries: one per table, level, age grouping, distinct people and
    activity setting; no query mixes settings, so each reads only its own rows."""
    compiled = compile_catalogue(load_catalogue())
    assert len(compiled.plans) <= 12
    for plan in compiled.plans:
        if plan.table == "activity":
            settings = {frozenset(c.values) for _, m in plan.measures for c in m.where if c.column == "setting"}
            assert len(settings) == 1, plan


def test_every_error_in_every_file_is_reported_at_once(tmp_path: Path) -> None:
    bad = {**GOOD, "id": "bad_one", "method": "median", "checked_by": GOOD["authored_by"],
           "next_review": "soon", "colour": "red",
           "denominator": {"table": "activity", "where": {"setting": "admision", "ae_minute": 3}}}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(bad))
    (tmp_path / "b.yaml").write_text("id: [unclosed\n")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({**GOOD, "id": "bad_two", "outcome_domain": 9,
                                                     "numerator": {"where": {"ae_minutes": {"le": "x"}}}}))
    _, errors = validate_folder(tmp_path)
    found = {(Path(e.path).name, e.field) for e in errors}
    assert {("a.yaml", "method"), ("a.yaml", "checked_by"), ("a.yaml", "next_review"),
            ("a.yaml", "colour"), ("a.yaml", "denominator.where.setting"),
            ("a.yaml", "denominator.where.ae_minute"), ("b.yaml", "(YAML)"),
            ("c.yaml", "outcome_domain"), ("c.yaml", "numerator.where.ae_minutes.le")} <= found
    message = str(CatalogueInvalid(errors))
    assert "a.yaml: indicator 'bad_one': denominator.where.setting: 'admision' is not one of" in message


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(CatalogueInvalid, match="also used by first.yaml"):
        from_documents([("first.yaml", GOOD), ("second.yaml", GOOD)])


def test_a_level_the_table_cannot_give_is_refused() -> None:
    doc = {**GOOD, "method": "crude_rate", "denominator": {"table": "population"},
           "numerator": {"table": "activity"}}
    with pytest.raises(CatalogueInvalid, match="population has no provider column"):
        from_documents([("x.yaml", doc)])


def test_missing_columns_name_the_file_indicator_and_column() -> None:
    indicators = from_documents([("ae.yaml", GOOD)])
    activity = from_rows("activity", []).drop_columns(["ae_minutes"])
    with pytest.raises(MissingData, match=r"ae.yaml: indicator 'ae_4_hours_all_types': column 'ae_minutes' is missing from activity"):
        run_catalogue(indicators, get_engine("reference"), DataSource(tables={"activity": activity}))


def test_cli_validate_and_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate"]) == 0
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.yaml").write_text(yaml.safe_dump({**GOOD, "polarity": "up"}))
    assert cli.main(["validate", "--catalogue", str(tmp_path / "bad")]) == 2
    assert "x.yaml: indicator 'ae_4_hours_all_types': polarity" in capsys.readouterr().err
    data = tmp_path / "data"
    data.mkdir()
    import pyarrow.parquet as pq

    pq.write_table(from_rows("activity", [{"provider": "R1", "period": "2024-01", "setting": "ae_attendance",
                                           "ae_minutes": 100, "ae_department_type": 1}]),
                   data / "activity.parquet")
    pq.write_table(from_rows("population", []), data / "population.parquet")
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "ae.yaml").write_text(yaml.safe_dump(GOOD))
    out = tmp_path / "results.parquet"
    assert cli.main(["run", "--catalogue", str(tmp_path / "one"), "--data", str(data),
                     "--engine", "duckdb", "--out", str(out), "--quiet"]) == 0
    rows = pq.read_table(out).to_pylist()
    # published by default: one attendance is a count of 1-7, suppressed
    assert [(r["organisation"], r["value"], r["suppressed"]) for r in rows] == [("R1", None, True)]
    assert cli.main(["run", "--catalogue", str(tmp_path / "one"), "--data", str(data),
                     "--engine", "duckdb", "--out", str(out), "--quiet", "--exact"]) == 0
    exact = pq.read_table(out)
    assert [(r["organisation"], r["value"]) for r in exact.to_pylist()] == [("R1", 100.0)]
    assert b"NOT FOR PUBLICATION" in exact.schema.metadata[b"opencommissioning.disclosure"]
    pq.write_table(from_rows("activity", []).drop_columns(["ae_minutes"]), data / "activity.parquet")
    assert cli.main(["run", "--catalogue", str(tmp_path / "one"), "--data", str(data),
                     "--out", str(out), "--quiet"]) == 2
    assert "column 'ae_minutes' is missing from activity" in capsys.readouterr().err


def test_an_impossible_date_is_reported_with_the_files_other_errors(tmp_path: Path) -> None:
    """PyYAML raises ValueError for 2027-13-40 (it looks like a date); the validator reports
    it against next_review with every other error, and the other files are still read."""
    text = (STARTER / "ae_4_hours_all_types.yaml").read_text()
    bad = text.replace("next_review: 2027-06-30", "next_review: 2027-13-40").replace("polarity: high_is_good",
                                                                                      "polarity: up")
    assert bad != text
    (tmp_path / "a.yaml").write_text(bad)
    (tmp_path / "b.yaml").write_text(text.replace("id: ae_4_hours_all_types", "id: second_one"))
    indicators, errors = validate_folder(tmp_path)
    assert [i.id for i in indicators] == ["second_one"]
    assert {(Path(e.path).name, e.indicator, e.field) for e in errors} == {
        ("a.yaml", "ae_4_hours_all_types", "next_review"), ("a.yaml", "ae_4_hours_all_types", "polarity")}
    assert "'2027-13-40' is not a date (YYYY-MM-DD)" in str(CatalogueInvalid(errors))
    assert cli.main(["validate", "--catalogue", str(tmp_path)]) == 2


def test_each_problem_is_reported_once(tmp_path: Path) -> None:
    doc = {k: v for k, v in GOOD.items() if k not in ("checked_by", "level", "multiplier", "polarity")}
    (tmp_path / "x.yaml").write_text(yaml.safe_dump({**doc, "review_status": None}))
    _, errors = validate_folder(tmp_path)
    fields = [e.field for e in errors]
    assert sorted(fields) == ["checked_by", "level", "multiplier", "polarity", "review_status"]
    assert {e.message for e in errors} == {"is required"}


def test_disclosure_none_needs_a_written_reason() -> None:
    with pytest.raises(CatalogueInvalid, match="disclosure: `none` needs a disclosure_reason"):
        from_documents([("x.yaml", {**GOOD, "disclosure": "none"})])
    ind, = from_documents([("x.yaml", {**GOOD, "disclosure": "none",
                                       "disclosure_reason": "published elsewhere as exact national totals"})])
    assert ind.disclosure is None and ind.disclosure_reason.startswith("published elsewhere")
    with pytest.raises(CatalogueInvalid, match="disclosure: must be"):
        from_documents([("x.yaml", {**GOOD, "disclosure": {"suppress_at_or_below": 7, "round_to": 0}})])


def test_every_starter_indicator_has_a_disclosure_rule_and_is_an_honest_draft() -> None:
    for ind in load_catalogue():
        assert ind.disclosure is not None, ind.id
        assert (ind.disclosure.suppress_at_or_below, ind.disclosure.round_to) == (7, 5), ind.id
        # nobody named has reviewed the definitions yet: no invented reviewers
        assert ind.review_status == "draft", ind.id
        assert "not yet reviewed by a clinician" in ind.checked_by and "reviewer" not in ind.checked_by, ind.id
    with pytest.raises(CatalogueInvalid, match="review_status: must be draft"):
        from_documents([("x.yaml", {**GOOD, "review_status": "approved"})])


def test_qof_diabetes_prevalence_counts_the_ages_of_the_register() -> None:
    """QOF's diabetes register (DM017) holds patients aged 17 or over; five-year bands give
    15+ for the register. The denominator is the whole list, as in the QOF 2013-14 figures
    by CCG that the needs assessment loads as the real comparator, and the text says so."""
    ind, = [i for i in load_catalogue() if i.id == "qof_prevalence_diabetes"]
    assert ind.denominator is not None
    ages = [c for c in ind.numerator.where if c.column == "age_band"]
    assert ages and set(ages[0].values) == {"0-4", "5-9", "10-14"} and ages[0].op == "not_in"
    assert not [c for c in ind.denominator.where if c.column == "age_band"]
    assert "17 or over" in ind.limitations and "15 and over" in ind.definition
    assert "whole registered list" in " ".join(ind.limitations.split())
    for other in ("qof_prevalence_hypertension", "qof_prevalence_copd", "qof_prevalence_atrial_fibrillation"):
        ind, = [i for i in load_catalogue() if i.id == other]
        assert "no age rule" in " ".join(ind.limitations.split()), other
