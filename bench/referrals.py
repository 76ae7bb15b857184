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
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REQUESTS = int(os.environ.get("BENCH_REFERRALS", "3000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))

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
    killer: threading.Thread | None = None

    def worker() -> None:
        nonlocal killer
        # One connection per client thread, kept open while the server keeps it open
        # (http.client reconnects by itself after the server closes it).
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
                if on_half and i >= n // 2 and not half_fired[0]:
                    half_fired[0] = True
                    killer = threading.Thread(target=on_half)  # not under the lock: the load goes on
                    killer.start()
            if i >= n:
                return
            payload = body(run, i)
            for _attempt in range(20):
                start = time.perf_counter()
                try:
                    conn.request("POST", "/api/fhir/ServiceRequest", payload, {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    conn.close()  # a lost connection (a killed worker): the retry opens a new one
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
    if killer is not None:
        killer.join(timeout=60)
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
        # Served as in production: gunicorn.conf.py (its GUNICORN_* variables pass through).
        server = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        # Warm-up (workers import, connect); not counted.
        run_load(port, token, "warm", 200)
        steady = run_load(port, token, "steady", REQUESTS, server=server.pid, pg=(pg_server, name))
        killed = run_load(port, token, "killed", REQUESTS, kill_parent=server.pid, server=server.pid, pg=(pg_server, name))
        counts = django(env, COUNT)
        expected = 200 + 2 * REQUESTS
        return {
            "server": f"gunicorn (gunicorn.conf.py): {gunicorn_settings()}, PostgreSQL, loopback", "client": f"separate process, {CONCURRENCY} threads",
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


def gunicorn_settings() -> str:
    """The served configuration, as gunicorn.conf.py reads it from this environment."""
    values: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), values)  # noqa: S102 - our own configuration file
    return (f"{values['workers']} {values['worker_class']} workers x {values['threads']} threads, "
            f"preload {'on' if values['preload_app'] else 'off'}")


def _cpu_seconds(pid: int, children: bool = False) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu(parent: int) -> float:
    """CPU seconds of the gunicorn master, its live workers and the workers it has reaped."""
    kids = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True, check=False).stdout.split()
    return _cpu_seconds(parent, children=True) + sum(_cpu_seconds(int(k)) for k in kids)


def database_cpu(pg_server: str, name: str) -> float | None:
    """CPU seconds of the PostgreSQL backends serving the benchmark's database (None when
    the database runs on another machine, where /proc cannot see them)."""
    out = subprocess.run(["psql", f"{pg_server}/postgres", "-Atc", f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}'"],  # noqa: S608 - our own generated name
                         capture_output=True, text=True, check=False, timeout=60).stdout.split()
    if any(not Path(f"/proc/{p}").exists() for p in out):
        return None
    return sum(_cpu_seconds(int(p)) for p in out)


def run_load(port: int, token: str, run: str, n: int, kill_parent: int | None = None, server: int | None = None, pg: tuple[str, str] | None = None) -> dict:
    """Run :func:`load` in a separate process (the load generator is not the server)."""
    args = [sys.executable, __file__, "--load", str(port), token, run, str(n), str(kill_parent or 0), f"{pg[0]}/{pg[1]}" if pg else ""]
    s0 = server_cpu(server) if server else 0.0
    d0 = database_cpu(*pg) if pg else None
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=900)
    result = json.loads(out.stdout)
    client_cpu = result.pop("client_cpu_seconds")
    d1 = database_cpu(*pg) if pg else None
    if server and pg and result["accepted"]:
        per = 1000 / result["accepted"]
        result["cpu_ms_per_referral"] = {
            "server": round((server_cpu(server) - s0) * per, 2),
            # A killed worker's database session ends with it, taking its CPU time along:
            # that run's database figure would be too low, so it is not given.
            "database": None if kill_parent or d0 is None or d1 is None else round((d1 - d0) * per, 2),
            "client": round(client_cpu * per, 2),
        }
    return result


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _worker_holding_the_chain_lock(workers: list[int], db: Any) -> tuple[int, int] | None:
    """(worker, its database session's pid) for the session that holds the audit chain's
    advisory lock: an intake between its audit append and its commit."""
    row = db.execute(
        "SELECT a.pid, a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
    ).fetchone()
    if row is None or row[1] is None:
        return None
    port = f"{int(row[1]):04X}"
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].rsplit(":", 1)[1] == port:
                inode = fields[9]
    if inode is None:
        return None
    worker = next((w for w in workers if inode in _socket_inodes(w)), None)
    return (worker, int(row[0])) if worker is not None else None


def _still_mid_transaction(db: Any, session: int) -> bool:
    """The session still holds the chain's lock and waits for its (stopped) worker."""
    row = db.execute(
        "SELECT a.state FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
        "WHERE a.pid = %s AND l.locktype = 'advisory' AND l.granted", [session]
    ).fetchone()
    return row is not None and row[0] == "idle in transaction"


KILLED: dict[str, object] = {}


def _kill_one_worker(parent: int, database_url: str) -> None:
    """Kill (SIGKILL) a worker in the middle of an intake's transaction. The worker whose
    session holds the audit chain's lock is stopped (SIGSTOP); if its session is then still
    idle in that transaction (written, not committed, waiting for the worker) it is killed,
    otherwise let go (SIGCONT) and another is sought. Any worker is killed if none is caught
    within 5 seconds. ``worker_killed_holding_the_chain_lock`` in the result says which."""
    import psycopg

    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True, check=False).stdout.split()]
    if not workers:
        return
    deadline = time.monotonic() + 5
    with psycopg.connect(database_url, autocommit=True) as db:
        while time.monotonic() < deadline:
            found = _worker_holding_the_chain_lock(workers, db)
            if found is None:
                time.sleep(0.001)
                continue
            worker, session = found
            os.kill(worker, signal.SIGSTOP)
            if _still_mid_transaction(db, session):
                os.kill(worker, signal.SIGKILL)
                KILLED["worker_killed_holding_the_chain_lock"] = True
                return
            os.kill(worker, signal.SIGCONT)
    os.kill(workers[0], signal.SIGKILL)
    KILLED["worker_killed_holding_the_chain_lock"] = False


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        port, token, run, n, parent, database_url = int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
        result = load(port, token, run, n, on_half=(lambda: _kill_one_worker(parent, database_url)) if parent else None)
        result["worker_killed"] = bool(parent)
        result.update(KILLED)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        result["client_cpu_seconds"] = usage.ru_utime + usage.ru_stime
        print(json.dumps(result))
    else:
        print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "postgres://postgres@127.0.0.1:5432"), indent=2))
