"""Every URL pattern, every role: access exactly as this one matrix declares.

A new page cannot appear without someone deciding here who may see it: a URL pattern
missing from MATRIX fails ``test_every_url_pattern_is_in_the_matrix``.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from opencommissioning.core.roles import Role

EVERYONE = frozenset({None, *Role.values})  # None is the public (no sign-in)
SIGNED_IN = frozenset(Role.values)
AUDIT_READERS = frozenset({Role.AUDITOR, Role.COMMISSIONING_MANAGER})

# route -> (who may, method, sample path, status when allowed). The status may be a pair:
# (for the public, for someone signed in).
MATRIX: dict[str, tuple[frozenset, str, str, int | tuple[int, int]]] = {
    "healthz": (EVERYONE, "get", "/healthz", 200),
    "accounts/login/": (EVERYONE, "get", "/accounts/login/", (200, 302)),  # signed in: sent home
    "accounts/logout/": (EVERYONE, "post", "/accounts/logout/", 302),
    "api/": (EVERYONE, "get", "/api/", 404),  # django-ninja's root: points to the docs
    "api/openapi.json": (EVERYONE, "get", "/api/openapi.json", 200),
    "api/docs": (EVERYONE, "get", "/api/docs", 200),
    "api/organisations": (SIGNED_IN, "get", "/api/organisations", 200),
    "api/organisations/<ods_code>": (SIGNED_IN, "get", "/api/organisations/02A", 200),
    "audit/": (AUDIT_READERS, "get", "/audit/", 200),
    "public/": (EVERYONE, "get", "/public/", 200),
    "": (SIGNED_IN, "get", "/", 200),
    "organisations/": (SIGNED_IN, "get", "/organisations/", 200),
    "organisations/<str:ods_code>/": (SIGNED_IN, "get", "/organisations/02A/", 200),
    "components/": (SIGNED_IN, "get", "/components/", 200),
}


def url_routes(patterns=None, prefix=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            yield from url_routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def test_every_url_pattern_is_in_the_matrix():
    routes = set(url_routes())
    assert routes - set(MATRIX) == set(), "decide who may see these pages: add them to MATRIX"
    assert set(MATRIX) - routes == set(), "these pages are gone: remove them from MATRIX"


@pytest.mark.django_db
@pytest.mark.parametrize("route", sorted(MATRIX))
@pytest.mark.parametrize("role", [None, *sorted(Role.values)], ids=lambda r: r or "public")
def test_access(route, role, client_as):
    allowed_roles, method, path, ok_status = MATRIX[route]
    response = getattr(client_as(role), method)(path)
    if isinstance(ok_status, tuple):
        ok_status = ok_status[0] if role is None else ok_status[1]
    if role in allowed_roles:
        assert response.status_code == ok_status, f"{role or 'the public'} should reach {path}"
        return
    if path.startswith("/api/"):
        assert response.status_code == 401, f"{role or 'the public'} must be refused {path}"
    elif role is None:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == 403, f"{role} must be refused {path}"
        assert b"You do not have permission" in response.content


def test_a_view_that_declares_no_permission_is_refused(rf, people):
    from opencommissioning.core.middleware import AccessControlMiddleware

    def undeclared(request):  # a page someone forgot to decide about
        raise AssertionError("must never run")

    request = rf.get("/new-page/")
    request.user = people[Role.AUDITOR]
    response = AccessControlMiddleware(lambda r: None).process_view(request, undeclared, (), {})
    assert response is not None and response.status_code == 403
