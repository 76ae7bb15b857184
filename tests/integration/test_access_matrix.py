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
# Governance (issue 5): services further check committee membership (votes) and who is
# secretary or chair (running a meeting). Detail pages are sampled with an id that does
# not exist: allowed roles get 404 (the view ran), everyone else is refused first.
DECLARERS = frozenset({Role.CLINICAL_COMMISSIONER, Role.COMMISSIONING_MANAGER, Role.SENATE_MEMBER,
                       Role.HWB_MEMBER, Role.PATIENT_REPRESENTATIVE})
MEETING_RUNNERS = frozenset({Role.CLINICAL_COMMISSIONER, Role.COMMISSIONING_MANAGER})
GOVERNANCE_MANAGERS = frozenset({Role.COMMISSIONING_MANAGER})
DECLARATION_STATUS_READERS = frozenset({Role.COMMISSIONING_MANAGER, Role.AUDITOR})
MISSING = 999999
# Referrals (issue 6): each referral is further scoped per practice/commissioner/provider.
REFERRAL_VIEWERS = frozenset({Role.REFERRER, Role.REFERRAL_REVIEWER, Role.PROVIDER})
REFERRAL_FIGURES = frozenset({Role.REFERRER, Role.REFERRAL_REVIEWER, Role.CLINICAL_COMMISSIONER, Role.COMMISSIONING_MANAGER, Role.AUDITOR})
NOBODY = frozenset()  # the FHIR API takes practice tokens, never a session
TOKEN_MANAGERS = frozenset({Role.COMMISSIONING_MANAGER})  # of their own member practices only
_REF = "/referrals/00000000-0000-4000-8000-000000000000"

# Needs and outcomes (issue 4): aggregates for everyone who plans or scrutinises (not
# providers); the analyst loads, recomputes and weights peers; commissioners set targets;
# the health and wellbeing board records priorities (the view also needs a board
# membership, which the matrix's person lacks: 403 from the view itself).
NEEDS_READERS = SIGNED_IN - {Role.PROVIDER}
NEEDS_ANALYST = frozenset({Role.COMMISSIONING_MANAGER})
TARGET_SETTERS = frozenset({Role.CLINICAL_COMMISSIONER, Role.COMMISSIONING_MANAGER})
_IND = "emergency_admissions_rate"

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
    # Governance (issue 5)
    "governance/": (SIGNED_IN, "get", "/governance/", 200),
    "governance/interests/": (SIGNED_IN, "get", "/governance/interests/", 200),
    "governance/interests/new/": (DECLARERS, "get", "/governance/interests/new/", 200),
    "governance/interests/return/": (DECLARERS, "get", "/governance/interests/return/", 200),
    "governance/interests/<int:pk>/end/": (DECLARERS, "get", f"/governance/interests/{MISSING}/end/", 404),
    "governance/gifts-hospitality/": (SIGNED_IN, "get", "/governance/gifts-hospitality/", 200),
    "governance/gifts-hospitality/new/": (DECLARERS, "get", "/governance/gifts-hospitality/new/", 200),
    "governance/overdue/": (DECLARATION_STATUS_READERS, "get", "/governance/overdue/", 200),
    "governance/committees/": (SIGNED_IN, "get", "/governance/committees/", 200),
    "governance/committees/new/": (GOVERNANCE_MANAGERS, "get", "/governance/committees/new/", 200),
    "governance/committees/<int:pk>/": (SIGNED_IN, "get", f"/governance/committees/{MISSING}/", 404),
    "governance/committees/<int:pk>/members/": (MEETING_RUNNERS, "post", f"/governance/committees/{MISSING}/members/", 404),
    "governance/meetings/new/": (MEETING_RUNNERS, "get", "/governance/meetings/new/", 200),
    "governance/meetings/<int:pk>/": (SIGNED_IN, "get", f"/governance/meetings/{MISSING}/", 404),
    "governance/meetings/<int:pk>/attendance/": (MEETING_RUNNERS, "post", f"/governance/meetings/{MISSING}/attendance/", 404),
    "governance/meetings/<int:pk>/items/new/": (MEETING_RUNNERS, "get", f"/governance/meetings/{MISSING}/items/new/", 404),
    "governance/meetings/<int:pk>/close/": (MEETING_RUNNERS, "post", f"/governance/meetings/{MISSING}/close/", 404),
    "governance/items/<int:pk>/": (SIGNED_IN, "get", f"/governance/items/{MISSING}/", 404),
    "governance/items/<int:pk>/evidence/": (MEETING_RUNNERS, "get", f"/governance/items/{MISSING}/evidence/", 404),
    "governance/items/<int:pk>/screen/": (MEETING_RUNNERS, "post", f"/governance/items/{MISSING}/screen/", 404),
    "governance/items/<int:pk>/declare/": (DECLARERS, "post", f"/governance/items/{MISSING}/declare/", 404),
    "governance/items/<int:pk>/vote/": (DECLARERS, "post", f"/governance/items/{MISSING}/vote/", 404),
    "governance/items/<int:pk>/decide/": (MEETING_RUNNERS, "post", f"/governance/items/{MISSING}/decide/", 404),
    "governance/conflicts/<int:pk>/manage/": (MEETING_RUNNERS, "post", f"/governance/conflicts/{MISSING}/manage/", 404),
    "governance/breaches/": (SIGNED_IN, "get", "/governance/breaches/", 200),
    "governance/breaches/new/": (GOVERNANCE_MANAGERS, "get", "/governance/breaches/new/", 200),
    "governance/breaches/<int:pk>/": (SIGNED_IN, "get", f"/governance/breaches/{MISSING}/", 404),
    "governance/breaches/<int:pk>/investigate/": (GOVERNANCE_MANAGERS, "post", f"/governance/breaches/{MISSING}/investigate/", 404),
    "governance/breaches/<int:pk>/close/": (GOVERNANCE_MANAGERS, "post", f"/governance/breaches/{MISSING}/close/", 404),
    "governance/accountability/": (SIGNED_IN, "get", "/governance/accountability/", 200),
    "governance/accountability/new/": (GOVERNANCE_MANAGERS, "get", "/governance/accountability/new/", 200),
    "governance/people/<int:pk>/": (SIGNED_IN, "get", f"/governance/people/{MISSING}/", 404),
    "public/decisions/<int:pk>/": (EVERYONE, "get", f"/public/decisions/{MISSING}/", 404),
    **{
        f"public/registers/{register}{suffix}": (EVERYONE, "get", f"/public/registers/{register}{suffix}", 200)
        for register in ("interests", "gifts-hospitality", "decisions", "breaches")
        for suffix in ("/", ".csv", ".json")
    },
    "api/fhir/ServiceRequest": (NOBODY, "get", "/api/fhir/ServiceRequest", 401),
    "api/fhir/ServiceRequest/<referral_id>": (NOBODY, "get", "/api/fhir/ServiceRequest/x", 401),
    "referrals/": (REFERRAL_VIEWERS, "get", "/referrals/", 200),
    "referrals/new/": (frozenset({Role.REFERRER}), "get", "/referrals/new/", 200),
    "referrals/worklist/": (frozenset({Role.REFERRAL_REVIEWER}), "get", "/referrals/worklist/", 200),
    "referrals/worklist/claim-next/": (frozenset({Role.REFERRAL_REVIEWER}), "post", "/referrals/worklist/claim-next/", 302),
    "referrals/tariffs/": (frozenset({Role.COMMISSIONING_MANAGER}), "get", "/referrals/tariffs/", 200),
    "referrals/tariffs/scheme/": (frozenset({Role.COMMISSIONING_MANAGER}), "post", "/referrals/tariffs/scheme/", 400),
    "referrals/statements/": (REFERRAL_FIGURES, "get", "/referrals/statements/", 200),
    "referrals/statements/<str:ods_code>/<str:month>/": (REFERRAL_FIGURES, "get", "/referrals/statements/P91001/2026-01/", 200),
    "referrals/statements/<str:ods_code>/<str:month>.csv": (REFERRAL_FIGURES, "get", "/referrals/statements/P91001/2026-01.csv", 200),
    "referrals/commissioning/": (REFERRAL_FIGURES, "get", "/referrals/commissioning/", 200),
    "referrals/tokens/": (TOKEN_MANAGERS, "get", "/referrals/tokens/", 200),
    "referrals/tokens/<str:ods_code>/": (TOKEN_MANAGERS, "get", "/referrals/tokens/P91001/", 200),
    "referrals/tokens/<str:ods_code>/<int:pk>/revoke/": (TOKEN_MANAGERS, "get", f"/referrals/tokens/P91001/{MISSING}/revoke/", 404),
    "referrals/commissioning/funnel.<str:fmt>": (REFERRAL_FIGURES, "get", "/referrals/commissioning/funnel.png", 404),  # no referrals: no funnel
    "referrals/commissioning/referrals/": (REFERRAL_FIGURES, "get", "/referrals/commissioning/referrals/", 200),
    "referrals/<uuid:public_id>/": (REFERRAL_VIEWERS, "get", f"{_REF}/", 404),  # scoped: not theirs -> 404
    "referrals/<uuid:public_id>/claim/": (frozenset({Role.REFERRAL_REVIEWER}), "post", f"{_REF}/claim/", 404),
    "referrals/<uuid:public_id>/release/": (frozenset({Role.REFERRAL_REVIEWER}), "post", f"{_REF}/release/", 404),
    "referrals/<uuid:public_id>/route/": (frozenset({Role.REFERRAL_REVIEWER}), "get", f"{_REF}/route/", 404),
    "referrals/<uuid:public_id>/advise/": (frozenset({Role.REFERRAL_REVIEWER}), "get", f"{_REF}/advise/", 404),
    "referrals/<uuid:public_id>/return/": (frozenset({Role.REFERRAL_REVIEWER}), "get", f"{_REF}/return/", 404),
    "referrals/<uuid:public_id>/reply/": (frozenset({Role.REFERRER}), "post", f"{_REF}/reply/", 404),
    "referrals/<uuid:public_id>/convert/": (frozenset({Role.REFERRER}), "post", f"{_REF}/convert/", 404),
    "referrals/<uuid:public_id>/close/": (frozenset({Role.REFERRER}), "post", f"{_REF}/close/", 404),
    "api/needs/indicators": (NEEDS_READERS, "get", "/api/needs/indicators", 200),
    "api/needs/indicators/<indicator_id>/values": (NEEDS_READERS, "get", f"/api/needs/indicators/{_IND}/values", 200),
    "needs/": (NEEDS_READERS, "get", "/needs/", 200),
    "needs/data/": (NEEDS_ANALYST, "get", "/needs/data/", 200),
    "needs/data/<int:pk>/": (NEEDS_ANALYST, "get", f"/needs/data/{MISSING}/", 404),
    "needs/data/<int:pk>/progress/": (NEEDS_ANALYST, "get", f"/needs/data/{MISSING}/progress/", 404),
    "needs/data/<int:pk>/withdraw/": (NEEDS_ANALYST, "post", f"/needs/data/{MISSING}/withdraw/", 404),
    "needs/data/<int:pk>/retry/": (NEEDS_ANALYST, "post", f"/needs/data/{MISSING}/retry/", 404),
    "needs/recompute/": (NEEDS_ANALYST, "post", "/needs/recompute/", 302),
    "needs/recompute/<int:pk>/retry/": (NEEDS_ANALYST, "post", f"/needs/recompute/{MISSING}/retry/", 404),
    "needs/indicators/": (NEEDS_READERS, "get", "/needs/indicators/", 200),
    "needs/indicators/<slug:indicator_id>/": (NEEDS_READERS, "get", f"/needs/indicators/{_IND}/", 200),
    "needs/indicators/<slug:indicator_id>.<str:fmt>": (NEEDS_READERS, "get", f"/needs/indicators/{_IND}.csv", 200),
    "needs/profiles/<str:ods_code>/": (NEEDS_READERS, "get", "/needs/profiles/02A/", 200),
    "needs/profiles/<str:ods_code>/target/": (TARGET_SETTERS, "get", "/needs/profiles/02A/target/", 200),
    "needs/profiles/<str:ods_code>/peers/": (NEEDS_READERS, "get", "/needs/profiles/02A/peers/", 200),
    "needs/variation/<slug:indicator_id>/": (NEEDS_READERS, "get", f"/needs/variation/{_IND}/", 200),
    "needs/charts/<str:kind>/<slug:indicator_id>.<str:fmt>": (NEEDS_READERS, "get", f"/needs/charts/funnel/{_IND}.png", 404),
    "needs/peers/weights/<str:level>/": (NEEDS_ANALYST, "get", "/needs/peers/weights/practice/", 200),
    "needs/priorities/": (NEEDS_READERS, "get", "/needs/priorities/", 200),
    "needs/priorities/new/": (frozenset({Role.HWB_MEMBER}), "get", "/needs/priorities/new/", 403),
    "public/profiles/<str:ods_code>/": (EVERYONE, "get", "/public/profiles/02A/", 200),
    "public/profiles/<str:ods_code>/variation/<slug:indicator_id>/": (EVERYONE, "get", f"/public/profiles/02A/variation/{_IND}/", 200),
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
