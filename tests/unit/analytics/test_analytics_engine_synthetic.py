"""Synthetic England is deterministic for a seed and has the data model's shape."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from opencommissioning.analytics.datamodel import arrow_schema
from opencommissioning.analytics.synthetic import LIST_SIZES, synthesise

DATA = Path(os.environ.get("OPENCOMMISSIONING_DATA_DIR", "/work/shared/data"))
pytestmark = pytest.mark.skipif(not (DATA / LIST_SIZES).is_file(), reason="real data folder not available")


def test_synthesise_is_deterministic_and_shaped_like_the_data_model(tmp_path: Path) -> None:
    metas = [synthesise(tmp_path / name, practices=40, rows=20_000, months=2, seed=7, data_dir=DATA,
                        chunk_rows=5_000) for name in ("a", "b")]
    assert metas[0] == metas[1]
    assert abs(metas[0]["rows_written"] - 20_000) < 1_000
    tables = [ds.dataset(tmp_path / name / "activity", format="parquet").to_table() for name in ("a", "b")]
    assert tables[0].equals(tables[1])
    assert tables[0].schema.equals(arrow_schema("activity"))
    population = ds.dataset(tmp_path / "a" / "population", format="parquet").to_table()
    assert population.schema.equals(arrow_schema("population"))
    assert population.num_rows == 40 * 2 * 19 * 2
    assert set(tables[0]["setting"].to_pylist()) >= {"admission", "prescription", "register"}


def test_the_synthesise_progress_bar_ends_at_100_percent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--rows is approximate (people and events are drawn at random): the bar's total
    becomes the rows written, so it ends at 100% whether the draw fell short or went over."""
    from opencommissioning.analytics import cli

    assert cli.main(["synthesise", "--practices", "40", "--rows", "20000", "--months", "2", "--seed", "7",
                     "--data-dir", str(DATA), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    written = int(captured.out.split()[0])
    assert written != 20_000  # approximate, as --help says
    last = captured.err.replace("\r", "\n").strip().splitlines()[-1]
    assert "100%" in last, last
    assert "approximate" in cli.build_parser()._subparsers._group_actions[0].choices["synthesise"].format_help()


def test_emergency_admissions_are_near_englands_rate(tmp_path):
    """England: about 108 emergency admissions per 1,000 residents a year (6.02 million in
    2017/18, HES, over ONS mid-2017 population 55.6 million); the generator was at 150."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from opencommissioning.analytics.synthetic import made_up_practices, synthesise

    codes = [f"P{i:05d}" for i in range(40)]
    synthesise(tmp_path, fraction=0.05, months=12, start="2024-04", kinds=["emergency"], seed=11,
               made_up=made_up_practices(codes, "00X"))
    act = ds.dataset(tmp_path / "activity", format="parquet").to_table(columns=["admission_method"])
    events = pc.sum(pc.equal(act["admission_method"], "emergency")).as_py()
    person_months = pc.sum(ds.dataset(tmp_path / "population", format="parquet").to_table(columns=["count"])["count"]).as_py()
    assert 90 <= events / person_months * 12 * 1000 <= 125
