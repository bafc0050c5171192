"""The detection schedule, and a default recovery catalog an operator can tune in the admin."""

from django.db import migrations

CATALOG = [
    {
        "name": "close-breaker-when-platform-answers",
        "description": "A platform's breaker is open: probe its API; once it answers, close "
        "the breaker so the backlog drains without waiting out the open period.",
        "trigger_check": "*:breaker",
        "trigger_status": "warn",
        "action": "reset_breaker",
        "params": {"when_api_answers": True},
        "cooldown_seconds": 30,
        "max_attempts": 20,
    },
    {
        "name": "redrive-stuck-steps",
        "description": "Steps wait too long: run the sweeper now (re-drive dead workers' "
        "steps, advance stalled runs), if the database answers.",
        "trigger_check": "steps:oldestAge",
        "trigger_status": "warn",
        "action": "redrive_stuck_runs",
        "preconditions": {"checks": {"database:responseTime": "pass"}},
        "cooldown_seconds": 120,
        "max_attempts": 3,
    },
    {
        "name": "replay-dead-events-after-recovery",
        "description": "Events are backing up after an outage: replay the dead ones once the "
        "database answers.",
        "trigger_check": "events:oldestAge",
        "trigger_status": "fail",
        "action": "replay_dead_events",
        "params": {"limit": 100},
        "preconditions": {"checks": {"database:responseTime": "pass"}},
        "cooldown_seconds": 600,
        "max_attempts": 1,
    },
]


def seed(apps, schema_editor):
    from orchestrator.health.detect import ensure_schedule

    ensure_schedule(apps.get_model("django_q", "Schedule"))
    RecoveryAction = apps.get_model("health", "RecoveryAction")
    for entry in CATALOG:
        RecoveryAction.objects.get_or_create(name=entry["name"], defaults=entry)


def unseed(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="health.detect").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("health", "0003_history_incidents_recovery_alerts"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
