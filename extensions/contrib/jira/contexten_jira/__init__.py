"""Jira Cloud for Contexten: the manifest.

A contrib extension, built only on `extensions.api`: a signed webhook receiver
(`X-Hub-Signature`), three actions against Jira's REST API v3, a health check (`myself`)
and a configuration schema whose secrets are write-only and default to the environment.
"""

from extensions.api import Extension, Setting

from . import actions, demo, health, webhook
from ._version import VERSION
from .sandbox import make_app

CONFIG_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "base_url": {
            "type": "string",
            "description": "Your site, e.g. https://acme.atlassian.net",
            "default": "env:JIRA_BASE_URL",
        },
        "email": {
            "type": "string",
            "description": "The Atlassian account the API token belongs to",
            "default": "env:JIRA_EMAIL",
        },
        "api_token": {
            "type": "string",
            "writeOnly": True,
            "description": "An Atlassian API token (id.atlassian.com, Security)",
            "default": "env:JIRA_API_TOKEN",
        },
        "webhook_secret": {
            "type": "string",
            "writeOnly": True,
            "description": "The secret set on the Jira admin webhook; signs X-Hub-Signature",
            "default": "env:JIRA_WEBHOOK_SECRET",
        },
        "project_key": {
            "type": "string",
            "pattern": "^[A-Z][A-Z0-9_]{1,9}$",
            "description": "Project for jira.create_issue when a step names none",
            "default": "ENG",
        },
        "issue_type": {
            "type": "string",
            "minLength": 1,
            "description": "Issue type for jira.create_issue when a step names none",
            "default": "Task",
        },
    },
    "additionalProperties": False,
}

extension = Extension(
    name="jira",
    version=VERSION,
    description="Jira Cloud: issue and comment webhooks; create, comment on and move issues.",
    # Objects, not dotted paths: a version installed beside this one is loaded under its own
    # module names, and an object always belongs to the version that declared it.
    actions=[actions.create_issue, actions.add_comment, actions.transition_issue],
    config_schema=CONFIG_SCHEMA,
    webhook=webhook,
    health_checks={"jira:api": health.check_api},
    core=">=0.1",
    platform="jira",
    settings=[
        # Most connections one process opens to the Jira site (Jira Cloud rate-limits per
        # account; 10 keeps a burst of runs well inside it).
        Setting("JIRA_POOL_MAX", 10, kind="int", help="connections per process to Jira"),
    ],
    demo=demo.seed,
    # The strict Jira stand-in the tests use; the demo configuration points at it.
    sandbox=make_app,
)
