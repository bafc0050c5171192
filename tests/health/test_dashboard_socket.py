"""The dashboard websocket admits staff only, pushes a snapshot when anything changes, and
relays group messages from any process (Redis layer with REDIS_URL, the database layer
without: CI runs this file on both)."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from orchestrator.health.dashboard import WS_CLOSE_FORBIDDEN, DashboardConsumer

pytestmark = pytest.mark.django_db(transaction=True)


async def connect_as(user):
    communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/dashboard/")
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


async def staff_socket(django_user_model, settings):
    settings.DASHBOARD_PUSH_MS = 100
    user = await database_sync_to_async(django_user_model.objects.create_user)("ops", is_staff=True)
    communicator, connected, _ = await connect_as(user)
    assert connected
    assert await communicator.receive_json_from() == {"type": "hello", "user": "ops"}
    first = await communicator.receive_json_from(timeout=10)
    assert first["type"] == "snapshot"
    return communicator, first["data"]


async def test_anonymous_websocket_is_closed_forbidden():
    _, connected, code = await connect_as(AnonymousUser())
    assert not connected
    assert code == WS_CLOSE_FORBIDDEN


async def test_non_staff_websocket_is_closed_forbidden(django_user_model):
    user = await database_sync_to_async(django_user_model.objects.create_user)("viewer")
    _, connected, code = await connect_as(user)
    assert not connected
    assert code == WS_CLOSE_FORBIDDEN


async def test_staff_socket_gets_every_panel_in_its_first_snapshot(django_user_model, settings):
    communicator, snapshot = await staff_socket(django_user_model, settings)
    panels = {"components", "breakers", "queues", "in_flight", "charts", "rates", "capacity",
              "failures", "rollouts", "recoveries", "alerts", "extensions"}  # fmt: skip
    panels.add("reliability")
    assert panels <= set(snapshot)
    assert [b["state"] for b in snapshot["breakers"]] == ["closed"] * len(snapshot["breakers"])
    await communicator.disconnect()


async def test_a_failed_run_is_pushed_without_asking(django_user_model, settings):
    communicator, snapshot = await staff_socket(django_user_model, settings)
    assert snapshot["failures"] == []
    run_id = await database_sync_to_async(make_failed_run)()
    pushed = await next_snapshot_where(communicator, lambda s: s["failures"])
    assert pushed["failures"][0]["id"] == run_id
    assert pushed["failures"][0]["url"] == f"/admin/workflows/run/{run_id}/change/"
    await communicator.disconnect()


async def test_group_messages_are_relayed(django_user_model, settings):
    communicator, _ = await staff_socket(django_user_model, settings)
    await get_channel_layer().group_send(
        "dashboard", {"type": "dashboard.update", "payload": {"x": 1}}
    )
    message = await communicator.receive_json_from(timeout=10)
    while message["type"] == "snapshot":
        message = await communicator.receive_json_from(timeout=10)
    assert message == {"type": "update", "payload": {"x": 1}}
    await communicator.disconnect()


async def next_snapshot_where(communicator, condition, attempts: int = 50):
    for _ in range(attempts):
        message = await communicator.receive_json_from(timeout=10)
        if message["type"] == "snapshot" and condition(message["data"]):
            return message["data"]
    raise AssertionError("no snapshot met the condition")


def make_failed_run() -> int:
    from orchestrator.workflows import definitions, engine
    from orchestrator.workflows.models import Run, RunStatus

    workflow = definitions.create_workflow(
        {"name": "doomed", "trigger": {"manual": True},
         "steps": [{"id": "s", "action": "core.log", "with": {"message": "x"}}]}
    )  # fmt: skip
    run = engine.create_run(workflow, trigger="manual")
    Run.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, error="step s failed: boom")
    return run.pk
