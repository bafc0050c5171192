"""GitHub's cheap authenticated call for the health checks: `GET /rate_limit`, which does
not spend the rate limit it reports."""

from django.conf import settings

from integrations.github.client import github


async def check_api() -> dict | None:
    """None when GitHub is not configured; otherwise the core budget left."""
    if not settings.GITHUB_TOKEN:
        return None
    answer = await (await github()).call("GET", "/rate_limit")
    core = (answer.data or {}).get("resources", {}).get("core", {})
    return {"componentId": "core", "rateLimitRemaining": core.get("remaining")}
