"""Indicator values from published aggregate counts (QOF registers by CCG, RTT pathways by
CCG, A&E attendances by trust): the indicator's own method applied to counts someone else
has already made, so a real England or peer comparator is computed exactly as a local
value would be.

Only methods that need nothing but a numerator and a denominator can be applied:
``proportion`` (Wilson) and ``crude_rate`` (Byar's / exact Poisson). A DSR, ISR or mean
needs counts by age band or the spread of values, which published totals do not carry;
such rows are an error naming the indicator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import methods
from .assessment import VALUES_SCHEMA
from .catalogue import Indicator

#: The values schema, plus the publication each row came from.
PUBLISHED_VALUES_SCHEMA = pa.schema([*VALUES_SCHEMA, pa.field("source", pa.string())])


class PublishedCountsInvalid(ValueError):
    """Published counts that cannot be turned into an indicator's values."""


def with_england(published: pa.Table, code: str = "ENG") -> pa.Table:
    """The published counts plus, for each indicator, level and period, an England row
    (level ``england``) pooling every organisation's counts - right when the
    organisations cover England once, as CCGs and NHS trusts do."""
    if published.num_rows == 0:
        return published
    grouped = published.group_by(["indicator_id", "level", "period"]).aggregate(
        [("numerator", "sum"), ("denominator", "sum"), ("source", "min")])
    n = grouped.num_rows
    england = pa.table({
        "indicator_id": grouped["indicator_id"], "level": pa.array(["england"] * n, pa.string()),
        "organisation": pa.array([code] * n, pa.string()), "period": grouped["period"],
        "numerator": grouped["numerator_sum"], "denominator": grouped["denominator_sum"],
        "source": pc.binary_join_element_wise(grouped["source_min"],
                                              pa.array([f"(England: every {lvl} added up)" for lvl in
                                                        grouped["level"].to_pylist()], pa.string()), " "),
    }).cast(published.schema)
    return pa.concat_tables([published, england])


def published_values(indicators: Sequence[Indicator], published: pa.Table) -> pa.Table:
    """The values of every indicator that has published counts, as
    :data:`PUBLISHED_VALUES_SCHEMA` (``period_kind`` is ``month`` for ``YYYY-MM`` periods
    and ``span`` otherwise). Raises :class:`PublishedCountsInvalid` listing every problem."""
    by_id = {i.id: i for i in indicators}
    problems: list[str] = []
    parts: list[pa.Table] = []
    ids = sorted(set(published["indicator_id"].to_pylist())) if published.num_rows else []
    for ident in ids:
        ind = by_id.get(ident)
        if ind is None:
            problems.append(f"indicator {ident!r} is not in the catalogue")
            continue
        if ind.method not in ("proportion", "crude_rate"):
            problems.append(f"indicator {ident!r} is a {ind.method}: published totals cannot give it "
                            "(it needs counts by age band)")
            continue
        rows = published.filter(pc.equal(published["indicator_id"], ident))
        num = np.asarray(rows["numerator"].to_numpy(zero_copy_only=False), dtype=np.float64)
        den = np.asarray(rows["denominator"].to_numpy(zero_copy_only=False), dtype=np.float64)
        if ind.method == "proportion" and np.any(num > den):
            i = int(np.flatnonzero(num > den)[0])
            problems.append(f"indicator {ident!r}: numerator {num[i]:g} exceeds denominator {den[i]:g} for "
                            f"{rows['organisation'][i].as_py()} {rows['period'][i].as_py()}")
            continue
        intervals: list[methods.ProportionResult | methods.RateResult] = []
        for conf in (ind.confidence, 0.998):
            if ind.method == "proportion":
                intervals.append(methods.proportion(num, den, confidence=conf, multiplier=ind.multiplier))
            else:
                intervals.append(methods.rate(num, den, confidence=conf, multiplier=ind.multiplier))
        main, wide = intervals
        suppressed = np.zeros(num.size, dtype=bool)
        shown = num.copy()
        if ind.disclosure is not None:
            dc = methods.disclosure_control(num, ind.disclosure.suppress_at_or_below, ind.disclosure.round_to)
            suppressed = np.asarray(dc.suppressed, dtype=bool)
            shown = np.asarray(dc.value, dtype=np.float64)

        def col(x: object, hidden: np.ndarray[Any, np.dtype[np.bool_]] = suppressed) -> pa.Array:
            a = np.asarray(x, dtype=np.float64).copy()
            a[hidden] = np.nan
            return pa.array(a, pa.float64(), from_pandas=True)

        periods = rows["period"].to_pylist()
        n = rows.num_rows
        parts.append(pa.table({
            "indicator_id": pa.array([ident] * n, pa.string()),
            "level": rows["level"],
            "organisation": rows["organisation"],
            "period": rows["period"],
            "numerator": col(shown),
            "denominator": pa.array(den, pa.float64()),
            "value": col(main.value), "lower": col(main.lower), "upper": col(main.upper),
            "confidence": pa.array([ind.confidence] * n, pa.float64()),
            "multiplier": pa.array([ind.multiplier] * n, pa.float64()),
            "method": pa.array([ind.method] * n, pa.string()),
            "polarity": pa.array([ind.polarity] * n, pa.string()),
            "suppressed": pa.array(suppressed, pa.bool_()),
            "imd_quintile": pa.nulls(n, pa.int8()),
            "lower_998": col(wide.lower), "upper_998": col(wide.upper),
            "period_kind": pa.array(["month" if len(p) == 7 else "span" for p in periods], pa.string()),
            "source": rows["source"],
        }, schema=PUBLISHED_VALUES_SCHEMA))
    if problems:
        raise PublishedCountsInvalid(f"{len(problems)} problem(s) with the published counts:\n" +
                                     "\n".join(f"  - {p}" for p in problems))
    if not parts:
        return PUBLISHED_VALUES_SCHEMA.empty_table()
    return pa.concat_tables(parts)
