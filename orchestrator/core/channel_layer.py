"""A Channels layer kept in the database, for the embedded default (no Redis).

The in-memory layer cannot carry a message from a django-q2 worker to a browser connected to
the web process, and the SPEC needs exactly that for the dashboard. This layer stores messages
in a table that every process shares and lets receivers poll it. Polling every 100 ms is fine
for a handful of dashboard viewers; production uses Redis and channels-redis instead.
"""

import asyncio
import contextlib
import random
import uuid
from datetime import timedelta

from asgiref.sync import sync_to_async
from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer
from django.db import IntegrityError
from django.utils import timezone

from orchestrator.core.models import ChannelGroupMember, ChannelMessage

PRUNE_PROBABILITY = 0.02


def in_db_thread(function):
    """Run `function` on a pool thread with its own connection. Not channels'
    `database_sync_to_async`: that closes the *caller's* connection, which breaks a worker
    that announces something from inside a transaction."""
    return sync_to_async(function, thread_sensitive=False)


class DatabaseChannelLayer(BaseChannelLayer):
    extensions = ["groups", "flush"]

    def __init__(self, expiry=60, group_expiry=86400, capacity=100, poll_interval=0.1, **kwargs):
        super().__init__(expiry=expiry, capacity=capacity, **kwargs)
        self.group_expiry = group_expiry
        self.poll_interval = poll_interval

    async def send(self, channel, message):
        self.require_valid_channel_name(channel)
        await in_db_thread(self._store)([channel], message, check_capacity=True)

    async def receive(self, channel):
        self.require_valid_channel_name(channel, receive=True)
        while True:
            message = await in_db_thread(self._pop)(channel)
            if message is not None:
                return message
            await asyncio.sleep(self.poll_interval)

    async def new_channel(self, prefix="specific"):
        return f"{prefix}.db.{uuid.uuid4().hex}"

    async def group_add(self, group, channel):
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)
        await in_db_thread(self._join)(group, channel)

    async def group_discard(self, group, channel):
        self.require_valid_group_name(group)
        await in_db_thread(ChannelGroupMember.objects.filter(group=group, channel=channel).delete)()

    async def group_send(self, group, message):
        self.require_valid_group_name(group)
        await in_db_thread(self._send_to_group)(group, message)

    async def flush(self):
        await in_db_thread(self._flush)()

    # --- synchronous halves, run on a pool thread by in_db_thread ---------------------------

    def _store(self, channels, message, *, check_capacity=False):
        now = timezone.now()
        if check_capacity and self._queued(channels[0], now) >= self.get_capacity(channels[0]):
            raise ChannelFull(channels[0])
        expires_at = now + timedelta(seconds=self.expiry)
        ChannelMessage.objects.bulk_create(
            ChannelMessage(channel=name, payload=message, expires_at=expires_at)
            for name in channels
        )
        if random.random() < PRUNE_PROBABILITY:  # spread the pruning over senders
            self._prune(now)

    def _queued(self, channel, now) -> int:
        return ChannelMessage.objects.filter(channel=channel, expires_at__gt=now).count()

    def _pop(self, channel):
        """Take the oldest live message for `channel`; the delete's row count settles races."""
        now = timezone.now()
        rows = ChannelMessage.objects.filter(channel=channel, expires_at__gt=now).order_by("id")
        for row in rows[:5]:
            deleted, _ = ChannelMessage.objects.filter(pk=row.pk).delete()
            if deleted:
                return row.payload
        return None

    def _join(self, group, channel):
        expires_at = timezone.now() + timedelta(seconds=self.group_expiry)
        # A concurrent join of the same channel may have made the row first.
        with contextlib.suppress(IntegrityError):
            ChannelGroupMember.objects.update_or_create(
                group=group, channel=channel, defaults={"expires_at": expires_at}
            )

    def _send_to_group(self, group, message):
        now = timezone.now()
        members = ChannelGroupMember.objects.filter(group=group, expires_at__gt=now)
        channels = list(members.values_list("channel", flat=True))
        if channels:
            self._store(channels, message)

    def _prune(self, now):
        ChannelMessage.objects.filter(expires_at__lte=now).delete()
        ChannelGroupMember.objects.filter(expires_at__lte=now).delete()

    def _flush(self):
        ChannelMessage.objects.all().delete()
        ChannelGroupMember.objects.all().delete()
