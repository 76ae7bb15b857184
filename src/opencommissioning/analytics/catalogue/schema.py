"""The indicator file format, and a validator that reports every error in one pass.

Each error names the file, the indicator and the field (``numerator.where.icd10``), so
a catalogue author can fix them all at once. ``README.md`` (one folder up) documents
the format with an example.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..datamodel import LEVEL_KEYS, TABLES, Column

OUTCOME_DOMAINS: dict[int, str] = {
    1: "Preventing people from dying prematurely",
    2: "Enhancing quality of life for people with long-term conditions",
    3: "Helping people to recover from episodes of ill health or following injury",
    4: "Ensuring that people have a positive experience of care",
    5: "Treating and caring for people in a safe environment and protecting them from avoidable harm",
}
METHODS = ("proportion", "crude_rate", "dsr", "isr", "mean")
POLARITIES = ("high_is_good", "low_is_good", "no_judgement")
OPERATORS = ("equals", "in", "not_in", "starts_with", "lt", "le", "gt", "ge", "between",
             "is_null", "not_null")
ORDERED = ("lt", "le", "gt", "ge", "between")
ACTIVITY_MEASURES = ("count", "persons", "sum", "mean")
REVIEW_STATUSES = ("draft", "reviewed")
REQUIRED = ("id", "title", "why_it_matters", "outcome_domain", "level", "method", "multiplier",
            "polarity", "disclosure", "numerator", "source", "authored_by", "checked_by",
            "review_status", "next_review")
OPTIONAL = ("denominator", "confidence", "definition", "limitations", "unit", "disclosure_reason")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{2,79}$")

Operator = Literal["equals", "in", "not_in", "starts_with", "lt", "le", "gt", "ge", "between",
                   "is_null", "not_null"]
Scalar = str | int | float


@dataclass(frozen=True)
class Condition:
    """``column <op> values``; a condition on a null value is always false (as in SQL)."""

    column: str
    op: Operator
    values: tuple[Scalar, ...] = ()


@dataclass(frozen=True)
class Quantity:
    """What to count: rows of ``table`` meeting every condition in ``where``, measured
    as ``count`` (rows), ``persons`` (distinct person_id), ``sum``/``mean`` of a column,
    or ``people`` (the sum of population ``count``)."""

    table: str
    where: tuple[Condition, ...]
    measure: Literal["count", "persons", "sum", "mean", "people"]
    column: str | None = None


@dataclass(frozen=True)
class Disclosure:
    suppress_at_or_below: int
    round_to: int


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    notes: str = ""


@dataclass(frozen=True)
class Indicator:
    id: str
    title: str
    why_it_matters: str
    outcome_domain: int
    level: str
    method: Literal["proportion", "crude_rate", "dsr", "isr", "mean"]
    multiplier: float
    confidence: float
    polarity: str
    disclosure: Disclosure | None
    numerator: Quantity
    denominator: Quantity | None
    source: Source
    authored_by: str
    checked_by: str
    next_review: dt.date
    path: str = ""
    definition: str = ""
    limitations: str = ""
    unit: str = ""
    #: ``draft`` until a named clinician or analyst has reviewed the definition (then
    #: ``reviewed``, with ``checked_by`` naming them); ``checked_by`` says what check was made
    review_status: str = "draft"
    #: why the figure is not disclosive (required with ``disclosure: none``), or why a
    #: rule other than the usual one was chosen
    disclosure_reason: str = ""

    def columns(self) -> dict[str, set[str]]:
        """Every data-model column this indicator reads, by table."""
        out: dict[str, set[str]] = {}
        for q in (self.numerator, self.denominator):
            if q is None:
                continue
            cols = out.setdefault(q.table, set())
            key = LEVEL_KEYS[q.table][self.level]
            cols.update(c for c in (key, "period") if c)
            cols.update(c.column for c in q.where)
            if q.column:
                cols.add(q.column)
            if q.measure == "persons":
                cols.add("person_id")
            if q.measure == "people":
                cols.add("count")
            if self.method in ("dsr", "isr"):
                cols.add("age_band")
        return out


@dataclass(frozen=True)
class CatalogueError:
    path: str
    indicator: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"indicator {self.indicator!r}" if self.indicator else "file"
        return f"{self.path}: {where}: {self.field}: {self.message}"


class CatalogueInvalid(ValueError):
    """Raised with every error found in a catalogue."""

    def __init__(self, errors: list[CatalogueError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  - {e}" for e in errors)
        super().__init__(f"{len(errors)} error(s) in the indicator catalogue:\n{lines}")


@dataclass
class _Collector:
    path: str
    indicator: str = ""
    errors: list[CatalogueError] = field(default_factory=list)
    #: required fields found missing: reported once as "is required", nothing more
    absent: set[str] = field(default_factory=set)

    def add(self, fld: str, message: str) -> None:
        if fld in self.absent:
            return
        error = CatalogueError(self.path, self.indicator, fld, message)
        if error not in self.errors:  # each problem once
            self.errors.append(error)

    def missing(self, fld: str) -> None:
        self.add(fld, "is required")
        self.absent.add(fld)


def _text(doc: Mapping[str, Any], key: str, err: _Collector, *, required: bool = True) -> str:
    value = doc.get(key)
    if value is None:
        if required:
            err.add(key, "is required")
        return ""
    if not isinstance(value, str) or not value.strip():
        err.add(key, "must be non-empty text")
        return ""
    return value.strip()


def _value_ok(col: Column, value: object) -> str | None:
    if col.kind == "string":
        if not isinstance(value, str):
            return f"{value!r} is not text ({col.name} is a text column)"
        if col.values is not None and value not in col.values:
            return f"{value!r} is not one of {', '.join(col.values)}"
    elif col.kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{value!r} is not a number ({col.name} is numeric)"
        if col.kind == "integer" and isinstance(value, float) and not value.is_integer():
            return f"{value!r} is not a whole number ({col.name} holds integers)"
    else:
        return f"{col.name} is a {col.kind} column and cannot be filtered yet"
    return None


def _condition(table: str, column: str, spec: object, fld: str, err: _Collector) -> Condition | None:
    columns = TABLES[table]
    if column not in columns:
        err.add(fld, f"no column {column!r} in {table} (columns: {', '.join(columns)})")
        return None
    col = columns[column]
    if isinstance(spec, Mapping):
        if len(spec) != 1:
            err.add(fld, f"give exactly one operator ({', '.join(OPERATORS)})")
            return None
        op, raw = next(iter(spec.items()))
    elif isinstance(spec, list):
        op, raw = "in", spec
    else:
        op, raw = "equals", spec
    if op not in OPERATORS:
        err.add(fld, f"unknown operator {op!r} (one of {', '.join(OPERATORS)})")
        return None
    if op in ("is_null", "not_null"):
        if raw is not True:
            err.add(f"{fld}.{op}", "write `true`")
            return None
        return Condition(column, op, ())
    values = list(raw) if isinstance(raw, list) else [raw]
    if not values:
        err.add(f"{fld}.{op}", "needs at least one value")
        return None
    if op == "between" and len(values) != 2:
        err.add(f"{fld}.between", "needs two values: [low, high] (both included)")
        return None
    if op in ("equals", "lt", "le", "gt", "ge") and len(values) != 1:
        err.add(f"{fld}.{op}", "takes one value")
        return None
    if op == "starts_with" and col.kind != "string":
        err.add(f"{fld}.starts_with", f"{column} is not a text column")
        return None
    ok = True
    for v in values:
        if op == "starts_with":
            problem = None if isinstance(v, str) and v else f"{v!r} is not a non-empty prefix"
        elif op in ORDERED and col.kind == "string" and col.values is not None:
            problem = f"{column} has no order; use equals or in"
        else:
            problem = _value_ok(col, v)
        if problem:
            err.add(f"{fld}.{op}" if isinstance(spec, Mapping) else fld, problem)
            ok = False
    if not ok:
        return None
    return Condition(column, op, tuple(values))


def _quantity(doc: object, fld: str, method: str, err: _Collector,
              default_table: str | None = None) -> Quantity | None:
    if not isinstance(doc, Mapping):
        err.add(fld, "must be a mapping with table, where and measure")
        return None
    unknown = set(doc) - {"table", "where", "measure"}
    for key in sorted(unknown):
        err.add(f"{fld}.{key}", "unknown field (table, where, measure)")
    table = doc.get("table", default_table)
    if not isinstance(table, str) or table not in ("activity", "population"):
        err.add(f"{fld}.table", f"must be activity or population, got {table!r}")
        return None
    where_doc = doc.get("where") or {}
    conditions: list[Condition] = []
    if not isinstance(where_doc, Mapping):
        err.add(f"{fld}.where", "must map column names to conditions")
    else:
        for name, spec in where_doc.items():
            c = _condition(table, str(name), spec, f"{fld}.where.{name}", err)
            if c:
                conditions.append(c)
    raw_measure = doc.get("measure", "people" if table == "population" else "count")
    measure: str
    column: str | None = None
    if isinstance(raw_measure, Mapping) and len(raw_measure) == 1:
        raw_name, raw_column = next(iter(raw_measure.items()))
        measure, column = str(raw_name), str(raw_column)
    elif isinstance(raw_measure, str):
        measure = raw_measure
    else:
        err.add(f"{fld}.measure", "must be count, persons, people, {sum: column} or {mean: column}")
        return None
    if table == "population":
        if measure != "people":
            err.add(f"{fld}.measure", "a population is measured in people (the sum of count)")
            return None
    else:
        if measure not in ACTIVITY_MEASURES:
            err.add(f"{fld}.measure", f"must be one of {', '.join(ACTIVITY_MEASURES)}, got {measure!r}")
            return None
        if measure in ("sum", "mean"):
            col = TABLES["activity"].get(column or "")
            if col is None or col.kind not in ("integer", "number"):
                err.add(f"{fld}.measure.{measure}", f"{column!r} is not a numeric activity column")
                return None
        elif column is not None:
            err.add(f"{fld}.measure", f"{measure} takes no column")
            return None
        if (measure == "mean") != (method == "mean" and fld == "numerator"):
            err.add(f"{fld}.measure", "use {mean: column} exactly when the method is mean (numerator)")
            return None
    return Quantity(table, tuple(conditions), measure, column)  # type: ignore[arg-type]


def _number(doc: Mapping[str, Any], key: str, err: _Collector, default: float | None = None) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        err.add(key, "is required and must be a number" if value is None else "must be a number")
        return float("nan")
    return float(value)


def validate_document(doc: object, path: str) -> tuple[Indicator | None, list[CatalogueError]]:
    """Check one parsed YAML document; return the indicator (None if invalid) and
    every error found."""
    err = _Collector(path)
    if not isinstance(doc, Mapping):
        err.add("(document)", "an indicator file must be a YAML mapping")
        return None, err.errors
    ident = doc.get("id")
    err.indicator = ident if isinstance(ident, str) else ""
    if not isinstance(ident, str) or not ID_PATTERN.match(ident):
        err.add("id", "is required: lower-case letters, digits and _, starting with a letter")
    for key in REQUIRED:
        if doc.get(key) is None:
            err.missing(key)
    for key in sorted(set(doc) - set(REQUIRED) - set(OPTIONAL)):
        err.add(key, "unknown field")
    title = _text(doc, "title", err)
    why = _text(doc, "why_it_matters", err)
    domain = doc.get("outcome_domain")
    if domain not in OUTCOME_DOMAINS:
        err.add("outcome_domain", "must be 1-5 (the NHS Outcomes Framework domains)")
    level = doc.get("level")
    if level not in LEVEL_KEYS["activity"]:
        err.add("level", "must be practice, commissioner or provider")
    method = doc.get("method")
    if method not in METHODS:
        err.add("method", f"must be one of {', '.join(METHODS)}")
    multiplier = _number(doc, "multiplier", err)
    if multiplier <= 0:
        err.add("multiplier", "must be positive")
    confidence = _number(doc, "confidence", err, 0.95)
    if not (0.5 <= confidence < 1 or 50 <= confidence < 100):
        err.add("confidence", "must be a fraction (0.95) or a percentage (95)")
    polarity = doc.get("polarity")
    if polarity not in POLARITIES:
        err.add("polarity", f"must be one of {', '.join(POLARITIES)}")
    disclosure: Disclosure | None = None
    raw_disc = doc.get("disclosure")
    disclosure_reason = _text(doc, "disclosure_reason", err, required=False)
    if raw_disc == "none":
        if not disclosure_reason:
            err.add("disclosure", "`none` needs a disclosure_reason saying why the figure is not "
                                  "disclosive; figures from record-level data need a rule such as "
                                  "{suppress_at_or_below: 7, round_to: 5}")
    elif isinstance(raw_disc, Mapping) and set(raw_disc) == {"suppress_at_or_below", "round_to"} and all(
        isinstance(v, int) and not isinstance(v, bool) for v in raw_disc.values()
    ) and raw_disc["suppress_at_or_below"] >= 0 and raw_disc["round_to"] >= 1:
        disclosure = Disclosure(int(raw_disc["suppress_at_or_below"]), int(raw_disc["round_to"]))
    elif "disclosure" in doc:
        err.add("disclosure", "must be {suppress_at_or_below: N, round_to: M} (whole numbers, N >= 0, "
                              "M >= 1), or `none` with a disclosure_reason")
    review_status = doc.get("review_status")
    if review_status is not None and review_status not in REVIEW_STATUSES:
        err.add("review_status", "must be draft (until a named clinician or analyst has reviewed the "
                                 "definition) or reviewed")
    source: Source | None = None
    raw_source = doc.get("source")
    if isinstance(raw_source, Mapping) and isinstance(raw_source.get("name"), str) and isinstance(
        raw_source.get("url"), str
    ) and str(raw_source["url"]).startswith("https://"):
        source = Source(raw_source["name"], raw_source["url"], str(raw_source.get("notes", "")))
    elif "source" in doc:
        err.add("source", "must give name and an https:// url (notes optional)")
    authored = _text(doc, "authored_by", err)
    checked = _text(doc, "checked_by", err)
    if authored and checked and authored.casefold() == checked.casefold():
        err.add("checked_by", "must be someone other than the author")
    review = doc.get("next_review")
    next_review: dt.date | None = None
    if isinstance(review, dt.datetime):
        err.add("next_review", "must be a date (YYYY-MM-DD), not a date and time")
    elif isinstance(review, dt.date):
        next_review = review
    elif isinstance(review, str):
        try:
            next_review = dt.date.fromisoformat(review)
        except ValueError:
            err.add("next_review", f"{review!r} is not a date (YYYY-MM-DD)")
    elif "next_review" in doc:
        err.add("next_review", "must be a date (YYYY-MM-DD)")

    m = str(method)
    denominator: Quantity | None = None
    if "denominator" in doc:
        if m == "mean":
            err.add("denominator", "a mean has no denominator (it divides by the rows counted)")
        else:
            denominator = _quantity(doc["denominator"], "denominator", m, err)
    elif m in METHODS and m != "mean":
        err.add("denominator", f"is required for method {m}")
    default_table = denominator.table if denominator and m == "proportion" else None
    numerator = _quantity(doc.get("numerator"), "numerator", m, err, default_table) if "numerator" in doc else None

    if numerator and level in LEVEL_KEYS["activity"]:
        for fld, q in (("numerator", numerator), ("denominator", denominator)):
            if q and LEVEL_KEYS[q.table][str(level)] is None:
                err.add(f"{fld}.table", f"{q.table} has no {level} column; choose another level")
    if numerator and denominator:
        if m in ("crude_rate", "dsr", "isr") and denominator.table != "population":
            err.add("denominator.table", f"a {m} divides by a population")
        if m in ("dsr", "isr") and numerator.table != "activity":
            err.add("numerator.table", f"a {m} counts activity")
        if m == "proportion":
            if numerator.table == denominator.table:
                # the numerator is the subset of the denominator's rows that also meet
                # its own conditions
                numerator = Quantity(numerator.table, denominator.where + numerator.where,
                                     numerator.measure, numerator.column)
                if numerator.measure != denominator.measure or numerator.column != denominator.column:
                    err.add("numerator.measure", "a proportion counts numerator and denominator alike")
            elif not (numerator.measure == "persons" and denominator.table == "population"):
                err.add("numerator.table", "a proportion across tables must count persons out of a population")
    if err.errors or numerator is None or source is None or next_review is None:
        return None, err.errors
    indicator = Indicator(
        id=str(ident), title=title, why_it_matters=why, outcome_domain=int(str(domain)),
        level=str(level), method=m,  # type: ignore[arg-type]
        multiplier=multiplier, confidence=confidence, polarity=str(polarity),
        disclosure=disclosure, numerator=numerator, denominator=denominator, source=source,
        authored_by=authored, checked_by=checked, next_review=next_review, path=path,
        definition=str(doc.get("definition", "")).strip(),
        limitations=str(doc.get("limitations", "")).strip(), unit=str(doc.get("unit", "")).strip(),
        review_status=str(review_status), disclosure_reason=disclosure_reason,
    )
    return indicator, []
