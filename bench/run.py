"""`make bench`: run every benchmark and write JSON results under bench/results/.
``bench/run.py NAME`` runs only one of them: foundation, referrals, analytics or needs
(`make bench-referrals`, `make bench-analytics`, `make bench-needs`).

Each benchmark runs in its own process against a throwaway database (SQLite in a temp
folder, and a PostgreSQL database created and dropped for the run), and reports ratios
against a baseline measured in the same run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PG_SERVER = os.environ.get("BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432")


def run_foundation(database_url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "OPENCOMMISSIONING_ENV": "test"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "foundation.py")], cwd=ROOT, env=env, check=True,
        capture_output=True, text=True,
    )
    sys.stderr.write(out.stderr)
    return json.loads(out.stdout)


def run_referrals() -> None:
    """Referral intake: its cost in one process (bench/referrals_inprocess.py), then its
    throughput under gunicorn on PostgreSQL (bench/referrals.py); each makes and drops its
    database. The machine's load average before and after says what else was running."""
    print("==> referral intake benchmark (in one process, then gunicorn + PostgreSQL, loopback load process)", flush=True)
    load_before = [round(x, 2) for x in os.getloadavg()]
    in_process = subprocess.run([sys.executable, str(ROOT / "bench" / "referrals_inprocess.py"), PG_SERVER], cwd=ROOT, check=True,
                                capture_output=True, text=True, timeout=900)
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "referrals.py"), PG_SERVER], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=1800)
    load_after = [round(x, 2) for x in os.getloadavg()]
    result = {"benchmark": "referrals", "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "load_average_1_5_15_min_before": load_before, "load_average_1_5_15_min_after": load_after},
              **json.loads(out.stdout), "in_process": json.loads(in_process.stdout)}
    path = RESULTS / "referrals.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"Written to {path.relative_to(ROOT)}")


def run_needs() -> None:
    """Recompute of every needs indicator on the demo data (bench/needs.py, its own var dir)."""
    print("==> needs recompute benchmark (demo data, DuckDB)", flush=True)
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "needs.py")], cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=3600)
    result = {"benchmark": "needs", "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count()}, **json.loads(out.stdout)}
    path = RESULTS / "needs.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"Written to {path.relative_to(ROOT)}")


def run_foundation_both() -> None:
    results = {
        "benchmark": "foundation",
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "databases": {},
    }
    with tempfile.TemporaryDirectory() as folder:
        print("==> foundation benchmark on SQLite", flush=True)
        results["databases"]["sqlite"] = run_foundation(f"sqlite:///{folder}/bench.sqlite3")
    name = f"oc_bench_{uuid.uuid4().hex[:8]}"
    print(f"==> foundation benchmark on PostgreSQL (database {name}, dropped afterwards)", flush=True)
    subprocess.run(["psql", f"{PG_SERVER}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    try:
        results["databases"]["postgresql"] = run_foundation(f"{PG_SERVER}/{name}")
    finally:
        subprocess.run(["psql", f"{PG_SERVER}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    path = RESULTS / "foundation.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    print(f"Written to {path.relative_to(ROOT)}")


def run_analytics() -> None:
    print("==> analytics benchmark (synthetic England; writes bench/results/analytics.json)", flush=True)
    subprocess.run([sys.executable, str(ROOT / "bench" / "analytics.py")], cwd=ROOT, check=True)


BENCHMARKS = {"foundation": run_foundation_both, "referrals": run_referrals, "analytics": run_analytics,
              "needs": run_needs}


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    names = sys.argv[1:] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}")
    for name in names:
        BENCHMARKS[name]()


if __name__ == "__main__":
    main()
