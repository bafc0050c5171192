"""The `jira` namespace in the configuration store: validated, secrets masked, env defaults."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_bad_project_key_is_refused_naming_the_json_path(api_client):
    response = api_client.put(
        "/api/config/jira/", {"data": {"project_key": "eng"}, "reason": "typo"}, format="json"
    )
    assert response.status_code == 400
    assert "$.project_key" in response.json()["error"]
    assert api_client.get("/api/config/jira/").json()["version"] == 0


def test_an_unknown_field_is_refused(api_client):
    response = api_client.put(
        "/api/config/jira/", {"data": {"site": "x"}, "reason": "r"}, format="json"
    )
    assert response.status_code == 400 and "site" in response.json()["error"]


def test_secrets_are_write_only_in_the_api(api_client, jira_config):
    saved = api_client.put("/api/config/jira/", {"data": jira_config, "reason": "set up"},
                           format="json")  # fmt: skip
    assert saved.status_code == 200, saved.content
    data = api_client.get("/api/config/jira/").json()["data"]
    assert data["api_token"] == "********" and data["webhook_secret"] == "********"
    assert data["email"] == jira_config["email"]


def test_defaults_read_the_environment_at_use(monkeypatch):
    from extensions.api import config

    for name, value in {"JIRA_BASE_URL": "https://acme.atlassian.net", "JIRA_EMAIL": "a@b.c",
                        "JIRA_API_TOKEN": "t0k", "JIRA_WEBHOOK_SECRET": "s"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    resolved = config("jira")
    assert resolved["base_url"] == "https://acme.atlassian.net"
    assert (resolved["project_key"], resolved["issue_type"]) == ("ENG", "Task")
