"""The event store: verified webhook deliveries, dedupe, dispatch and replay."""

from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "orchestrator.events"
    label = "events"
    verbose_name = "Events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from orchestrator.events import checks  # noqa: F401 - registers the system checks
