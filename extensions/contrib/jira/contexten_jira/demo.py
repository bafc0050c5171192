"""Demo data for `make run`: a configuration pointing at the Jira sandbox, two workflows that
use the Jira actions, and one Jira delivery that starts the first of them.

The sandbox (the manifest's `sandbox`, `make_app`) is served by `make run`, which points
JIRA_BASE_URL at it (by hand: `python -m contexten_jira.sandbox --port 8111` and
JIRA_BASE_URL=http://127.0.0.1:8111). It already holds ENG-42, the issue the demo delivery
is about, so the demo run comments on a real (sandboxed)
issue and moves it to In Progress.
"""

from __future__ import annotations

from pathlib import Path

from extensions.api import seed_config, seed_events, seed_workflows

from .sandbox.server import DEMO_ISSUE, JiraSandbox

FIXTURES = Path(__file__).parent / "fixtures"

# No base_url: the schema's default `env:JIRA_BASE_URL` is what `make run` points at the
# sandbox it serves (the manifest's `sandbox`); under `make serve` set it to your Jira.
DEMO_CONFIG = {
    "email": JiraSandbox.EMAIL,
    "api_token": JiraSandbox.API_TOKEN,
    "webhook_secret": "demo-jira-webhook-secret",
    "project_key": "ENG",
    "issue_type": "Task",
}

ISSUE_TRIAGE = """\
name: jira-issue-triage
trigger:
  event: jira.issue.created
steps:
  - id: ack
    action: jira.add_comment
    with:
      issue: "{{ event.data.issue.key }}"
      body: "Contexten picked up {{ event.data.issue.key }}: {{ event.data.issue.fields.summary }}"
    retry: {max_attempts: 5, backoff: exponential, initial: 1s, max: 30s}
  - id: start
    needs: [ack]
    action: jira.transition_issue
    with:
      issue: "{{ event.data.issue.key }}"
      status: In Progress
"""

GITHUB_ISSUE_TO_JIRA = """\
name: github-issue-to-jira
trigger:
  event: github.issues.opened
steps:
  - id: ticket
    action: jira.create_issue
    with:
      summary: "{{ event.data.repository.full_name }}#{{ event.data.issue.number }}:
        {{ event.data.issue.title }}"
      description: "Opened on GitHub by {{ event.data.issue.user.login }}:
        {{ event.data.issue.html_url }}"
      project: "{{ config.jira.project_key }}"
    retry: {max_attempts: 5, backoff: exponential, initial: 1s, max: 30s}
"""


def seed() -> str:
    """Seed the demo configuration, workflows and one delivery (idempotent)."""
    config = seed_config("jira", DEMO_CONFIG, reason="demo: point at the Jira sandbox")
    workflows = seed_workflows([ISSUE_TRIAGE, GITHUB_ISSUE_TO_JIRA])
    identifier = {"x-atlassian-webhook-identifier": f"demo-{DEMO_ISSUE}-created"}
    events = seed_events("jira", FIXTURES, [("jira:issue_created__default", identifier)])
    return f"jira: {config}; {workflows}; {events}"
