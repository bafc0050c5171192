"""The live dashboard page and its websocket consumer (staff only).

How a change reaches the browser: each connection looks at a fresh snapshot every
DASHBOARD_PUSH_MS and pushes it when anything in it changed. Viewers on one web process share
one snapshot per interval, so ten open tabs cost one build, and nobody watching costs
nothing. Messages sent to the `dashboard` group (a flag rollback, an alert, from any process
through the channel layer, Redis or the embedded database one) are relayed at once and
trigger an immediate look.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render

from orchestrator.health.snapshot import build_snapshot

DASHBOARD_GROUP = "dashboard"
WS_CLOSE_FORBIDDEN = 4403
# Attaching to the channel layer (Redis in production): while it is down a socket opens
# without it and tries again this often; an attempt never waits longer than LAYER_TIMEOUT_S.
REJOIN_EVERY_S = 2.0
LAYER_TIMEOUT_S = 2.0

logger = logging.getLogger("contexten.health")


@staff_member_required
def dashboard_page(request):
    """The page, with its first state embedded so it renders before the socket opens."""
    return render(
        request,
        "dashboard/index.html",
        {"title": "Live dashboard", "snapshot": build_snapshot(), "user": request.user},
    )


def build_without_leaks() -> dict:
    """Build on a pool thread (not the one sync thread Django's views queue for), then give
    the connection back."""
    from django.db import close_old_connections

    try:
        return build_snapshot()
    finally:
        close_old_connections()


class SharedSnapshot:
    """One snapshot per interval for every connection in this process."""

    def __init__(self):
        self.built_at = 0.0
        self.text = ""
        self.lock = asyncio.Lock()

    async def get(self, max_age_s: float) -> str:
        async with self.lock:
            if time.monotonic() - self.built_at >= max_age_s:
                snapshot = await sync_to_async(build_without_leaks, thread_sensitive=False)()
                snapshot.pop("time")  # so an unchanged state compares equal
                self.text = json.dumps(snapshot, separators=(",", ":"))
                self.built_at = time.monotonic()
            return self.text


_shared: dict[int, SharedSnapshot] = {}


def shared_snapshot() -> SharedSnapshot:
    """Per event loop: an asyncio.Lock belongs to the loop that made it."""
    loop_id = id(asyncio.get_running_loop())
    if loop_id not in _shared:
        _shared[loop_id] = SharedSnapshot()
    return _shared[loop_id]


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """Pushes dashboard snapshots to staff browsers; anyone else is closed with 4403."""

    # channels subscribes a consumer's channel before `connect`, so with the Redis layer down
    # the handshake failed: an operator opening the dashboard during an outage saw nothing.
    # This alias names no layer (channels then subscribes nothing); the consumer attaches to
    # the configured layer itself, before the handshake when it answers and, when not, again
    # every REJOIN_EVERY_S until it does.
    channel_layer_alias = "dashboard-consumer-attaches-itself"

    async def connect(self):
        user = self.scope.get("user")
        if not (user and user.is_authenticated and user.is_staff):
            await self.close(code=WS_CLOSE_FORBIDDEN)
            return
        self.layer = get_channel_layer()
        self.channel_name: str | None = None
        self.relay: asyncio.Task | None = None
        self.next_attach = 0.0
        self.last_sent = ""
        self.wake = asyncio.Event()
        # Joined before the handshake when the layer answers, as channels would: a message
        # sent to the group once the socket is open reaches it.
        joined = await self.join()
        await self.accept()
        await self.send_json({"type": "hello", "user": user.get_username()})
        if joined:
            self.relay = asyncio.create_task(self.relay_messages())
        self.pusher = asyncio.create_task(self.push_changes())

    async def disconnect(self, code):
        for task in (getattr(self, "pusher", None), getattr(self, "relay", None)):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if getattr(self, "relay", None) is not None:
            with contextlib.suppress(Exception):  # the layer is down: the membership lapses
                await asyncio.wait_for(
                    self.layer.group_discard(DASHBOARD_GROUP, self.channel_name), LAYER_TIMEOUT_S
                )

    async def attach(self) -> None:
        """Subscribe a channel, join the group that relays messages from other processes and
        relay what arrives. While the layer is down (Redis stopped) this fails and is tried
        again every REJOIN_EVERY_S; the pushes need no layer, and meanwhile they are what
        shows the operator that Redis is failing."""
        if self.relay is not None and self.relay.done():  # the layer failed under it
            if not self.relay.cancelled() and (error := self.relay.exception()) is not None:
                logger.warning("dashboard.layer-relay-failed error=%s", type(error).__name__)
            self.relay = None
        if self.relay is None and await self.join():
            self.relay = asyncio.create_task(self.relay_messages())

    async def join(self) -> bool:
        """Subscribe this socket's channel and join the group (at most every REJOIN_EVERY_S);
        answer whether it is in."""
        loop = asyncio.get_running_loop()
        if self.layer is None or loop.time() < self.next_attach:
            return False
        self.next_attach = loop.time() + REJOIN_EVERY_S
        try:
            if self.channel_name is None:
                self.channel_name = await asyncio.wait_for(
                    self.layer.new_channel(), LAYER_TIMEOUT_S
                )
            await asyncio.wait_for(
                self.layer.group_add(DASHBOARD_GROUP, self.channel_name), LAYER_TIMEOUT_S
            )
        except Exception as exc:  # whatever the layer raises (Redis down), or its timeout
            logger.warning("dashboard.layer-attach-failed error=%s", type(exc).__name__)
            return False
        return True

    async def relay_messages(self) -> None:
        while True:
            await self.dispatch(await self.layer.receive(self.channel_name))

    async def push_changes(self):
        interval = settings.DASHBOARD_PUSH_MS / 1000
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            text = await shared_snapshot().get(interval * 0.8)
            if text != self.last_sent:
                self.last_sent = text
                await self.send(text_data='{"type":"snapshot","data":' + text + "}")
            await self.attach()  # after the push: a slow layer never delays what it shows
            # A fixed rate: the build's own time comes out of the wait.
            wait = max(0.0, interval - (loop.time() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)
            self.wake.clear()

    async def dashboard_update(self, message):
        """Relay a `dashboard.update` group message to the browser, then look again."""
        await self.send_json({"type": "update", "payload": message.get("payload", {})})
        shared_snapshot().built_at = 0.0
        self.wake.set()
