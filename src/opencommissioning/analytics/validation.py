"""Check a table someone wants to load against the data model, every row and column at once.

:func:`read_table` reads a CSV or Parquet file as text columns; :func:`check_table` tests
every cell (type, vocabulary, shape of codes and months, ranges, duplicates) and returns
every problem found, each naming the row (as a spreadsheet shows it for CSV: the header
is row 1; for Parquet the first row is 1), the column and the reason, together with the
table cast to the data model's Arrow schema when there is no problem. Vectorised with
Arrow compute, so a few million rows check in seconds; only the first ``limit``
problems are kept in full, but every problem is counted.

Nothing here writes anything: loading is the caller's business (all or nothing).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .datamodel import LEVELS, LOADABLE, REQUIRED_COLUMNS, Column, arrow_schema

#: ODS codes (and the local codes some extracts use): letters and digits, 3 to 10.
CODE = r"^[A-Z0-9]{3,10}$"
PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
SPAN = r"^[0-9]{4}-(0[1-9]|1[0-2])(/[0-9]{4}-(0[1-9]|1[0-2]))?$"
INTEGER = r"^-?[0-9]+$"
NUMBER = r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

CODE_COLUMNS = {"organisation", "practice", "commissioner", "provider"}
#: (low, high) inclusive bounds for numeric columns; None is unbounded.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "count": (0, None), "imd_score": (0, 100), "imd_quintile": (1, 5), "rural": (0, 1),
    "ae_department_type": (1, 3), "ae_minutes": (0, None), "rtt_days": (0, None),
    "length_of_stay": (0, None), "items": (0, None), "cost": (0, None),
    "numerator": (0, None), "denominator": (0, None),
}
#: Rows that must be unique, per table.
UNIQUE: dict[str, tuple[str, ...]] = {
    "population": ("organisation", "period", "sex", "age_band"),
    "deprivation": ("organisation",),
    "published": ("indicator_id", "level", "organisation", "period"),
}


@dataclass(frozen=True)
class Problem:
    row: int | None
    column: str
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "header"
        return f"{where}, column {self.column}: {self.reason}" if self.column else f"{where}: {self.reason}"


@dataclass
class CheckedTable:
    """The outcome of :func:`check_table`. ``table`` is None when there is any problem."""

    name: str
    rows: int
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    table: pa.Table | None = None
    periods: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    counts_by_setting: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0


class _Problems:
    def __init__(self, limit: int, first_row: int) -> None:
        self.limit = limit
        self.first_row = first_row
        self.items: list[Problem] = []
        self.count = 0

    def header(self, column: str, reason: str) -> None:
        self.count += 1
        if len(self.items) < self.limit:
            self.items.append(Problem(None, column, reason))

    def rows(self, mask: np.ndarray[Any, np.dtype[np.bool_]], column: str,
             reason: Callable[[int], str]) -> None:
        bad = np.flatnonzero(mask)
        self.count += int(bad.size)
        room = self.limit - len(self.items)
        for i in bad[:max(room, 0)]:
            self.items.append(Problem(int(i) + self.first_row, column, reason(int(i))))


class UnreadableFile(ValueError):
    """The file cannot be read as a table at all (not CSV/Parquet, broken rows)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems[:5]))


def read_table(path: Path | str, *, file_format: str | None = None) -> tuple[pa.Table, int]:
    """A file as a table of text columns (``None`` for empty cells) and the row number of
    its first data row (2 for CSV, whose header is row 1; 1 for Parquet). Raises
    :class:`UnreadableFile` naming every row that has the wrong number of cells."""
    p = Path(path)
    fmt = (file_format or p.suffix.lstrip(".")).lower()
    if fmt == "parquet":
        try:
            table = pq.read_table(p)
        except (pa.ArrowInvalid, OSError) as exc:
            raise UnreadableFile([Problem(None, "", f"not a readable Parquet file ({exc})")]) from None
        cols = {}
        for name in table.column_names:
            col = table[name]
            if pa.types.is_date(col.type) or pa.types.is_timestamp(col.type):
                col = pc.strftime(col.cast(pa.timestamp("s")), format="%Y-%m-%d")
            cols[name] = col.cast(pa.string())
        return pa.table(cols) if cols else pa.table({}), 1
    if fmt != "csv":
        raise ValueError(f"{p.name}: a load must be a .csv or .parquet file, not {fmt or 'no extension'!r}")
    try:
        with p.open(newline="", encoding="utf-8-sig") as handle:
            names = next(csv.reader(handle), [])
    except UnicodeDecodeError:
        raise UnreadableFile([Problem(None, "", "the file is not UTF-8 text")]) from None
    if not names:
        raise UnreadableFile([Problem(None, "", "the file is empty: it needs a header row")])
    broken: list[Problem] = []

    def bad_row(row: Any) -> str:
        number = getattr(row, "number", None)
        broken.append(Problem(number if isinstance(number, int) and number > 0 else None, "",
                              f"the row has {getattr(row, 'actual_columns', '?')} cells; "
                              f"the header has {getattr(row, 'expected_columns', len(names))}"))
        return "skip"

    try:
        table = pacsv.read_csv(
            p,
            read_options=pacsv.ReadOptions(encoding="utf-8", use_threads=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=True, null_values=[""]),
            parse_options=pacsv.ParseOptions(invalid_row_handler=bad_row),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise UnreadableFile([Problem(None, "", f"not a readable CSV file ({exc})")]) from None
    if broken:
        raise UnreadableFile(broken)
    # a UTF-8 byte-order mark ends up in the first column's name
    table = table.rename_columns([n.lstrip("\ufeff").strip() for n in table.column_names])
    return table, 2


def _mask(x: pa.ChunkedArray | pa.Array) -> np.ndarray[Any, np.dtype[np.bool_]]:
    arr = x.combine_chunks() if isinstance(x, pa.ChunkedArray) else x
    return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _value(col: pa.Array) -> Callable[[int], str]:
    return lambda i: repr(col[i].as_py())


def _matches(col: pa.Array, pattern: str) -> pa.Array:
    return pc.match_substring_regex(col, pattern)


def _check_column(name: str, spec: Column, col: pa.Array, required: bool, problems: _Problems) -> pa.Array:
    """Problems with one column; returns the column cast to its Arrow type (nulls where bad)."""
    col = pc.utf8_trim_whitespace(col)
    empty = pc.or_kleene(pc.is_null(col), pc.equal(col, ""))
    present = pc.invert(empty)
    if required:
        problems.rows(_mask(empty), name, lambda i: "is empty (every row needs it)")
    if name in CODE_COLUMNS:
        col = pc.utf8_upper(col)
    ok: pa.Array = present
    if spec.kind == "integer":
        ok = pc.and_(present, _matches(col, INTEGER))
        problems.rows(_mask(pc.and_(present, pc.invert(ok))), name, lambda i: f"{col[i].as_py()!r} is not a whole number")
    elif spec.kind == "number":
        ok = pc.and_(present, _matches(col, NUMBER))
        problems.rows(_mask(pc.and_(present, pc.invert(ok))), name, lambda i: f"{col[i].as_py()!r} is not a number")
    elif spec.kind == "date":
        parsed = pc.strptime(pc.if_else(pc.and_(present, _matches(col, DATE)), col, None), format="%Y-%m-%d",
                             unit="s", error_is_null=True)
        ok = pc.is_valid(parsed)
        problems.rows(_mask(pc.and_(present, pc.invert(ok))), name,
                      lambda i: f"{col[i].as_py()!r} is not a date written YYYY-MM-DD")
    elif name == "period":
        ok = pc.and_(present, _matches(col, SPAN if spec.description.startswith("'YYYY-MM', or") else PERIOD))
        problems.rows(_mask(pc.and_(present, pc.invert(ok))), name,
                      lambda i: f"{col[i].as_py()!r} is not a month written YYYY-MM")
    elif spec.values is not None:
        ok = pc.and_(present, pc.is_in(col, value_set=pa.array(spec.values)))
        problems.rows(_mask(pc.and_(present, pc.invert(ok))), name,
                      lambda i: f"{col[i].as_py()!r} is not one of {', '.join(spec.values or ())}")
    elif name in CODE_COLUMNS:
        ok = pc.and_(present, _matches(col, CODE))
        problems.rows(_mask(pc.and_(present, pc.invert(ok))), name,
                      lambda i: f"{col[i].as_py()!r} is not an ODS code (3 to 10 letters and digits)")
    elif name == "level":
        ok = pc.and_(present, pc.is_in(col, value_set=pa.array(LEVELS)))
        problems.rows(_mask(pc.and_(present, pc.invert(ok))), name,
                      lambda i: f"{col[i].as_py()!r} is not one of {', '.join(LEVELS)}")
    good = pc.if_else(ok, col, None)
    if spec.kind == "date":
        return pc.cast(pc.strptime(good, format="%Y-%m-%d", unit="s", error_is_null=True), pa.date32())
    if spec.kind in ("integer", "number"):
        as_float = pc.cast(good, pa.float64())
        low, high = RANGES.get(name, (None, None))
        if low is not None:
            problems.rows(_mask(pc.less(as_float, low)), name, lambda i: f"{col[i].as_py()} is below {low:g}")
        if high is not None:
            problems.rows(_mask(pc.greater(as_float, high)), name, lambda i: f"{col[i].as_py()} is above {high:g}")
        if spec.kind == "integer":
            if pa.types.is_int8(spec.arrow):
                as_float = pc.if_else(pc.and_(pc.greater_equal(as_float, -128), pc.less_equal(as_float, 127)),
                                      as_float, None)
            return pc.cast(as_float, spec.arrow)
        return as_float
    return pc.cast(good, spec.arrow)


def check_table(name: str, table: pa.Table, *, first_row: int = 2, limit: int = 1000) -> CheckedTable:
    """Every problem with ``table`` (text columns, as :func:`read_table` gives) as the data
    model's ``name`` table; the typed table when there is none."""
    if name not in LOADABLE:
        raise ValueError(f"unknown table {name!r} (one of {', '.join(LOADABLE)})")
    spec = LOADABLE[name]
    problems = _Problems(limit, first_row)
    result = CheckedTable(name=name, rows=table.num_rows)
    columns = list(table.column_names)
    for column in REQUIRED_COLUMNS[name]:
        if column not in columns:
            problems.header(column, f"required column missing (a {name} table has "
                                    f"{', '.join(REQUIRED_COLUMNS[name])})")
    for column in columns:
        if column not in spec:
            problems.header(column, f"not a column of the {name} table (known: {', '.join(spec)})")
    seen = [c for c in columns if c in spec]
    if len(set(columns)) != len(columns):
        for column in sorted({c for c in columns if columns.count(c) > 1}):
            problems.header(column, "appears more than once in the header")
    if table.num_rows == 0:
        problems.header("", "the file has no data rows")
    typed: dict[str, pa.Array] = {}
    if problems.count == 0 or table.num_rows:
        for column in seen:
            raw = table[column].combine_chunks().cast(pa.string())
            typed[column] = _check_column(column, spec[column], raw, column in REQUIRED_COLUMNS[name], problems)
    n = table.num_rows
    if name == "activity" and "period" in typed and "activity_date" in typed:
        month = pc.strftime(pc.cast(typed["activity_date"], pa.timestamp("s")), format="%Y-%m")
        differs = _mask(pc.not_equal(month, typed["period"]))
        problems.rows(differs, "activity_date",
                      lambda i: f"{typed['activity_date'][i].as_py()} is not in the period {typed['period'][i].as_py()}")
    if name == "published" and "numerator" in typed and "denominator" in typed:
        zero = _mask(pc.equal(typed["denominator"], 0.0))
        problems.rows(zero, "denominator", lambda i: "must be greater than 0")
    key = UNIQUE.get(name)
    if key and all(k in typed for k in key) and n:
        joined = pc.binary_join_element_wise(*[pc.cast(typed[k], pa.string()).fill_null("") for k in key], "\x1f")
        codes, first = np.unique(np.asarray(joined.to_numpy(zero_copy_only=False), dtype=object),
                                 return_index=True, return_inverse=False)[0:2]
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        firsts = dict(zip(codes.tolist(), (first + first_row).tolist(), strict=True))
        keys = joined
        problems.rows(dup, ", ".join(key),
                      lambda i: f"the same {', '.join(key)} as row {firsts[keys[i].as_py()]}")
    result.problems = problems.items
    result.problem_count = problems.count
    if result.ok:
        schema = arrow_schema(name)
        out = {f.name: typed[f.name] if f.name in typed else pa.nulls(n, f.type) for f in schema}
        result.table = pa.table(out, schema=schema)
        if "period" in typed:
            result.periods = sorted(pc.unique(typed["period"]).drop_null().to_pylist())
        org_col = {"activity": "practice"}.get(name, "organisation")
        result.organisations = sorted(pc.unique(typed[org_col]).drop_null().to_pylist())
        if name in ("activity", "published"):  # rows by setting, or by indicator for published counts
            vc = pc.value_counts(typed["setting" if name == "activity" else "indicator_id"]).to_pylist()
            result.counts_by_setting = {str(v["values"]): int(v["counts"]) for v in vc}
    return result
