"""Create the event sweeper and retention prune schedules."""

from django.db import migrations


def create_schedules(apps, schema_editor):
    from orchestrator.events.schedules import ensure_schedules

    ensure_schedules(apps.get_model("django_q", "Schedule"))


def remove_schedules(apps, schema_editor):
    from orchestrator.events.schedules import PRUNE, SWEEP

    apps.get_model("django_q", "Schedule").objects.filter(name__in=[SWEEP, PRUNE]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
