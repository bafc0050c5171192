"""The dashboard websocket admits staff only."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from orchestrator.health.dashboard import WS_CLOSE_FORBIDDEN, DashboardConsumer

pytestmark = pytest.mark.django_db(transaction=True)


async def connect_as(user):
    communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/dashboard/")
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_anonymous_websocket_is_closed_forbidden():
    _, connected, code = await connect_as(AnonymousUser())
    assert not connected
    assert code == WS_CLOSE_FORBIDDEN


async def test_non_staff_websocket_is_closed_forbidden(django_user_model):
    user = await database_sync_to_async(django_user_model.objects.create_user)("viewer")
    _, connected, code = await connect_as(user)
    assert not connected
    assert code == WS_CLOSE_FORBIDDEN


async def test_staff_websocket_gets_hello_and_group_updates(django_user_model):
    from channels.layers import get_channel_layer

    user = await database_sync_to_async(django_user_model.objects.create_user)("ops", is_staff=True)
    communicator, connected, _ = await connect_as(user)
    assert connected
    assert await communicator.receive_json_from() == {"type": "hello", "user": "ops"}
    await get_channel_layer().group_send(
        "dashboard", {"type": "dashboard.update", "payload": {"x": 1}}
    )
    assert await communicator.receive_json_from(timeout=5) == {
        "type": "update",
        "payload": {"x": 1},
    }
    await communicator.disconnect()
