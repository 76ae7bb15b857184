"""Pages for organisations and people. Thin: reads come from queries, writes from services."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.db import InterfaceError, OperationalError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from . import queries
from .forms import OrganisationSearchForm, SignInForm
from .middleware import database_unavailable_response
from .models import OrganisationKind
from .permissions import SIGNED_IN, Perm, current_roles, public, requires
from .roles import Role


@requires(SIGNED_IN)
def home(request: HttpRequest) -> HttpResponse:
    memberships = request.user.memberships.filter(ended_on__isnull=True).select_related(  # type: ignore[union-attr]
        "organisation"
    )
    return render(
        request,
        "core/home.html",
        {"memberships": memberships, "roles": sorted(Role(r).label for r in current_roles(request.user))},
    )


@requires(Perm.VIEW_ORGANISATIONS)
def organisation_list(request: HttpRequest) -> HttpResponse:
    form = OrganisationSearchForm(request.GET or None)
    query, kind, include_closed = "", "", False
    if form.is_valid():
        query = form.cleaned_data["q"]
        kind = form.cleaned_data["kind"]
        include_closed = form.cleaned_data["include_closed"]
    organisations = queries.search_organisations(query, kind=kind, include_closed=include_closed)
    page = Paginator(organisations, 25).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "core/organisation_list.html",
        {
            "form": form,
            "page": page,
            "query": query,
            "kind": kind,
            "kinds": OrganisationKind.choices,
            "querystring": params.urlencode(),
        },
    )


@requires(Perm.VIEW_ORGANISATIONS)
def organisation_detail(request: HttpRequest, ods_code: str) -> HttpResponse:
    organisation = queries.organisation_by_code(ods_code)
    if organisation is None:
        raise Http404(f"No organisation has the code {ods_code}")
    children = queries.children_of(organisation)
    page = Paginator(children, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "core/organisation_detail.html",
        {
            "organisation": organisation,
            "members": queries.current_members_of(organisation),
            "children_page": page,
            "list_size": queries.latest_list_size(organisation),
            "children_list_size": queries.list_size_of_children(organisation),
        },
    )


@requires(Perm.VIEW_COMPONENTS)
def components(request: HttpRequest) -> HttpResponse:
    """The gallery of every shared component, with sample content."""
    samples = {
        "summary_rows": [
            ("ODS code", "02A"),
            ("Kind", "Commissioner"),
            ("Registered patients", "236,000"),
        ],
        "table_head": ["Practice", "ODS code", "Registered patients"],
        "table_rows": [
            ["Example Medical Centre", "P91003", "11,204"],
            ["Riverside Surgery", "P91004", "7,932"],
        ],
        "errors": [
            {"text": "Enter the name or ODS code", "href": "#q"},
            {"text": "Row 12, column close_date: the close date is before the open date", "href": "#"},
        ],
        "breadcrumbs": [("Home", "/"), ("Organisations", "/organisations/")],
        "page": Paginator(range(1, 101), 10).get_page(2),
        "chart": _sample_funnel(),
    }
    return render(request, "core/components.html", {"samples": samples})


def _sample_funnel() -> dict[str, Any]:
    """A funnel plot of made-up practices (limits and flags from the analytics package)."""
    import altair as alt
    import numpy as np

    from opencommissioning.analytics.methods import funnel_limits, funnel_significance

    from .charts import funnel

    names = ["Example Medical Centre", "Riverside Surgery", "Hillside Practice", "Canal Street Surgery"]
    events, sizes = np.array([30.0, 20.0, 9.0, 60.0]), np.array([11204.0, 7932.0, 3100.0, 9800.0])
    flags = funnel_significance("rate", events, sizes, multiplier=1000)
    grid = np.geomspace(2500, 12500, 40)
    limits = funnel_limits("rate", grid, float(flags.target), multiplier=1000)
    points = [{"x": x, "value": 1000 * e / x, "flag": str(f), "name": n, "href": ""}
              for n, e, x, f in zip(names, events, sizes, flags.flag, strict=True)]
    return funnel(points=points, grid=list(grid), lower_95=list(limits.lower_95), upper_95=list(limits.upper_95),
                  lower_998=list(limits.lower_998), upper_998=list(limits.upper_998), target=float(flags.target),
                  x_title="Registered patients", y_title="Per 1,000 patients", title="A sample funnel plot",
                  tooltip=[alt.Tooltip("name:N", title="Practice")])


@public
@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except (OperationalError, InterfaceError):
        return JsonResponse({"status": "unavailable", "database": "down"}, status=503)
    return JsonResponse({"status": "ok", "database": "up"})


class SignInView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True


sign_in = public(SignInView.as_view())
sign_out = public(auth_views.LogoutView.as_view())


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "errors/csrf.html", {"reason": reason}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception.args[0]) if exception and exception.args and isinstance(exception.args[0], str) else ""
    return render(request, "errors/404.html", {"message": message}, status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.html", {}, status=403)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/400.html", {}, status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    """500, or 503 when the cause was the database going away. Renders without the database."""
    error: Any = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        return database_unavailable_response(error)
    from django.template.loader import render_to_string

    return HttpResponse(render_to_string("errors/500.html"), status=500)
