"""backup → wipe → restore gives the same state through the API; bad files change nothing."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from extensions.legacy.models import LegacyHandler
from orchestrator.health.models import RecoveryAction
from orchestrator.operations import backup

WORKFLOW = {
    "name": "pr-to-slack",
    "trigger": {"event": "github.pull_request.opened"},
    "steps": [
        {"id": "log", "action": "core.log", "with": {"message": "PR {{ event.data.number }}"}}
    ],
}


@pytest.fixture
def state(api_client, transactional_db):
    """Workflows with versions, flags with history, a user with a token, legacy handlers."""
    assert api_client.post("/api/workflows/", WORKFLOW, format="json").status_code == 201
    edited = {**WORKFLOW, "description": "second version"}
    assert api_client.put("/api/workflows/pr-to-slack/", edited, format="json").status_code == 200
    flag = {"key": "new-checkout", "enabled": True, "rollout": {"percentage": 25}}
    assert api_client.post("/api/flags/", flag, format="json").status_code == 201
    ramp = api_client.post("/api/flags/new-checkout/rollout/", {"percentage": 50}, format="json")
    assert ramp.status_code == 200
    from extensions.legacy import registry
    from tests.legacy.example_app import app

    registry.register(app.handlers(), app_name=app.name)

    RecoveryAction.objects.create(
        name="replay-dead-after-backup-test", trigger_check="events:oldestAge",
        action="replay_dead_events", params={"limit": 10}, cooldown_seconds=60,
    )  # fmt: skip
    reason = {"data": {"team": "backup test"}, "reason": "backup round trip"}
    assert api_client.put("/api/config/core/", reason, format="json").status_code == 200
    return api_client


def read_state(client) -> dict:
    """Everything an operator sees, read through the API (and the ORM where none exists)."""
    names = [w["name"] for w in client.get("/api/workflows/").json()["results"]]
    return {
        "workflows": client.get("/api/workflows/").json(),
        "versions": {name: client.get(f"/api/workflows/{name}/versions/").json() for name in names},
        "flags": client.get("/api/flags/").json(),
        "history": client.get("/api/flags/new-checkout/history/").json(),
        "users": list(get_user_model().objects.values("id", "username", "password", "is_staff")),
        "tokens": list(Token.objects.values("key", "user_id", "created")),
        "legacy": list(LegacyHandler.objects.values()),
        "configuration": client.get("/api/config/core/versions/").json(),
        "recovery_catalog": list(RecoveryAction.objects.order_by("name").values()),
    }


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def wipe() -> None:
    call_command("flush", interactive=False, verbosity=0)


def test_backup_wipe_restore_gives_identical_state_through_the_api(state, tmp_path):
    before = read_state(state)
    path = tmp_path / "full.json.gz"
    run("backup", str(path), include_secrets=True)
    wipe()
    assert state.get("/api/flags/").status_code == 401  # the token is gone with the wipe
    outcome = json.loads(run("restore", str(path), json=True))
    assert (
        outcome["restored"]["workflows"] == 4 + 5
    )  # 4 workflows, 5 versions and outcome["masked"] is False
    assert read_state(state) == before
    # Restored ids continue: a new flag after the restore gets a fresh id and saves.
    again = {"key": "after-restore", "enabled": False}
    assert state.post("/api/flags/", again, format="json").status_code == 201


def test_a_masked_backup_restores_everything_but_the_secrets(state, tmp_path):
    path = tmp_path / "masked.json"
    run("backup", str(path))
    assert "pbkdf2" not in path.read_text() and Token.objects.get().key not in path.read_text()
    before = read_state(state)
    wipe()
    out = run("restore", str(path))
    assert "secrets were masked" in out
    state.force_authenticate(get_user_model().objects.get())  # its token was not restored
    after = read_state(state)
    assert after["tokens"] == [] and not get_user_model().objects.get().has_usable_password()
    for part in ("workflows", "legacy"):
        assert after[part] == before[part]


def damaged(path, tmp_path, kind: str):
    text = path.read_text()
    target = tmp_path / f"{kind}.json"
    if kind == "truncated":
        target.write_text(text[: len(text) // 2])
    elif kind == "corrupt":
        target.write_text(text.replace("second version", "third version"))
    else:
        document = json.loads(text)
        document["format_version"] = backup.FORMAT_VERSION + 1
        document["checksum"] = backup.checksum(document)
        target.write_text(json.dumps(document))
    return target


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("truncated", "is truncated or damaged: not valid JSON"),
        ("corrupt", "fails its checksum: it was changed or damaged"),
        ("newer", "has format version 2, newer than this Contexten reads (1)"),
    ],
)
def test_a_bad_backup_is_refused_in_one_line_and_nothing_changes(state, tmp_path, kind, message):
    good = tmp_path / "good.json"
    run("backup", str(good), include_secrets=True)
    state.post("/api/flags/", {"key": "made-after", "enabled": True}, format="json")
    before = read_state(state)
    with pytest.raises(CommandError) as refused:
        run("restore", str(damaged(good, tmp_path, kind)), force=True)
    assert message in str(refused.value) and "nothing was changed" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert read_state(state) == before


def test_restore_over_a_non_empty_database_needs_force(state, tmp_path):
    path = tmp_path / "b.json"
    run("backup", str(path), include_secrets=True)
    with pytest.raises(CommandError, match=r"the database is not empty .*pass --force"):
        run("restore", str(path))
    dry = json.loads(run("restore", str(path), dry_run=True, json=True))
    assert dry["would_restore"]["flags"] == dry["replaces"]["flags"] == 3
    assert "restored" in run("restore", str(path), force=True)


def test_a_backup_before_migrate_reads_an_older_schema_and_is_silent_when_nothing_is_pending(
    state, backup_dir
):
    assert run("backup", if_migrations_pending=True) == ""
    assert not backup_dir.exists()
    call_command("migrate", "legacy", "zero", verbosity=0)
    try:
        out = run("backup", if_migrations_pending=True)
    finally:
        call_command("migrate", "legacy", verbosity=0)
    [written] = backup_dir.glob("auto-*-before-migrate.json")
    assert out.strip() == f"backup before migrate: {written}"
    document = backup.read(written)
    assert document["sections"]["legacy_handlers"] == {}  # the table did not exist yet
    assert len(document["sections"]["workflows"]["workflows.Workflow"]) == 4


def test_automatic_backups_keep_only_the_newest(transactional_db, settings, backup_dir):
    settings.BACKUP_KEEP = 2
    (backup_dir / "mine.json").parent.mkdir(parents=True)
    (backup_dir / "mine.json").write_text("{}")
    paths = [backup.auto_backup(f"step {n}") for n in range(4)]
    assert sorted(backup_dir.glob("auto-*")) == sorted(paths[-2:])
    assert (backup_dir / "mine.json").exists()


def test_a_fresh_client_with_the_restored_token_reads_the_api(state, tmp_path):
    key = Token.objects.get().key
    path = tmp_path / "t.json"
    run("backup", str(path), include_secrets=True)
    wipe()
    run("restore", str(path))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/flags/new-checkout/").json()["rollout"]["percentage"] == 50
