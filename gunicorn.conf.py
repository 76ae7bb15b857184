"""Gunicorn as OpenCommissioning runs in production: ``gunicorn`` in the checkout reads
this file by itself (or ``gunicorn -c gunicorn.conf.py``). The referral intake benchmark
(``bench/referrals.py``) serves through it, so what is measured is what is deployed.

Every setting can be changed from the environment (``GUNICORN_*``); the defaults are the
ones measured on a 2-core machine (``bench/results/referrals.json``).
"""

import os

wsgi_app = "opencommissioning.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Processes, not threads: a request is CPU work in Python between short database waits,
# and threads in one process share one interpreter lock.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))  # seconds; used by the gthread worker

# Load the application (and warm it up: opencommissioning.wsgi) once in the master, then
# fork: every worker, including one started after a worker died, serves warm at once.
# The master never opens a database connection (the warm-up closes any), so none is
# shared across the fork. Code changes need a restart, not a HUP.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") == "1"

timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None  # off by default; URLs never hold NHS numbers
# No control socket (gunicorn 25.1+ opens one in ~/.gunicorn by default): nothing here uses
# gunicornc, and two servers on one machine would share the one path.
control_socket_disable = True
