"""`manage.py healthcheck` runs the checks /health/ runs and exits 0, 1 or 2."""

import json

import pytest

from orchestrator.health import checks


def warn():
    return [{"status": "warn", "output": "queue backlog growing"}]


def fail():
    return [{"status": "fail", "output": "upstream down"}]


def test_the_command_runs_the_endpoints_checks_and_exits_by_their_status(db, client, capsys):
    from django.core.management import call_command

    served = client.get("/health/").json()
    expected = {"pass": 0, "warn": 1, "fail": 2}[served["status"]]
    try:
        call_command("healthcheck", "--json")
        code = 0
    except SystemExit as exited:
        code = exited.code
    body = json.loads(capsys.readouterr().out)
    assert code == expected
    assert body["status"] == served["status"]
    assert set(body["checks"]) == set(served["checks"])
    assert body["description"] == served["description"]


@pytest.mark.parametrize(("check", "code", "status"), [("warn", 1, "warn"), ("fail", 2, "fail")])
def test_warn_and_fail_exit_one_and_two(db, monkeypatch, capsys, check, code, status):
    from django.core.management import call_command

    monkeypatch.setitem(checks.CHECKS, "probe:state", (f"{__name__}.{check}", False))
    with pytest.raises(SystemExit) as exited:
        call_command("healthcheck")
    assert exited.value.code == code
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"health: {status}"
    assert f"probe:state: {status} (" in out
