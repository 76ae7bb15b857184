"""The WSGI application, as gunicorn serves it (``gunicorn.conf.py`` in the checkout).

After Django is set up, :func:`warm_up` imports every URL's view and builds the FHIR
validators, without touching the database, so a server process is ready before its first
request instead of paying for it during one. With ``preload_app`` (gunicorn.conf.py) this
runs once in gunicorn's master and every worker, including one started to replace a worker
that died, is forked warm.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opencommissioning.settings")
application = get_wsgi_application()


def warm_up() -> None:
    from django.db import connections
    from django.urls import get_resolver

    from opencommissioning.referrals import fhir

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and with it every view and API router
    get_resolver()._populate()  # type: ignore[attr-defined]
    fhir.warm_up()
    connections.close_all()  # nothing above opens one; never hand a connection to forked workers


warm_up()
