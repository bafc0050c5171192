"""Webhook routes: `/webhooks/<platform>/` with and without the trailing slash, plus the legacy
`/<platform>/events` alias. The platform is looked up in the extension registry per request,
so an extension installed while the process runs is reachable at once."""

from django.urls import path

from orchestrator.events.views import webhook

webhook_urlpatterns = [
    path("webhooks/<slug:platform>/", webhook, name="webhook"),
    path("webhooks/<slug:platform>", webhook),
    path("<slug:platform>/events", webhook),
    path("<slug:platform>/events/", webhook),
]
