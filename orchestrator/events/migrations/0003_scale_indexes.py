"""The event store at a million rows: one index serves the filtered, newest-first API list."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_schedules"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="event",
            name="event_source_type",
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(
                fields=["source", "type", "-received_at", "status"], name="event_source_type_time"
            ),
        ),
    ]
