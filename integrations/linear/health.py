"""Linear's cheap authenticated call for the health checks: the `viewer` query."""

from django.conf import settings

from integrations.linear.client import linear

VIEWER = "query Viewer { viewer { id } }"


async def check_api() -> dict | None:
    """None when Linear is not configured; otherwise the user the key belongs to."""
    if not settings.LINEAR_API_KEY:
        return None
    data = await (await linear()).graphql(VIEWER, {})
    return {"componentId": str((data.get("viewer") or {}).get("id", ""))}
