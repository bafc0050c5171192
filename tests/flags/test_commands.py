"""`manage.py rollout` and `rollback`: dry runs, JSON, and one-line failures with exit 1."""

import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from orchestrator.flags.models import Flag, FlagVersion
from tests.conftest import BASE_DIR
from tests.flags.conftest import FULL_FLAG

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_rollout_ramps_and_records_the_cli_actor(make_flag):
    make_flag(FULL_FLAG)
    out = run("rollout", "new-checkout", "--percent", "50", "--reason", "metrics look fine")
    assert "rollout.percentage 25.0 -> 50.0" in out
    row = FlagVersion.objects.get(version=2)
    assert row.actor.startswith("cli:") and row.reason == "metrics look fine"


def test_rollout_dry_run_changes_nothing(make_flag):
    make_flag(FULL_FLAG)
    outcome = json.loads(run("rollout", "new-checkout", "--percent", "50", "--dry-run", "--json"))
    assert outcome == {
        "flag": "new-checkout",
        "dry_run": True,
        "version": 1,
        "diff": {"rollout.percentage": [25.0, 50.0]},
    }
    assert Flag.objects.get().version == 1


def test_rollback_restores_previous_or_named_version(make_flag):
    make_flag(FULL_FLAG)
    run("rollout", "new-checkout", "--percent", "60")
    run("rollout", "new-checkout", "--percent", "80")
    outcome = json.loads(run("rollback", "new-checkout", "--json"))
    assert (outcome["version"], outcome["diff"]) == (4, {"rollout.percentage": [80.0, 60.0]})
    run("rollback", "new-checkout", "--version", "1")
    assert float(Flag.objects.get().rollout_percentage) == 25.0


def test_rollback_dry_run_changes_nothing(make_flag):
    make_flag(FULL_FLAG)
    run("rollout", "new-checkout", "--percent", "60")
    assert "would change new-checkout" in run("rollback", "new-checkout", "--dry-run")
    assert Flag.objects.get().version == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rollout", "ghost", "--percent", "10"], "no flag 'ghost'"),
        (["rollout", "new-checkout", "--percent", "101"], "out of range"),
        (["rollback", "new-checkout", "--version", "7"], "no earlier version 7"),
        (["rollback", "new-checkout"], "no earlier version 0"),
    ],
)
def test_failures_are_one_line_command_errors(make_flag, args, message):
    make_flag(FULL_FLAG)
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert FlagVersion.objects.count() == 1


def test_failure_exits_non_zero_with_one_line(subprocess_env):
    result = subprocess.run(
        [sys.executable, "manage.py", "rollout", "ghost", "--percent", "5"],
        cwd=BASE_DIR,
        env=subprocess_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "CommandError: no flag 'ghost'"
