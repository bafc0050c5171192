"""Webhook routes, derived from the platform registry: `/webhooks/<platform>/` with and without
the trailing slash, plus the legacy `/<platform>/events` alias each built-in platform had."""

from django.urls import path

from integrations import WEBHOOK_RECEIVERS
from orchestrator.events.views import webhook


def platform_routes(platform: str) -> list:
    return [
        path(f"webhooks/{platform}/", webhook, {"platform": platform}, name=f"webhook-{platform}"),
        path(f"webhooks/{platform}", webhook, {"platform": platform}),
        path(f"{platform}/events", webhook, {"platform": platform}),
        path(f"{platform}/events/", webhook, {"platform": platform}),
    ]


webhook_urlpatterns = [route for name in WEBHOOK_RECEIVERS for route in platform_routes(name)]
