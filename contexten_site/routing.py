"""Websocket routes."""

from django.urls import path

from orchestrator.health.dashboard import DashboardConsumer

websocket_urlpatterns = [
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
]
