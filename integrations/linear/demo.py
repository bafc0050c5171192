"""Linear's demo data for `make run`: an issue delivery and the SPEC §6 example workflow."""

from pathlib import Path

from orchestrator.events.demo import seed_fixture_events
from orchestrator.workflows.demo import seed_workflow_texts

FIXTURES = Path(__file__).parent / "fixtures"

# The SPEC §6 example: a GitHub pull request becomes a Linear issue, announced in Slack.
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
    # Outlasts `make run`'s 45 s Slack drill (1+2+4+8+16+30+30 s of backoff): the notice is
    # late, never lost. With the default 3 attempts, runs that failed twice before the
    # breaker opened failed for good.
    retry: {max_attempts: 8, backoff: exponential, initial: 1s, max: 30s}
"""


def seed() -> str:
    events = seed_fixture_events("linear", FIXTURES, [("issue__create", {})])
    return f"{events}; {seed_workflow_texts([PR_OPENED_TO_LINEAR])}"
