"""Run history at scale: the retention schedule, and an index that serves
`/api/runs/?workflow=&status=` in its own order (newest first) without a sort."""

from django.db import migrations, models

NAME = "workflows.prune"


def create_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name=NAME,
        defaults={
            "func": "orchestrator.workflows.retention.prune_runs",
            "schedule_type": "H",  # Schedule.HOURLY: small batches, often
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("workflows", "0003_steprun_extension_steprun_extension_version")]

    operations = [
        migrations.RemoveIndex(model_name="run", name="run_workflow_status"),
        migrations.AddIndex(
            model_name="run",
            index=models.Index(
                fields=["workflow", "status", "-created_at", "-id"],
                name="run_workflow_status_created",
            ),
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
