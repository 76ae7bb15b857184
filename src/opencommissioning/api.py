"""The HTTP API: one NinjaAPI, deny-by-default, with its OpenAPI page at /api/docs."""

from ninja import NinjaAPI

from opencommissioning.api_auth import DenyAll
from opencommissioning.core.api import router as organisations_router
from opencommissioning.core.permissions import PUBLIC
from opencommissioning.needs.api import router as needs_router
from opencommissioning.referrals import api as referrals_api

api = NinjaAPI(
    title="OpenCommissioning API",
    version="1",
    description=(
        "The HTTP API of OpenCommissioning. Every endpoint names the permission it needs; "
        "an endpoint that names none is closed. Sign in through /accounts/login/ for a session."
    ),
    auth=DenyAll(),
    urls_namespace="api",
)
api.add_router("/", organisations_router)
api.add_router("/", needs_router)
referrals_api.install(api)  # /api/fhir/ServiceRequest (practice tokens)


def urls() -> tuple[list[object], str, str]:
    """The API's URL patterns, each marked for the access-control middleware.

    The OpenAPI schema and its page are public; every endpoint is left to the API's own
    authentication (deny by default, see ``api_auth``).
    """
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        callback = pattern.callback  # type: ignore[attr-defined]
        if pattern.name in {"openapi-json", "openapi-view", "api-root"}:  # type: ignore[attr-defined]
            callback.oc_permission = PUBLIC
        else:
            callback.oc_api_endpoint = True
    return patterns, app_name, namespace
