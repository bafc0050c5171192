"""The old event types (`codegen.extensions.{github,linear,slack}.types`), same names and
fields, so real payloads validate into them as before. Every model ignores extra fields.

Two deliberate differences: fields that real deliveries often lack (a PR event's
`enterprise` or `installation`, most of a Slack event) are optional, and the Linear models
also accept Linear's own camelCase names (`createdAt` for `created_at`).
"""

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class LegacyModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def either(snake: str, camel: str, default: Any = None):
    return Field(default=default, validation_alias=AliasChoices(snake, camel))


# --- GitHub ---------------------------------------------------------------------------------
class GitHubUser(LegacyModel):
    id: int
    login: str
    node_id: str | None = None
    type: str | None = None
    html_url: str | None = None
    avatar_url: str | None = None


User = GitHubUser


class GitHubLabel(LegacyModel):
    id: int
    node_id: str | None = None
    url: str | None = None
    name: str
    description: str | None = None
    color: str | None = None
    default: bool = False


Label = GitHubLabel


class GitHubRepository(LegacyModel):
    id: int
    node_id: str | None = None
    name: str
    full_name: str
    private: bool = False
    owner: GitHubUser | None = None
    html_url: str | None = None
    default_branch: str | None = None


class GitHubOrganization(LegacyModel):
    login: str
    id: int
    node_id: str | None = None
    url: str | None = None
    description: str | None = None


class GitHubEnterprise(LegacyModel):
    id: int
    slug: str | None = None
    name: str | None = None
    node_id: str | None = None
    html_url: str | None = None


class GitHubInstallation(LegacyModel):
    id: int
    node_id: str | None = None


class PullRequestRef(LegacyModel):
    label: str | None = None
    ref: str
    sha: str
    user: GitHubUser | None = None
    repo: GitHubRepository | None = None


class PullRequest(LegacyModel):
    id: int
    number: int
    state: str
    locked: bool = False
    title: str
    user: GitHubUser
    body: str | None = None
    labels: list[GitHubLabel] = []
    created_at: str
    updated_at: str
    closed_at: str | None = None
    merged_at: str | None = None
    draft: bool = False
    html_url: str | None = None
    url: str | None = None
    head: PullRequestRef | None = None
    base: PullRequestRef | None = None
    merged: bool | None = None
    additions: int | None = None
    deletions: int | None = None
    changed_files: int | None = None


SimplePullRequest = PullRequest


class _PullRequestEvent(LegacyModel):
    action: str
    number: int
    pull_request: PullRequest
    repository: GitHubRepository
    organization: GitHubOrganization | None = None
    enterprise: GitHubEnterprise | None = None
    sender: GitHubUser
    installation: GitHubInstallation | None = None


class PullRequestLabeledEvent(_PullRequestEvent):
    action: Literal["labeled"]
    label: GitHubLabel


class PullRequestUnlabeledEvent(_PullRequestEvent):
    label: GitHubLabel


class PullRequestOpenedEvent(_PullRequestEvent):
    action: str = "opened"


class Commit(LegacyModel):
    id: str
    distinct: bool = True
    message: str | None = None
    timestamp: str | None = None
    url: str | None = None
    added: list[str] = []
    removed: list[str] = []
    modified: list[str] = []


class Pusher(LegacyModel):
    name: str | None = None
    email: str | None = None


class PushEvent(LegacyModel):
    ref: str | None = None
    before: str | None = None
    after: str | None = None
    repository: GitHubRepository | None = None
    pusher: Pusher | None = None
    sender: GitHubUser | None = None
    commits: list[Commit] = []
    head_commit: Commit | None = None
    created: bool = False
    deleted: bool = False
    forced: bool = False
    compare: str | None = None


# --- Linear ---------------------------------------------------------------------------------
class LinearUser(LegacyModel):
    id: str
    name: str | None = None


class LinearTeam(LegacyModel):
    id: str
    name: str
    key: str


class LinearComment(LegacyModel):
    id: str
    body: str
    user: LinearUser | None = None
    issue_id: str | None = either("issue_id", "issueId")


class LinearIssue(LegacyModel):
    id: str
    title: str
    description: str | None = None
    priority: int | None = None
    team_id: str | None = either("team_id", "teamId")
    identifier: str | None = None


class LinearAttachment(LegacyModel):
    id: str
    url: str
    title: str
    subtitle: str | None = None
    size: int | None = None
    content_type: str | None = either("content_type", "contentType")
    source: str | None = None
    issue_id: str | None = either("issue_id", "issueId")


class LinearEvent(LegacyModel):
    action: str
    type: str
    data: LinearIssue | LinearComment | dict[str, Any]
    url: str | None = None
    created_at: str | None = either("created_at", "createdAt")
    organization_id: str | None = either("organization_id", "organizationId")
    team_id: str | None = either("team_id", "teamId")
    attachments: list[LinearAttachment] = []


# --- Slack ----------------------------------------------------------------------------------
class RichTextElement(LegacyModel):
    type: str
    user_id: str | None = None
    text: str | None = None
    style: dict | None = None
    url: str | None = None
    channel_id: str | None = None


class RichTextSection(LegacyModel):
    type: str
    elements: list[RichTextElement] = []
    style: dict | str | None = None


class Block(LegacyModel):
    type: str
    block_id: str | None = None
    elements: list[RichTextSection] = []


class SlackEvent(LegacyModel):
    user: str | None = None
    type: str
    ts: str | None = None
    client_msg_id: str | None = None
    text: str | None = None
    team: str | None = None
    blocks: list[Block] | None = None
    channel: str | None = None
    event_ts: str | None = None
    thread_ts: str | None = None


class SlackWebhookPayload(LegacyModel):
    token: str | None = None
    team_id: str | None = None
    api_app_id: str | None = None
    event: SlackEvent | None = None
    type: str | None = None
    event_id: str | None = None
    event_time: int | None = None
    challenge: str | None = None
    subtype: str | None = None
