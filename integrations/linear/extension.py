"""The Linear extension's manifest: what core derives for Linear, in one place."""

from extensions.api import Extension, Setting

extension = Extension(
    name="linear",
    version="0.1.0",
    description="Linear webhooks (Linear-Signature) and issue and comment actions.",
    actions=[
        "integrations.linear.actions.create_issue",
        "integrations.linear.actions.create_comment",
    ],
    webhook="integrations.linear.webhook",
    platform="linear",
    secret_settings=["LINEAR_WEBHOOK_SECRET"],
    settings=[
        Setting("LINEAR_WEBHOOK_SECRET", kind="secret", help="verifies Linear-Signature"),
        Setting("LINEAR_API_KEY", kind="secret", help="API key for the Linear actions"),
        Setting("LINEAR_API_URL", "https://api.linear.app/graphql"),
        # Most connections one process opens to Linear (SPEC §6: 5-20).
        Setting("LINEAR_POOL_MAX", 20, kind="int"),
        Setting("LINEAR_TEAM", help="team key linear.create_issue uses by default"),
        Setting("LINEAR_TEAM_ID", help="or the team's id (the old CodegenApp's setting)"),
    ],
    demo="integrations.linear.demo.seed",
)
