"""One breaker row per platform an installed extension calls, so the admin lists them before
their first call. The platforms come from the extensions' manifests (entry points, no
database), never from a list here: core names no platform."""

from django.db import migrations


def seed(apps, schema_editor):
    from extensions.discovery import discovered

    BreakerState = apps.get_model("health", "BreakerState")
    for platform in sorted({m.platform for m in discovered().values() if m.platform}):
        BreakerState.objects.get_or_create(platform=platform)


class Migration(migrations.Migration):
    dependencies = [("health", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
