import pytest
from django.test import Client

from opencommissioning.core.roles import Role

pytestmark = pytest.mark.django_db


def test_openapi_schema_lists_the_endpoints():
    schema = Client().get("/api/openapi.json").json()
    assert "/api/organisations" in schema["paths"]
    assert "/api/organisations/{ods_code}" in schema["paths"]


def test_the_docs_page_is_served_locally():
    page = Client().get("/api/docs").content.decode()
    assert "swagger" in page.lower()
    assert "cdn.jsdelivr" not in page and "unpkg" not in page


def test_endpoints_refuse_the_public():
    assert Client().get("/api/organisations").status_code == 401


def test_search_and_fetch(client_as, practices):
    client = client_as(Role.REFERRER)
    found = client.get("/api/organisations", {"q": "P9100"}).json()
    assert found["count"] == 3
    assert {o["ods_code"] for o in found["items"]} == {"P91001", "P91002", "P91003"}
    one = client.get("/api/organisations/p91001").json()
    assert one["parent_ods_code"] == "02A"
    missing = client.get("/api/organisations/NOPE1")
    assert missing.status_code == 404 and "NOPE1" in missing.json()["detail"]
