"""Needs assessment recompute on the demo data: ``make demo``'s data (NHS Trafford CCG's 34
practices, 24 months of synthetic activity for every patient, a national sample and real
published counts), then ``manage.py recompute_needs`` timed in its own process (wall time
and peak RSS). Prints JSON; run by ``bench/run.py`` or stand-alone:
``python bench/needs.py`` (needs the data directory).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPEATS = int(os.environ.get("BENCH_NEEDS_REPEATS", "2"))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="oc-bench-needs-") as folder:
        env = {**os.environ, "OPENCOMMISSIONING_ENV": "demo", "OPENCOMMISSIONING_VAR_DIR": folder}
        env.pop("DATABASE_URL", None)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "manage.py", "load_demo"], cwd=ROOT, env=env, check=True,
                       capture_output=True, text=True, timeout=1800)
        demo_seconds = time.perf_counter() - started
        runs = []
        for _ in range(REPEATS):
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            started = time.perf_counter()
            out = subprocess.run([sys.executable, "manage.py", "recompute_needs"], cwd=ROOT, env=env, check=True,
                                 capture_output=True, text=True, timeout=1800)
            wall = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            match = re.search(r"([\d,]+) values in ([\d.]+) s", out.stdout)
            runs.append({"wall_seconds": round(wall, 2), "service_seconds": float(match.group(2)) if match else None,
                         "values": int(match.group(1).replace(",", "")) if match else None,
                         "peak_rss_mb_any_child": round(max(peak, before) / 1024, 1)})
    print(json.dumps({"load_demo_seconds": round(demo_seconds, 1), "recompute": runs,
                      "command": "manage.py recompute_needs"}, indent=2))


if __name__ == "__main__":
    main()
