"""The cost of one referral intake inside one process: CPU milliseconds and SQL queries.

The whole request path as gunicorn runs it (Django's WSGI handler, every middleware,
django-ninja, FHIR validation, the service, the audit chain), called directly with a
WSGI environ, against a throwaway PostgreSQL database, with no network and no load
generator in the way. It is the figure to compare before and after a change to the
request path; the HTTP benchmark (``bench/referrals.py``) is the throughput figure.

    python bench/referrals_inprocess.py [PG_SERVER_URL] [--profile FILE]

Prints JSON: ``cpu_ms_per_intake`` (median and mean of this process's CPU time),
``database_cpu_ms_per_intake`` (the PostgreSQL backend's, read from /proc; null when the
database is on another machine), ``wall_ms_per_intake``, ``queries_per_intake`` and the
statements of one intake.
With ``--profile FILE`` also writes a cProfile of the measured intakes to FILE.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

N = int(os.environ.get("BENCH_INPROCESS_INTAKES", "1000"))


def main() -> dict:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    profile_to = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else None
    if profile_to in args:
        args.remove(profile_to)
    pg_server = args[0] if args else "postgres://postgres@127.0.0.1:5432"
    name = f"oc_bench_inproc_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", f"{pg_server}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True, timeout=60)
    os.environ.update({
        "DATABASE_URL": f"{pg_server}/{name}", "OPENCOMMISSIONING_ENV": "production",
        "DJANGO_SECRET_KEY": uuid.uuid4().hex * 2, "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_CONN_MAX_AGE": "60", "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "opencommissioning.settings",
    })
    try:
        return measure(profile_to)
    finally:
        from django.db import connections

        connections.close_all()
        subprocess.run(["psql", f"{pg_server}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False, timeout=60)


def _cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user and system) of a process on this machine: here, the PostgreSQL
    backend; None when the database is on another machine."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(profile_to: str | None) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from django.db import connection
    from referrals import SETUP, body

    call_command("migrate", verbosity=0)
    out = io.StringIO()
    real_stdout, sys.stdout = sys.stdout, out
    try:
        exec(SETUP, {})  # noqa: S102 - the benchmark's own set-up code, shared with bench/referrals.py
    finally:
        sys.stdout = real_stdout
    token = json.loads(out.getvalue().strip().splitlines()[-1])["token"]
    app = get_wsgi_application()

    def post(run: str, i: int) -> int:
        payload = body(run, i)
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/api/fhir/ServiceRequest", "QUERY_STRING": "", "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": "127.0.0.1",
            "CONTENT_TYPE": "application/fhir+json", "CONTENT_LENGTH": str(len(payload)),
            "HTTP_AUTHORIZATION": f"Bearer {token}", "wsgi.input": io.BytesIO(payload), "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False,
            "REMOTE_ADDR": "127.0.0.1",
        }
        status: list[str] = []
        chunks = app(environ, lambda s, h, exc_info=None: status.append(s))
        b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
        return int(status[0].split()[0])

    for i in range(100):  # warm-up: imports, caches, the connection
        assert post("warm", i) == 201
    statements: list[str] = []

    def count(execute, sql, params, many, context):  # noqa: ANN001 - Django's execute_wrapper signature
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        assert post("count", 0) == 201
    one_intake = list(statements)
    statements.clear()
    retry_statements: list[str] = []
    with connection.execute_wrapper(lambda execute, sql, params, many, context: (retry_statements.append(sql), execute(sql, params, many, context))[1]):
        assert post("count", 0) == 200

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    database_before = _cpu_seconds(backend)
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile(time.process_time)
    cpu: list[float] = []
    wall: list[float] = []
    with connection.execute_wrapper(count):
        for i in range(N):
            c0, w0 = time.process_time(), time.perf_counter()
            if profiler:
                profiler.enable()
            status = post("measured", i)
            if profiler:
                profiler.disable()
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            assert status == 201, status
    database_after = _cpu_seconds(backend)
    if profiler and profile_to:
        profiler.dump_stats(profile_to)
    return {
        "intakes": N,
        "cpu_ms_per_intake": {"median": round(statistics.median(cpu) * 1000, 2), "mean": round(statistics.mean(cpu) * 1000, 2)},
        "database_cpu_ms_per_intake": (
            round((database_after - database_before) / N * 1000, 2) if database_before is not None and database_after is not None else None
        ),
        "wall_ms_per_intake": {"median": round(statistics.median(wall) * 1000, 2), "mean": round(statistics.mean(wall) * 1000, 2)},
        "queries_per_intake": round(len(statements) / N, 2),
        "queries_per_retry": len(retry_statements),
        "statements_of_one_intake": [s[:160] for s in one_intake],
    }


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
