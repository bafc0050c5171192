"""Demo workflows for `make run`: the SPEC §6 example, a Slack mention reply, a daily report."""

from orchestrator.workflows import definitions, dsl
from orchestrator.workflows.models import Workflow

PR_OPENED_TO_LINEAR = """\
name: pr-opened-to-linear
trigger:
  event: github.pull_request.opened      # glob allowed: github.pull_request.*
  when: "{{ not event.data.pull_request.draft }}"
concurrency: 50
steps:
  - id: ticket
    action: linear.create_issue
    with:
      title: "Review PR #{{ event.data.number }}: {{ event.data.pull_request.title }}"
    retry: {max_attempts: 5, backoff: exponential, initial: 1s, max: 60s}
    timeout: 30s
  - id: notify
    needs: [ticket]
    action: slack.post_message
    with:
      channel: "#eng"
      text: "{{ steps.ticket.output.identifier }} for PR #{{ event.data.number }}"
"""

SLACK_MENTION_REPLY = """\
name: slack-mention-reply
trigger:
  event: slack.app_mention
steps:
  - id: reply
    action: slack.post_message
    with:
      channel: "{{ event.data.event.channel }}"
      thread_ts: "{{ event.data.event.ts }}"
      text: "Hi <@{{ event.data.event.user }}>, I saw: {{ event.data.event.text }}"
    retry: {max_attempts: 3, initial: 1s, max: 10s}
"""

WEEKDAY_REPO_REPORT = """\
name: weekday-repo-report
trigger:
  schedule: "0 9 * * 1-5"               # 09:00 UTC, Monday to Friday
vars:
  repos: [acme/widgets]
steps:
  - id: report
    action: github.repo_report
    with:
      repos: "{{ vars.repos }}"
      stale_days: 7
  - id: send
    needs: [report]
    action: slack.post_message
    with:
      channel: "#eng"
      text: "{{ steps.report.output.slack_text }}"
"""

DEMO_WORKFLOWS = [PR_OPENED_TO_LINEAR, SLACK_MENTION_REPLY, WEEKDAY_REPO_REPORT]


def seed_workflows() -> str:
    """Create the three example workflows unless they exist (idempotent)."""
    created = []
    for text in DEMO_WORKFLOWS:
        document = dsl.parse_text(text)
        if not Workflow.objects.filter(name=document["name"]).exists():
            definitions.create_workflow(document, source=text)
            created.append(document["name"])
    return f"workflows: {len(created)} created, {len(DEMO_WORKFLOWS) - len(created)} kept"
