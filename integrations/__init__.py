"""Built-in platform integrations, one folder each, named by its registry key.

Plain data: a platform key mapped to the dotted path of its webhook receiver module (see
`orchestrator.events.webhooks` for what a receiver provides). The webhook routes are derived
from this table, so adding a platform adds a line here and a folder, never a core change.
"""

WEBHOOK_RECEIVERS: dict[str, str] = {
    "github": "integrations.github.webhook",
    "linear": "integrations.linear.webhook",
    "slack": "integrations.slack.webhook",
}
