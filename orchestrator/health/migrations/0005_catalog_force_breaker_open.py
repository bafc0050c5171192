"""Seed one more default recovery action: open a platform's breaker when its API check fails."""

from django.db import migrations

ENTRY = {
    "name": "open-breaker-when-platform-api-fails",
    "description": "A platform's own API check fails while its breaker is still closed: open "
    "the breaker now, so queued steps wait instead of each spending a call; the "
    "close-breaker-when-platform-answers entry closes it once the API answers.",
    "trigger_check": "*:responseTime",
    "trigger_status": "fail",
    "action": "force_breaker_open",
    "params": {},
    "preconditions": {"checks": {"{component}:breaker": "pass"}},
    "cooldown_seconds": 60,
    "max_attempts": 3,
}


def seed(apps, schema_editor):
    RecoveryAction = apps.get_model("health", "RecoveryAction")
    RecoveryAction.objects.get_or_create(name=ENTRY["name"], defaults=ENTRY)


def unseed(apps, schema_editor):
    apps.get_model("health", "RecoveryAction").objects.filter(name=ENTRY["name"]).delete()


class Migration(migrations.Migration):
    dependencies = [("health", "0004_detection_schedule_and_catalog")]

    operations = [migrations.RunPython(seed, unseed)]
