"""The database channel layer carries messages between processes without Redis."""

import subprocess
import sys

import pytest
from channels.exceptions import ChannelFull
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model

from orchestrator.core.models import ChannelMessage
from orchestrator.health.dashboard import DashboardConsumer
from tests.conftest import BASE_DIR

pytestmark = pytest.mark.django_db(transaction=True)

DB_LAYER = {"default": {"BACKEND": "orchestrator.core.channel_layer.DatabaseChannelLayer"}}


@pytest.fixture
def db_layer(settings):
    settings.CHANNEL_LAYERS = {
        "default": {**DB_LAYER["default"], "CONFIG": {"capacity": 3, "poll_interval": 0.02}}
    }
    return get_channel_layer()


async def test_message_sent_to_a_channel_is_received_once(db_layer):
    channel = await db_layer.new_channel()
    await db_layer.send(channel, {"type": "hello", "n": 1})
    assert await db_layer.receive(channel) == {"type": "hello", "n": 1}
    assert await ChannelMessage.objects.acount() == 0


async def test_group_send_reaches_members_only_until_discarded(db_layer):
    first, second = await db_layer.new_channel(), await db_layer.new_channel()
    await db_layer.group_add("dashboard", first)
    await db_layer.group_add("dashboard", second)
    await db_layer.group_discard("dashboard", second)
    await db_layer.group_send("dashboard", {"type": "dashboard.update", "payload": {"x": 1}})
    assert (await db_layer.receive(first))["payload"] == {"x": 1}
    assert await ChannelMessage.objects.filter(channel=second).acount() == 0


async def test_full_channel_refuses_more_messages(db_layer):
    channel = await db_layer.new_channel()
    for n in range(3):
        await db_layer.send(channel, {"type": "x", "n": n})
    with pytest.raises(ChannelFull):
        await db_layer.send(channel, {"type": "x", "n": 3})


async def test_invalid_group_name_is_refused(db_layer):
    with pytest.raises(TypeError):
        await db_layer.group_send("not valid!", {"type": "x"})


SEND_FROM_ANOTHER_PROCESS = """
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
async_to_sync(get_channel_layer().group_send)(
    "dashboard", {"type": "dashboard.update", "payload": {"from": "worker"}}
)
"""


async def test_message_from_another_process_reaches_the_dashboard_socket(db_layer, subprocess_env):
    user = await get_user_model().objects.acreate(username="ops", is_staff=True)
    communicator = WebsocketCommunicator(DashboardConsumer.as_asgi(), "/ws/dashboard/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect()
    assert connected
    await communicator.receive_json_from()  # hello
    env = {key: value for key, value in subprocess_env.items() if key != "REDIS_URL"}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEND_FROM_ANOTHER_PROCESS],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # The socket also pushes its periodic snapshots; the relayed update comes among them.
    message = await communicator.receive_json_from(timeout=10)
    while message["type"] == "snapshot":
        message = await communicator.receive_json_from(timeout=10)
    assert message == {"type": "update", "payload": {"from": "worker"}}
    await communicator.disconnect()
