"""`manage.py healthcheck` runs the checks /health/ runs and exits 0, 1 or 2."""

import json
import subprocess
import sys

import pytest
from django.conf import settings

from orchestrator.health import checks


def warn():
    return [{"status": "warn", "output": "queue backlog growing"}]


def fail():
    return [{"status": "fail", "output": "upstream down"}]


def healthcheck(env: dict, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "healthcheck", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_healthy_installation_exits_zero_with_the_same_checks_as_the_endpoint(
    subprocess_env, client
):
    done = healthcheck(subprocess_env, "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    served = client.get("/health/").json()
    assert body["status"] == served["status"] == "pass"
    assert set(body["checks"]) == set(served["checks"])


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
