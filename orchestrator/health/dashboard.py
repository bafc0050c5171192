"""The live dashboard page and its websocket consumer (staff only)."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import render

DASHBOARD_GROUP = "dashboard"
WS_CLOSE_FORBIDDEN = 4403


@staff_member_required
def dashboard_page(request):
    return render(request, "dashboard/index.html", {"title": "Live dashboard"})


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    """Pushes dashboard updates to staff browsers; anyone else is closed with 4403."""

    async def connect(self):
        user = self.scope.get("user")
        if not (user and user.is_authenticated and user.is_staff):
            await self.close(code=WS_CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "user": user.get_username()})

    async def disconnect(self, code):
        await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)

    async def dashboard_update(self, message):
        """Relay a `dashboard.update` group message to the browser."""
        await self.send_json({"type": "update", "payload": message.get("payload", {})})
