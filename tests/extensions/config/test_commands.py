"""`manage.py config …`, `rollout config …` and `rollback config …`: --json, --dry-run, one line."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from extensions.config import store
from extensions.config.models import ConfigVersion

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def as_json(*args) -> dict:
    return json.loads(run(*args, "--json")[0])


def test_set_get_diff_and_rollback_round_trip():
    assert as_json("config", "set", "core", "--set", "team=infra", "--reason", "r")["version"] == 1
    assert as_json("config", "set", "core", "--set", "shared.tier=2")["version"] == 2
    assert as_json("config", "get", "core")["data"] == {"team": "infra", "shared": {"tier": 2}}
    patch = as_json("config", "diff", "core", "1", "2")["patch"]
    assert patch == [{"op": "add", "path": "/shared", "value": {"tier": 2}}]
    assert as_json("config", "rollback", "core", "--version", "1")["version"] == 3
    assert store.stored("core") == {"team": "infra"}
    assert ConfigVersion.objects.get(version=1).author.startswith("cli:")


def test_dry_run_shows_the_patch_and_changes_nothing():
    run("config", "set", "core", "--data", '{"team": "a"}')
    out, _ = run("config", "set", "core", "--data", '{"team": "b"}', "--dry-run")
    assert 'replace /team "b"' in out and "would be version 2" in out
    run("rollback", "config", "core", "--version", "1", "--dry-run")
    assert ConfigVersion.objects.count() == 1


def test_rollout_and_rollback_take_configuration():
    result = as_json("rollout", "config", "core", "--set", "environment=staging")
    assert result["version"] == 1 and not result["dry_run"]
    as_json("rollout", "config", "core", "--set", "environment=production")
    assert as_json("rollback", "config", "core", "--version", "1")["version"] == 3
    assert store.stored("core")["environment"] == "staging"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("config", "set", "core", "--set", "secrets.x=5"), r"core \$\.secrets\.x: 5 is not"),
        (("config", "set", "nope", "--data", "{}"), "no configuration namespace 'nope'"),
        (("config", "rollback", "core", "--version", "9"), "'core' has no version 9"),
        (("config", "diff", "core", "0", "4"), "has no version 4"),
        (("config", "set", "core", "--data", "{oops"), "cannot read the document"),
        (("config", "set", "core"), "exactly one of --file, --data or --set"),
        (("rollback", "config", "core"), "--version N"),
        (("rollback", "config"), "name the namespace"),
        (("rollout", "some-flag"), "--percent is required"),
    ],
)
def test_every_refusal_is_one_line_and_changes_nothing(args, message):
    with pytest.raises(CommandError, match=message) as refused:
        run(*args)
    assert "\n" not in str(refused.value)
    assert not ConfigVersion.objects.exists()


def test_an_unset_reference_is_a_warning_on_stderr(monkeypatch):
    monkeypatch.delenv("CTX_TEST_ABSENT", raising=False)
    _, err = run("config", "set", "core", "--set", "secrets.hook=env:CTX_TEST_ABSENT")
    assert "warning: config.core.secrets.hook refers to env:CTX_TEST_ABSENT" in err


def test_get_masks_secrets():
    store.save("core", {"secrets": {"hook": "literal-secret"}}, author="t")
    out, _ = run("config", "get", "core", "--effective")
    assert "literal-secret" not in out and "********" in out
