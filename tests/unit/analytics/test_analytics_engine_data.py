"""The DuckDB engine runs on DuckDB's current Python API, and the command line turns data
problems into one clear message and exit status 2."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from opencommissioning.analytics import cli
from opencommissioning.analytics.catalogue import load_catalogue
from opencommissioning.analytics.datamodel import AGE_BANDS, from_rows
from opencommissioning.analytics.engines import DataSource, get_engine
from opencommissioning.analytics.runner import run_catalogue


def _data(folder: Path) -> Path:
    """A small Parquet folder with a row for every setting, two months."""
    activity, population = [], []
    for month in ("2024-05", "2024-06"):
        common = {"period": month, "practice": "P10001", "commissioner": "C01", "sex": "F"}
        rows = [
            {**common, "setting": "admission", "admission_method": "emergency", "icd10": "J450",
             "provider": "R1", "length_of_stay": 3, "age_band": "0-4", "person_id": "a"},
            {**common, "setting": "admission", "admission_method": "elective", "rtt_days": 100,
             "provider": "R1", "age_band": "70-74", "person_id": "b"},
            {**common, "setting": "ae_attendance", "ae_minutes": 200, "ae_department_type": 1,
             "provider": "R1", "age_band": "40-44", "person_id": "c"},
            {**common, "setting": "outpatient_referral", "treatment_function": "110", "provider": "R1",
             "age_band": "40-44", "person_id": "d"},
            {**common, "setting": "outpatient_attendance", "rtt_days": 50, "provider": "R1",
             "age_band": "40-44", "person_id": "e"},
            {**common, "setting": "prescription", "bnf": "0501013K0AAAAAA", "items": 2, "age_band": "40-44",
             "person_id": "f"},
            {**common, "setting": "register", "register": "DM", "age_band": "70-74", "person_id": "g"},
        ]
        activity += rows
        population += [{"organisation": "P10001", "commissioner": "C01", "period": month, "sex": "F",
                        "age_band": band, "count": 100} for band in AGE_BANDS]
    for month in ("2024-05", "2024-06"):
        (folder / "activity" / month).mkdir(parents=True)
        pq.write_table(from_rows("activity", [r for r in activity if r["period"] == month]),
                       folder / "activity" / month / "part-00000.parquet")
    (folder / "population").mkdir()
    pq.write_table(from_rows("population", population), folder / "population" / "population.parquet")
    return folder


@pytest.mark.filterwarnings("error::DeprecationWarning")
def test_the_duckdb_engine_uses_no_deprecated_duckdb_api(tmp_path: Path) -> None:
    """Ibis 12 calls DuckDB's deprecated ``fetch_arrow_table()`` whenever it reads a Parquet
    table's schema; the engine runs the SQL through DuckDB's own current API instead."""
    data = DataSource.from_folder(_data(tmp_path))
    engine = get_engine("duckdb")
    try:
        results = run_catalogue(load_catalogue(), engine, data)
    finally:
        engine.close()
    assert results.num_rows and set(results["indicator_id"].to_pylist()) >= {"emergency_admissions_rate",
                                                                              "ae_4_hours_all_types"}
    reference = run_catalogue(load_catalogue(), get_engine("reference"), data)
    assert results.to_pylist() == reference.to_pylist()


def test_cli_data_problems_are_one_message_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "out.parquet")
    assert cli.main(["run", "--data", str(tmp_path / "nowhere"), "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"the data folder {tmp_path / 'nowhere'} was not found (it should hold population/, "
                   f"activity/ and deprivation/)"]
    data = _data(tmp_path / "data")
    june = data / "activity" / "2024-06" / "part-00000.parquet"
    table = pq.read_table(june)
    i = table.schema.get_field_index("ae_minutes")
    pq.write_table(table.set_column(i, "ae_minutes", table["ae_minutes"].cast(pa.string())), june)
    assert cli.main(["run", "--data", str(data), "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"activity: column 'ae_minutes' is stored as string in 1 of 2 file(s): {june}" in err
    assert "Traceback" not in err
    assert cli.main(["sql", "--data", str(tmp_path / "nowhere")]) == 2


def test_one_duckdb_engine_runs_folders_and_in_memory_tables_in_turn(tmp_path: Path) -> None:
    """As the needs assessment does (the months from the folder, then spans and groupings
    from relabelled in-memory tables): each run reads its own data, never a table a
    previous run registered under the same name."""
    folder = DataSource.from_folder(_data(tmp_path))
    memory = DataSource(tables={name: folder.arrow(name) for name in ("population", "activity")})
    one = DataSource(tables={"population": memory.tables["population"].slice(0, 19),
                             "activity": memory.tables["activity"].slice(0, 7)})
    indicators = load_catalogue()
    reference = get_engine("reference")
    engine = get_engine("duckdb")
    try:
        for data in (folder, one, folder, memory, one):
            assert run_catalogue(indicators, engine, data).to_pylist() == \
                run_catalogue(indicators, reference, data).to_pylist()
    finally:
        engine.close()
