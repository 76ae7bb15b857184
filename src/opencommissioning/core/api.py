"""The organisations API (read-only): the directory as JSON."""

from __future__ import annotations

import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import paginate

from opencommissioning.api_auth import RequirePermission

from . import queries
from .permissions import Perm

router = Router(tags=["Organisations"])


class OrganisationOut(Schema):
    ods_code: str
    name: str
    kind: str
    parent_ods_code: str | None
    open_date: datetime.date | None
    close_date: datetime.date | None
    postcode: str

    @staticmethod
    def resolve_parent_ods_code(obj: object) -> str | None:
        parent = getattr(obj, "parent", None)
        return parent.ods_code if parent else None


class Problem(Schema):
    detail: str


@router.get(
    "/organisations",
    response=list[OrganisationOut],
    auth=RequirePermission(Perm.VIEW_ORGANISATIONS),
    summary="Search the organisation directory",
)
@paginate
def list_organisations(
    request: HttpRequest, q: str = "", kind: str = "", include_closed: bool = False
) -> object:
    """Organisations whose name contains `q` or whose ODS code starts with it."""
    return queries.search_organisations(q, kind=kind, include_closed=include_closed)


@router.get(
    "/organisations/{ods_code}",
    response={200: OrganisationOut, 404: Problem},
    auth=RequirePermission(Perm.VIEW_ORGANISATIONS),
    summary="One organisation by its ODS code",
)
def get_organisation(request: HttpRequest, ods_code: str) -> object:
    organisation = queries.organisation_by_code(ods_code)
    if organisation is None:
        return Status(404, {"detail": f"No organisation has the code {ods_code}"})
    return organisation
