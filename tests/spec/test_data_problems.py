"""Problems in the data end in one clear message naming the file (or folder), table and
column, on every engine - never in an engine's own traceback (DuckDB's "schema mismatch
in glob", Ibis's type error) or, on Spark, in a silently null column."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from spec_cases import EMERGENCY, act, emergency, indicator, pop

from opencommissioning.analytics import datamodel
from opencommissioning.analytics.catalogue import from_documents
from opencommissioning.analytics.engines import DataSource, Engine, MissingData
from opencommissioning.analytics.runner import run_catalogue

ASTHMA = {"table": "activity", "where": {**EMERGENCY["where"], "icd10": {"starts_with": ["J45"]}}}
AE = indicator(id="ae_within_4_hours", method="proportion", multiplier=100, level="provider",
               denominator={"table": "activity", "where": {"setting": "ae_attendance"}},
               numerator={"where": {"ae_minutes": {"le": 240}}})


def _folder(tmp_path: Path, may: pa.Table, june: pa.Table) -> Path:
    for month, table in (("2024-05", may), ("2024-06", june)):
        (tmp_path / "activity" / month).mkdir(parents=True)
        pq.write_table(table, tmp_path / "activity" / month / "part-00000.parquet")
    pq.write_table(datamodel.from_rows("population", [pop("P1", 1000, period="2024-05"),
                                                       pop("P1", 1000, period="2024-06")]),
                   tmp_path / "population.parquet")
    return tmp_path


def test_a_column_missing_from_one_months_files_is_named(tmp_path: Path, engine: Engine) -> None:
    may = datamodel.from_rows("activity", [emergency(period="2024-05", icd10="J450")])
    june = datamodel.from_rows("activity", [emergency(period="2024-06", icd10="J450")]).drop_columns(["icd10"])
    data = _folder(tmp_path, may, june)
    indicators = from_documents([("asthma.yaml", indicator(id="asthma", numerator=ASTHMA))])
    with pytest.raises(MissingData) as caught:
        run_catalogue(indicators, engine, DataSource.from_folder(data))
    message = str(caught.value)
    assert message.startswith("1 problem(s) with the data")
    assert (f"activity: column 'icd10' is missing from 1 of 2 file(s): "
            f"{data / 'activity' / '2024-06' / 'part-00000.parquet'}") in message
    assert "'asthma'" in message


def test_a_column_stored_as_the_wrong_type_is_named(tmp_path: Path, engine: Engine) -> None:
    rows = [act(setting="ae_attendance", ae_minutes=100), act(setting="ae_attendance", ae_minutes=300)]
    good = datamodel.from_rows("activity", [{**r, "period": "2024-05"} for r in rows])
    text = datamodel.from_rows("activity", [{**r, "period": "2024-06"} for r in rows])
    i = text.schema.get_field_index("ae_minutes")
    text = text.set_column(i, "ae_minutes", text["ae_minutes"].cast(pa.string()))
    data = _folder(tmp_path, good, text)
    with pytest.raises(MissingData) as caught:
        run_catalogue(from_documents([("ae.yaml", AE)]), engine, DataSource.from_folder(data))
    message = str(caught.value)
    assert (f"activity: column 'ae_minutes' is stored as string in 1 of 2 file(s): "
            f"{data / 'activity' / '2024-06' / 'part-00000.parquet'}; the data model holds whole numbers") in message


def test_a_data_folder_that_does_not_exist_is_one_message(tmp_path: Path, engine: Engine) -> None:
    from opencommissioning.analytics.catalogue import load_catalogue

    with pytest.raises(MissingData) as caught:
        run_catalogue(load_catalogue(), engine, DataSource.from_folder(tmp_path / "nowhere"))
    assert str(caught.value) == (f"the data folder {tmp_path / 'nowhere'} was not found (it should hold "
                                 f"population/, activity/ and deprivation/)")
