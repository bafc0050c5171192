"""The Slack extension's manifest: what core derives for Slack, in one place."""

from extensions.api import Extension, Setting

extension = Extension(
    name="slack",
    version="0.1.0",
    description="Slack Events API and slash commands (X-Slack-Signature) and chat.postMessage.",
    actions=["integrations.slack.actions.post_message"],
    webhook="integrations.slack.webhook",
    platform="slack",
    secret_settings=["SLACK_SIGNING_SECRET"],
    settings=[
        Setting("SLACK_SIGNING_SECRET", kind="secret", help="verifies X-Slack-Signature"),
        Setting("SLACK_BOT_TOKEN", kind="secret", help="bot token for slack.post_message"),
        Setting("SLACK_API_URL", "https://slack.com/api", kind="url"),
        # Most connections one process opens to Slack (SPEC §6: 5-15).
        Setting("SLACK_POOL_MAX", 15, kind="int"),
        Setting("FLAGS_SLACK_CHANNEL", "#ops", help="where guarded rollbacks are announced"),
    ],
    demo="integrations.slack.demo.seed",
    notify="integrations.slack.notify.post_notice",
)
