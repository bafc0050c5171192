"""Create the guard's django-q2 schedule, so a migrated install guards rollouts unprompted."""

from django.db import migrations

SCHEDULE_NAME = "flags.guard"


def create_schedule(apps, schema_editor):
    schedule = apps.get_model("django_q", "Schedule")
    # CRON is django-q2's "C"; croniter's sixth field is seconds.
    schedule.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "orchestrator.flags.guard.run_guards",
            "schedule_type": "C",
            "cron": "* * * * * */20",
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("flags", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
