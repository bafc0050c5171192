"""The `jira:api` health check: one authenticated call, read from the stored configuration."""

import pytest

from contexten_jira.health import check_api

pytestmark = pytest.mark.django_db(transaction=True)


def save(data: dict) -> None:
    from extensions.config import store

    store.save("jira", data, author="test", reason="health check test")


def test_configured_and_answering_passes_with_the_account(sandbox, jira_config):
    save(jira_config)
    [result] = check_api()
    assert (result["status"], result["observedValue"]) == ("pass", "Contexten Demo")
    assert [call.name for call in sandbox.calls()] == ["myself"]


def test_refused_credentials_fail_with_jiras_words(sandbox, jira_config):
    save({**jira_config, "api_token": "revoked"})
    [result] = check_api()
    assert result["status"] == "fail"
    assert "HTTP 401" in result["output"] and "not authenticated" in result["output"]


def test_jira_down_fails(sandbox, jira_config):
    save(jira_config)
    sandbox.fail_next(1, status=503)
    [result] = check_api()
    assert result["status"] == "fail" and "HTTP 503" in result["output"]


def test_not_configured_warns_naming_what_is_missing(monkeypatch, jira_config):
    for name in ("JIRA_BASE_URL", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_WEBHOOK_SECRET"):
        monkeypatch.setenv(name, "")
    [result] = check_api()
    assert result["status"] == "warn"
    assert "config.jira.base_url" in result["output"]


def test_unset_environment_references_warn_naming_the_variables(monkeypatch):
    for name in ("JIRA_BASE_URL", "JIRA_EMAIL", "JIRA_API_TOKEN", "JIRA_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    [result] = check_api()
    assert result["status"] == "warn"
    assert "env:JIRA_BASE_URL" in result["output"]
