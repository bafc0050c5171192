"""Demo data for `make run`: a configuration pointing at the Jira sandbox, and workflows."""

from __future__ import annotations

ISSUE_TRIAGE = """\\
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


def seed() -> str:
    """Seed the demo configuration and workflows (idempotent)."""
    return "jira: demo not wired yet"
