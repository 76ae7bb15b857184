"""The server as deployed: gunicorn.conf.py and the WSGI module's warm-up."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gunicorn_serves_the_wsgi_application_preloaded_with_processes():
    values: dict = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), values)  # noqa: S102 - our own configuration file
    assert values["wsgi_app"] == "opencommissioning.wsgi:application"
    assert values["preload_app"] is True and values["worker_class"] == "sync" and values["workers"] >= 2


def test_the_wsgi_module_warms_up_without_opening_a_database_connection():
    """Preloaded in gunicorn's master, the warm-up must never leave a connection open to be
    shared by forked workers; it builds the FHIR validators and imports every view."""
    code = (
        "import sys, opencommissioning.wsgi\n"
        "from django.db import connections\n"
        "assert all(c.connection is None for c in connections.all()), 'a connection was left open'\n"
        "assert 'opencommissioning.referrals.api' in sys.modules and 'opencommissioning.governance.views' in sys.modules\n"
        "assert 'fhir.resources.R4B.documentreference' in sys.modules\n"
        "from opencommissioning.referrals.fhir import warm_up\n"
        "assert warm_up() == 2, 'the warm-up examples should be one refused and two accepted'\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "opencommissioning.settings", "OPENCOMMISSIONING_ENV": "test"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
