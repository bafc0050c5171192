"""The admin shows phases, their history and legacy registrations; bulk rollbacks back up."""

import io

from django.core.management import call_command

from orchestrator.flags import services
from orchestrator.flags.models import FlagVersion


def test_phase_and_legacy_pages_show_the_state(admin_client, db):
    from extensions.legacy import registry
    from tests.legacy.example_app import app

    registry.register(app.handlers(), app_name=app.name)
    call_command("migration_phase", "advance", reason="go", stdout=io.StringIO())
    state = admin_client.get("/admin/operations/phasestate/")
    assert state.status_code == 200 and b"migration.performance-paths: 10%" in state.content
    history = admin_client.get("/admin/operations/phasechange/")
    assert history.status_code == 200 and b"advance" in history.content
    legacy = admin_client.get("/admin/legacy/legacyhandler/")
    assert legacy.status_code == 200 and b"legacy-github-pull_request-labeled" in legacy.content


def test_rolling_back_several_flags_at_once_takes_a_backup_first(admin_client, backup_dir, db):
    actor = services.Actor("test")
    for key in ("one", "two"):
        services.save_flag({"key": key, "enabled": True}, actor=actor)
        services.ramp(key, 50, actor=actor)
    first_versions = FlagVersion.objects.filter(version=1).values_list("pk", flat=True)
    response = admin_client.post(
        "/admin/flags/flagversion/",
        {"action": "restore_versions", "_selected_action": list(first_versions)},
    )
    assert response.status_code == 302
    [written] = backup_dir.glob("auto-*-before-rolling-back-2-flags.json")
    assert written.stat().st_size > 0
    assert FlagVersion.objects.filter(action="rollback").count() == 2
