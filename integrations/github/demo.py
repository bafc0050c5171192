"""GitHub's demo data for `make run`: two deliveries and the weekday report workflow."""

from pathlib import Path

from orchestrator.events.demo import seed_fixture_events
from orchestrator.workflows.demo import seed_workflow_texts

FIXTURES = Path(__file__).parent / "fixtures"
DELIVERIES = [
    ("pull_request__opened", {"x-github-event": "pull_request"}),
    ("push__main", {"x-github-event": "push"}),
]

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


def seed() -> str:
    headers = [(name, {**h, "x-github-delivery": f"demo-{name}"}) for name, h in DELIVERIES]
    events = seed_fixture_events("github", FIXTURES, headers)
    return f"{events}; {seed_workflow_texts([WEEKDAY_REPO_REPORT])}"
