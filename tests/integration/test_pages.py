"""Every page through the test client: content, search, errors in the NHS.UK style."""

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from opencommissioning.core import services
from opencommissioning.core.models import OrganisationKind
from opencommissioning.core.roles import Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_sign_in_with_the_right_password_goes_home(people):
    client = Client()
    response = client.post("/accounts/login/", {"username": "auditor", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert b"Auditor" in response.content


def test_a_wrong_password_gets_a_clear_message_and_no_session(people):
    client = Client()
    response = client.post("/accounts/login/", {"username": "auditor", "password": "wrong"})
    assert response.status_code == 200
    assert b"nhsuk-error-summary" in response.content
    assert b"The username or password is not right" in response.content
    assert "_auth_user_id" not in client.session


def test_sign_out_ends_the_session(client_as):
    client = client_as(Role.AUDITOR)
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_navigation_shows_only_what_the_role_may_see(client_as):
    auditor_page = client_as(Role.AUDITOR).get("/").content.decode()
    referrer_page = client_as(Role.REFERRER).get("/").content.decode()
    assert 'href="/audit/"' in auditor_page
    assert 'href="/audit/"' not in referrer_page
    assert 'href="/organisations/"' in referrer_page


def test_home_lists_the_roles_held(client_as, practices):
    page = client_as(Role.REFERRER).get("/").content.decode()
    assert "Referrer (member practice)" in page
    assert practices[0].name in page


def test_directory_searches_by_name_and_by_code(client_as, practices, provider):
    client = client_as(Role.CLINICAL_COMMISSIONER)
    by_name = client.get("/organisations/", {"q": "manchester"}).content.decode()
    assert "Manchester University NHS Foundation Trust" in by_name
    assert "Test Practice 1" not in by_name
    by_code = client.get("/organisations/", {"q": "p9100"}).content.decode()
    assert "Test Practice 1" in by_code and "Test Practice 3" in by_code
    assert "Manchester University" not in by_code


def test_directory_filters_by_kind_and_hides_closed_unless_asked(client_as, commissioner):
    import datetime

    services.create_organisation(
        by=None, ods_code="P91099", name="Closed Surgery", kind=OrganisationKind.PRACTICE,
        parent=commissioner, open_date=datetime.date(1974, 4, 1), close_date=datetime.date(2010, 3, 31),
    )
    client = client_as(Role.CLINICAL_COMMISSIONER)
    assert "Closed Surgery" not in client.get("/organisations/").content.decode()
    assert "Closed Surgery" in client.get("/organisations/", {"include_closed": "on"}).content.decode()
    commissioners = client.get("/organisations/", {"kind": "commissioner"}).content.decode()
    assert "NHS TRAFFORD CCG" in commissioners and "Closed Surgery" not in commissioners


def test_directory_says_when_nothing_matches(client_as, commissioner):
    page = client_as(Role.CLINICAL_COMMISSIONER).get("/organisations/", {"q": "zzzz"}).content.decode()
    assert "No organisations match" in page


def test_organisation_page_shows_members_and_children(client_as, people, practices, commissioner):
    page = client_as(Role.CLINICAL_COMMISSIONER).get("/organisations/02A/").content.decode()
    assert "NHS TRAFFORD CCG" in page
    assert "Test Practice 1" in page and "/organisations/P91001/" in page
    assert "Test auditor" in page  # a member holding a role here
    practice_page = client_as(Role.CLINICAL_COMMISSIONER).get("/organisations/p91001/").content.decode()
    assert "/organisations/02A/" in practice_page  # its parent, linked


def test_an_unknown_organisation_is_a_friendly_404(client_as, commissioner):
    response = client_as(Role.CLINICAL_COMMISSIONER).get("/organisations/ZZZ99/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"Traceback" not in response.content


def test_an_unknown_page_is_a_friendly_404():
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content


def test_component_gallery_shows_every_component(client_as):
    page = client_as(Role.PATIENT_REPRESENTATIVE).get("/components/").content.decode()
    for component in (
        "nhsuk-button", "nhsuk-card", "nhsuk-summary-list", "nhsuk-table", "nhsuk-tag",
        "nhsuk-inset-text", "nhsuk-card--warning", "nhsuk-error-summary", "nhsuk-pagination",
        "nhsuk-breadcrumb", "nhsuk-notification-banner", "nhsuk-details", "nhsuk-back-link",
        "nhsuk-action-link", "nhsuk-panel", 'data-vega-spec="sample-chart-spec"',
    ):
        assert component in page, component


def test_audit_trail_page_verifies_the_chain(client_as, people):
    page = client_as(Role.AUDITOR).get("/audit/", {"verify": "1"}).content.decode()
    assert "every link intact" in page
    assert "membership.start" in page


def test_public_portal_needs_no_sign_in(people):
    page = Client().get("/public/").content.decode()
    assert "NHS TRAFFORD CCG" in page
    assert "Sign in" in page


def test_healthz_reports_the_database():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up"}


def test_healthz_says_503_when_the_database_is_down():
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError("down")):
        response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"


def test_a_page_gets_a_plain_503_when_the_database_goes_away(client_as, commissioner):
    client = client_as(Role.AUDITOR)
    with mock.patch(
        "opencommissioning.core.queries.search_organisations", side_effect=OperationalError("server closed the connection")
    ):
        response = client.get("/organisations/")
    assert response.status_code == 503
    assert b"Sorry, the service is unavailable" in response.content
    assert b"server closed the connection" not in response.content


def test_pages_are_in_the_nhs_style_and_load_nothing_from_outside(client_as):
    page = client_as(Role.AUDITOR).get("/").content.decode()
    assert "/static/vendor/nhsuk/nhsuk-frontend.min.css" in page
    assert "nhsuk-header" in page and "nhsuk-footer" in page
    assert "htmx.min.js" in page
    assert "https://" not in page.replace("https://www.nationalarchives.gov.uk", "")


def test_a_locality_lists_the_practices_placed_in_it(client_as, commissioner, practices):
    locality = services.create_organisation(
        by=None, ods_code="02A-SOU", name="Trafford South locality", kind=OrganisationKind.LOCALITY,
        parent=commissioner, is_local_code=True,
    )
    services.update_organisation(by=None, organisation=practices[0], locality=locality)
    client = client_as(Role.CLINICAL_COMMISSIONER)
    page = client.get("/organisations/02A-SOU/").content.decode()
    assert "Test Practice 1" in page and "Test Practice 2" not in page
    assert "Trafford South locality" in client.get("/organisations/P91001/").content.decode()
