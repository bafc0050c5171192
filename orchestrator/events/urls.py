"""Webhook routes, from the same templates the ASGI fast path answers on
(`webhooks.ROUTE_TEMPLATES`): `/webhooks/<platform>/` with and without the trailing slash, plus
the legacy `/<platform>/events` alias. The platform is looked up in the extension registry per
request, so an extension installed while the process runs is reachable at once."""

from django.urls import path

from orchestrator.events.views import webhook
from orchestrator.events.webhooks import ROUTE_TEMPLATES


def webhook_route(index: int, template: str):
    route = template.format(platform="<slug:platform>")
    return path(route, webhook, name=None if index else "webhook")


webhook_urlpatterns = [webhook_route(i, template) for i, template in enumerate(ROUTE_TEMPLATES)]
