"""The old app's handler keys, how each maps to a stored event type, and typo detection.

- GitHub: `"{X-GitHub-Event}:{action}"`, or the bare event when the payload has no action:
  `pull_request:labeled` → `github.pull_request.labeled`, `push` → `github.push`.
- Linear: the payload's `type`; the action is ignored: `Issue` → `linear.issue.*`.
- Slack: the callback's inner event type: `app_mention` → `slack.app_mention`.
"""

import difflib
import re
from pathlib import Path

from integrations.linear.webhook import snake_case

PROVIDERS = ("github", "linear", "slack")

PR_ACTIONS = (
    "assigned auto_merge_disabled auto_merge_enabled closed converted_to_draft demilestoned "
    "dequeued edited enqueued labeled locked milestoned opened ready_for_review reopened "
    "review_request_removed review_requested synchronize unassigned unlabeled unlocked"
)
ISSUE_ACTIONS = (
    "assigned closed deleted demilestoned edited labeled locked milestoned opened pinned "
    "reopened transferred typed unassigned unlabeled unlocked unpinned untyped"
)
GITHUB_ACTIONS: dict[str, tuple[str, ...]] = {
    name: tuple(actions.split())
    for name, actions in {
        "pull_request": PR_ACTIONS,
        "issues": ISSUE_ACTIONS,
        "issue_comment": "created deleted edited",
        "pull_request_review": "dismissed edited submitted",
        "pull_request_review_comment": "created deleted edited",
        "pull_request_review_thread": "resolved unresolved",
        "check_run": "completed created requested_action rerequested",
        "check_suite": "completed requested rerequested",
        "release": "created deleted edited prereleased published released unpublished",
        "workflow_run": "completed in_progress requested",
        "workflow_job": "completed in_progress queued waiting",
        "label": "created deleted edited",
        "star": "created deleted",
        "watch": "started",
        "push": "",
        "create": "",
        "delete": "",
        "fork": "",
        "ping": "",
        "status": "",
        "public": "",
        "gollum": "",
        "workflow_dispatch": "",
    }.items()
}
LINEAR_TYPES = [
    "Attachment",
    "AuditEntry",
    "Comment",
    "Customer",
    "CustomerNeed",
    "Cycle",
    "Document",
    "Initiative",
    "InitiativeUpdate",
    "Issue",
    "IssueLabel",
    "IssueSLA",
    "Project",
    "ProjectUpdate",
    "Reaction",
    "User",
]
SLACK_TYPES = [
    "app_home_opened",
    "app_mention",
    "app_rate_limited",
    "app_uninstalled",
    "channel_archive",
    "channel_created",
    "channel_rename",
    "emoji_changed",
    "file_shared",
    "link_shared",
    "member_joined_channel",
    "member_left_channel",
    "message",
    "pin_added",
    "reaction_added",
    "reaction_removed",
    "team_join",
    "tokens_revoked",
    "user_change",
]
FIXTURES = Path(__file__).resolve().parents[2] / "integrations" / "github" / "fixtures"


def event_pattern(provider: str, key: str) -> str:
    """The stored event type (a glob for Linear) that a handler key listens to."""
    if provider == "github":
        event, _, action = key.partition(":")
        return f"github.{event}.{action}" if action else f"github.{event}"
    if provider == "linear":
        return f"linear.{snake_case(key)}.*"
    return f"slack.{key}"


def github_events() -> set[str]:
    """Events with known actions, plus every event a real fixture exists for."""
    fixtures = {path.stem.partition("__")[0] for path in FIXTURES.glob("*.json")}
    return set(GITHUB_ACTIONS) | fixtures


def github_keys(event: str) -> list[str]:
    return [event] + [f"{event}:{action}" for action in GITHUB_ACTIONS.get(event, ())]


def key_problem(provider: str, key: str) -> str | None:
    """One line naming the mistake and the known keys, or None for a known key."""
    if provider == "github":
        return github_problem(key)
    known = LINEAR_TYPES if provider == "linear" else SLACK_TYPES
    if key in known:
        return None
    return unknown(provider, key, known, f"known {provider} keys: {', '.join(known)}")


def github_problem(key: str) -> str | None:
    event, _, action = key.partition(":")
    events = github_events()
    if event not in events:
        return unknown("github", key, sorted(events), f"known events: {', '.join(sorted(events))}")
    if not action or event not in GITHUB_ACTIONS or action in GITHUB_ACTIONS[event]:
        return None
    keys = github_keys(event)
    return unknown("github", key, keys, f"known {event} keys: {', '.join(keys)}")


def unknown(provider: str, key: str, candidates, known: str) -> str:
    close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {provider} handler key {key!r}{hint}; {known}"


def workflow_name(provider: str, key: str) -> str:
    """The generated workflow's name: `legacy-github-pull_request-labeled`."""
    slug = re.sub(r"[^a-z0-9_]+", "-", key.lower()).strip("-")
    return f"legacy-{provider}-{slug}"[:100]
