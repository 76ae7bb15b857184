"""``opencommissioning-analytics``: validate a catalogue, run it, synthesise data.

    opencommissioning-analytics validate --catalogue DIR
    opencommissioning-analytics run --catalogue DIR --data DIR --engine duckdb|spark --out results.parquet [--exact]
    opencommissioning-analytics synthesise --practices 6500 --rows N --months M --seed S --out DIR
    opencommissioning-analytics sql --catalogue DIR --data DIR      (the SQL DuckDB runs)

``run`` publishes: every figure passes through its indicator's disclosure rule, so no
value can be worked back to an exact count. ``run --exact`` writes exact counts and
values for internal analysis only - NOT FOR PUBLICATION (the file's metadata says so).

``synthesise --rows N`` is approximate: people and events are drawn at random, so the
number of activity rows written is near N (typically within about 1%), not exactly N;
the count written is printed and recorded in OUT/metadata.json.

Exit status: 0 on success, 2 for a bad catalogue or missing or malformed data (every
problem is listed on stderr, naming the file, the indicator and the field or column).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from .catalogue import STARTER, CatalogueInvalid, load_catalogue, validate_folder
from .engines.base import MissingData


def _validate(args: argparse.Namespace) -> int:
    indicators, errors = validate_folder(args.catalogue)
    if errors:
        print(f"{len(errors)} error(s) in {args.catalogue}:", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 2
    print(f"{len(indicators)} indicators in {args.catalogue}: all valid")
    return 0


def _run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .compiler import compile_catalogue
    from .engines import DataSource, get_engine
    from .runner import run_catalogue

    indicators = load_catalogue(args.catalogue)
    data = DataSource.from_folder(args.data)
    options: dict[str, object] = {}
    if args.engine == "spark" and args.spark_master:
        options["master"] = args.spark_master
    if args.engine == "duckdb":
        options.update(memory_limit=args.memory_limit, threads=args.threads)
    engine = get_engine(args.engine, **options)
    plans = compile_catalogue(indicators).plans
    start = time.perf_counter()
    with tqdm(total=len(plans), unit="query", desc=f"{len(indicators)} indicators on {args.engine}",
              file=sys.stderr, disable=args.quiet) as bar:
        def step(message: str) -> None:
            bar.set_postfix_str(message)
            bar.update(1)

        try:
            results = run_catalogue(indicators, engine, data, progress=step, publish=not args.exact)
        except MissingData as exc:
            print(str(exc), file=sys.stderr)
            return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(results, out)
    print(f"{results.num_rows} rows for {len(indicators)} indicators written to {out} "
          f"in {time.perf_counter() - start:.1f} s"
          + (" - EXACT figures, not for publication" if args.exact else " (disclosure control applied)"))
    engine.close()
    return 0


def _sql(args: argparse.Namespace) -> int:
    from .compiler import compile_catalogue
    from .engines import DataSource
    from .engines.duckdb import DuckDBEngine

    indicators = load_catalogue(args.catalogue)
    engine = DuckDBEngine()
    plans = compile_catalogue(indicators).plans
    for plan, expr in zip(plans, engine.expressions(plans, DataSource.from_folder(args.data)), strict=True):
        print(f"-- {plan.table} by {plan.level}{' and age band' if plan.by_age else ''}"
              f"{': distinct people' if plan.persons else ''}")
        print(engine.sql(expr), end=";\n\n")
    return 0


def _synthesise(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .synthetic import synthesise

    with tqdm(total=args.rows, unit="row", unit_scale=True, desc="synthetic England", file=sys.stderr,
              disable=args.quiet) as bar:
        meta = synthesise(args.out, practices=args.practices, rows=args.rows, months=args.months,
                          seed=args.seed, start=args.start, data_dir=args.data_dir, progress=bar.update)
        # --rows is approximate: the bar's total becomes the rows actually written, so it
        # ends at 100% whether the draw fell short of the request or passed it
        bar.total = bar.n
        bar.refresh()
    print(f"{meta['rows_written']} activity rows, {meta['practices']} practices, "
          f"{len(meta['months'])} months written to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opencommissioning-analytics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check every indicator file and list every error")
    v.add_argument("--catalogue", type=Path, default=STARTER)
    v.set_defaults(func=_validate)
    r = sub.add_parser("run", help="run a catalogue on Parquet data")
    r.add_argument("--catalogue", type=Path, default=STARTER)
    r.add_argument("--data", type=Path, required=True, help="folder with population/, activity/, deprivation/")
    r.add_argument("--engine", choices=["duckdb", "spark", "reference"], default="duckdb")
    r.add_argument("--spark-master", help="e.g. spark://host:7077 (default local[2] or $SPARK_MASTER)")
    r.add_argument("--memory-limit", help="DuckDB: e.g. 8GB; beyond it DuckDB spills to disk "
                   "(default 3GB, or $OPENCOMMISSIONING_DUCKDB_MEMORY_LIMIT)")
    r.add_argument("--threads", type=int, help="DuckDB: worker threads (default: one per core)")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--exact", action="store_true",
                   help="exact counts and values, no disclosure control: for internal analysis only, "
                   "NOT FOR PUBLICATION (by default every figure passes through its indicator's "
                   "disclosure rule)")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=_run)
    q = sub.add_parser("sql", help="print the SQL the DuckDB engine runs for a catalogue")
    q.add_argument("--catalogue", type=Path, default=STARTER)
    q.add_argument("--data", type=Path, required=True)
    q.set_defaults(func=_sql)
    s = sub.add_parser("synthesise", help="write synthetic England as Parquet")
    s.add_argument("--practices", type=int, default=6500)
    s.add_argument("--rows", type=int, default=10_000_000,
                   help="about how many activity rows to write: approximate, since people and events "
                   "are drawn at random (typically within about 1%%; the count written is printed "
                   "and recorded in metadata.json)")
    s.add_argument("--months", type=int, default=12)
    s.add_argument("--seed", type=int, default=2024)
    s.add_argument("--start", default="2024-04", help="first month, YYYY-MM")
    s.add_argument("--data-dir", type=Path, default=None,
                   help="real data files (default $OPENCOMMISSIONING_DATA_DIR)")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_synthesise)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except CatalogueInvalid as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (FileNotFoundError, MissingData) as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
