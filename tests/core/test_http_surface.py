"""Admin, REST API, schema, Swagger UI and the dashboard are all served, with auth."""

import pytest

pytestmark = pytest.mark.django_db


def test_api_root_refuses_anonymous_with_json_error(client):
    response = client.get("/api/")
    assert response.status_code in {401, 403}
    assert response.json()["error"] == "Authentication credentials were not provided."


def test_api_root_accepts_token_auth(api_client):
    assert api_client.get("/api/").status_code == 200


def test_api_refuses_bad_token_with_json_error(client):
    response = client.get("/api/", HTTP_AUTHORIZATION="Token not-a-real-token")
    assert response.status_code == 401
    assert response.json()["error"] == "Invalid token."


def test_api_accepts_session_auth(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/api/").status_code == 200


def test_non_staff_token_is_forbidden(client, django_user_model):
    from rest_framework.authtoken.models import Token

    user = django_user_model.objects.create_user("viewer", password="viewer-pass-123")
    token = Token.objects.create(user=user)
    response = client.get("/api/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 403


def test_openapi_schema_is_served_to_staff(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Contexten control plane API"


def test_openapi_schema_refuses_anonymous(client):
    assert client.get("/api/schema/").status_code in (401, 403)


def test_swagger_ui_sends_anonymous_to_the_login(client):
    response = client.get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_swagger_ui_is_served_to_staff(client, staff_user):
    client.force_login(staff_user)
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content


def test_admin_requires_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_admin_index_served_to_staff(client, staff_user):
    client.force_login(staff_user)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert b"Contexten control plane" in response.content


def test_dashboard_requires_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_dashboard_served_to_staff(client, staff_user):
    client.force_login(staff_user)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert b"/ws/dashboard/" in response.content


def test_root_redirects_to_admin(client):
    assert client.get("/")["Location"] == "/admin/"


def test_openapi_schema_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    schema_file = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))
    assert "/api/events/{id}/replay/" in schema_file.read_text()
