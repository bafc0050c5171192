"""The GitHub extension's manifest: what core derives for GitHub, in one place."""

from extensions.api import Extension, Setting

extension = Extension(
    name="github",
    version="0.1.0",
    description="GitHub webhooks (X-Hub-Signature-256) and issue, comment and label actions.",
    actions=[
        "integrations.github.actions.create_issue",
        "integrations.github.actions.create_comment",
        "integrations.github.actions.add_labels",
        "integrations.github.actions.repo_report",
    ],
    webhook="integrations.github.webhook",
    platform="github",
    secret_settings=["GITHUB_WEBHOOK_SECRET"],
    settings=[
        Setting("GITHUB_WEBHOOK_SECRET", kind="secret", help="verifies X-Hub-Signature-256"),
        Setting("GITHUB_TOKEN", kind="secret", help="token for the GitHub actions"),
        Setting("GITHUB_API_URL", "https://api.github.com", kind="url"),
        # Most connections one process opens to GitHub (SPEC §6: 10-50).
        Setting("GITHUB_POOL_MAX", 50, kind="int"),
    ],
    demo="integrations.github.demo.seed",
)
