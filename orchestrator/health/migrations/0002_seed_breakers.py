"""One breaker row per built-in platform, so the admin lists them before their first call."""

from django.db import migrations

PLATFORMS = ("github", "linear", "slack")


def seed(apps, schema_editor):
    BreakerState = apps.get_model("health", "BreakerState")
    for platform in PLATFORMS:
        BreakerState.objects.get_or_create(platform=platform)


class Migration(migrations.Migration):
    dependencies = [("health", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
