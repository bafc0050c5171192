"""Slack's cheap authenticated call for the health checks: `auth.test`."""

from django.conf import settings

from integrations.slack.client import slack


async def check_api() -> dict | None:
    """None when Slack is not configured; otherwise the workspace the token belongs to."""
    if not settings.SLACK_BOT_TOKEN:
        return None
    answer = await (await slack()).read("auth.test")
    return {"componentId": str(answer.get("team_id", ""))}
