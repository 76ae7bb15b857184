"""Referral intake throughput: gunicorn (as in production) on PostgreSQL, loaded from a
separate process over loopback. Prints JSON: referrals accepted per second, p95 latency,
and counts proving none were lost or duplicated, including a run where a worker is
killed mid-load and the clients retry (the same identifier: idempotent).

Run by ``bench/run.py`` (``make bench``); stand-alone: ``python bench/referrals.py PG_SERVER_URL``.
Bounded: a fixed number of requests per run, every wait has a timeout.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REQUESTS = int(os.environ.get("BENCH_REFERRALS", "3000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))

SETUP = """
import datetime, json
from opencommissioning.core import services as core
from opencommissioning.core.models import OrganisationKind
from opencommissioning.referrals import services
from opencommissioning.referrals.specialties import ensure_specialties
ensure_specialties()
ccg = core.create_organisation(by=None, ods_code="02A", name="Bench CCG", kind=OrganisationKind.COMMISSIONER)
practice = core.create_organisation(by=None, ods_code="P91001", name="Bench Practice", kind=OrganisationKind.PRACTICE, parent=ccg)
print(json.dumps({"token": services.issue_practice_token(by=None, practice=practice)[1]}))
"""

COUNT = """
import json
from django.db.models import Count
from opencommissioning.referrals.models import Referral
from opencommissioning.audit.chain import verify
dups = Referral.objects.values("identifier_value").annotate(n=Count("id")).filter(n__gt=1).count()
print(json.dumps({"rows": Referral.objects.count(), "duplicated": dups, "audit_chain_ok": verify().ok}))
"""


def django(env: dict[str, str], code: str) -> dict:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body(run: str, i: int) -> bytes:
    return json.dumps({
        "resourceType": "ServiceRequest",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/UBRN", "value": f"{run}-{i:06d}"}],
        "status": "active", "intent": "order", "priority": "routine",
        "subject": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9912003888"}},
        "performerType": {"coding": [{"system": "https://fhir.nhs.uk/CodeSystem/eRS-Specialty", "code": "DERMATOLOGY"}]},
        "reasonCode": [{"text": "benchmark"}],
    }).encode()


def load(port: int, token: str, run: str, n: int, on_half=None) -> dict:
    """The load generator (runs in its own process): n requests, CONCURRENCY threads,
    each retrying a failed request (same identifier) up to 20 times."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    retries = [0]
    lock = threading.Lock()
    next_index = [0]
    half_fired = [False]

    def worker() -> None:
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
                if on_half and i >= n // 2 and not half_fired[0]:
                    half_fired[0] = True
                    on_half()
            if i >= n:
                return
            payload = body(run, i)
            for _attempt in range(20):
                start = time.perf_counter()
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request("POST", "/api/fhir/ServiceRequest", payload, {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
                    status = conn.getresponse().status
                    conn.close()
                except (OSError, http.client.HTTPException):
                    status = 0
                elapsed = time.perf_counter() - start
                if status in (200, 201):
                    with lock:
                        latencies.append(elapsed)
                        statuses[str(status)] = statuses.get(str(status), 0) + 1
                    break
                with lock:
                    retries[0] += 1
                time.sleep(0.05)

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": n, "accepted": len(latencies), "statuses": statuses, "retries": retries[0],
        "seconds": round(wall, 2), "referrals_per_second": round(len(latencies) / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1) if latencies else None,
    }


def main(pg_server: str) -> dict:
    name = f"oc_bench_ref_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", f"{pg_server}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True, timeout=60)
    env = {**os.environ, "DATABASE_URL": f"{pg_server}/{name}", "OPENCOMMISSIONING_ENV": "production",
           "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2, "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DATABASE_CONN_MAX_AGE": "60",
           "LOG_LEVEL": "WARNING"}
    server = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True, timeout=300)
        token = django(env, SETUP)["token"]
        port = free_port()
        server = subprocess.Popen([str(BIN / "gunicorn"), "opencommissioning.wsgi:application", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
                                   "--graceful-timeout", "5", "--timeout", "30"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        # Warm-up (workers import, connect); not counted.
        run_load(port, token, "warm", 200)
        steady = run_load(port, token, "steady", REQUESTS)
        killed = run_load(port, token, "killed", REQUESTS, kill_parent=server.pid)
        counts = django(env, COUNT)
        expected = 200 + 2 * REQUESTS
        return {
            "server": f"gunicorn, {WORKERS} sync workers, PostgreSQL, loopback", "client": f"separate process, {CONCURRENCY} threads",
            "steady": steady, "worker_killed_mid_load": killed,
            "database": {**counts, "expected_rows": expected, "none_lost_or_duplicated": counts["rows"] == expected and counts["duplicated"] == 0},
            "target_referrals_per_second": 300,
        }
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        subprocess.run(["psql", f"{pg_server}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False, timeout=60)


def run_load(port: int, token: str, run: str, n: int, kill_parent: int | None = None) -> dict:
    """Run :func:`load` in a separate process (the load generator is not the server)."""
    args = [sys.executable, __file__, "--load", str(port), token, run, str(n), str(kill_parent or 0)]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout)


def _kill_one_worker(parent: int) -> None:
    children = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True, check=False).stdout.split()
    if children:
        os.kill(int(children[0]), signal.SIGKILL)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        port, token, run, n, parent = int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
        result = load(port, token, run, n, on_half=(lambda: _kill_one_worker(parent)) if parent else None)
        result["worker_killed"] = bool(parent)
        print(json.dumps(result))
    else:
        print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "postgres://postgres@127.0.0.1:5432"), indent=2))
