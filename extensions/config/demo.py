"""Demo configuration for `make run`: a `core` document, so the admin's pages are filled."""

from extensions.config import store

DEMO_CORE = {
    "environment": "demo",
    "team": "Contexten demo",
    "shared": {"runbook_url": "https://example.com/runbooks/contexten"},
    # A literal secret, so the demo shows masking; in production prefer env:NAME.
    "secrets": {"deploy_hook_token": "demo-deploy-hook-token"},
}


def seed_core_config() -> str:
    return store.seed("core", DEMO_CORE, reason="demo configuration")
