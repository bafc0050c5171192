"""/health/ speaks application/health+json; the probes answer their own questions."""

import os

import pytest

from orchestrator.health import checks

pytestmark = pytest.mark.django_db


def test_health_passes_with_database_check_in_health_json(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/health+json"
    body = response.json()
    statuses = {item["status"] for items in body["checks"].values() for item in items}
    # An installed extension that is not configured yet may warn; nothing fails.
    assert body["status"] == ("warn" if "warn" in statuses else "pass")
    database = body["checks"]["database:responseTime"][0]
    assert database["status"] == "pass"
    assert database["observedUnit"] == "ms"
    assert database["componentId"] == ("postgresql" if os.environ.get("DATABASE_URL") else "sqlite")


def test_health_reports_redis_only_when_configured(client):
    body = client.get("/health/").json()
    assert ("redis:responseTime" in body["checks"]) == bool(os.environ.get("REDIS_URL"))


def test_failing_check_answers_503_with_its_output(client, monkeypatch):
    monkeypatch.setitem(checks.CHECKS, "test:broken", ("tests.health.test_health.broken", True))
    response = client.get("/health/")
    assert response.status_code == 503
    result = response.json()["checks"]["test:broken"][0]
    assert result == {"status": "fail", "time": result["time"], "output": "RuntimeError: boom"}


def test_warning_check_still_answers_200(client, monkeypatch):
    monkeypatch.setitem(checks.CHECKS, "test:warn", ("tests.health.test_health.warning", False))
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "warn"


def test_readiness_runs_only_checks_marked_ready(client, monkeypatch):
    monkeypatch.setitem(checks.CHECKS, "test:warn", ("tests.health.test_health.warning", False))
    body = client.get("/health/ready").json()
    assert "test:warn" not in body["checks"]
    assert "database:responseTime" in body["checks"]


def test_liveness_consults_no_dependency(client, monkeypatch):
    monkeypatch.setitem(checks.CHECKS, "test:broken", ("tests.health.test_health.broken", True))
    response = client.get("/health/live")
    assert response.status_code == 200
    assert list(response.json()["checks"]) == ["process:uptime"]


def test_health_refuses_post(client):
    assert client.post("/health/").status_code == 405


def broken():
    raise RuntimeError("boom")


def warning():
    return [{"status": "warn", "time": checks.now_iso()}]
