"""Jira workflow actions: create an issue, comment on one, move one to another status.

Idempotency. Jira takes no idempotency key, so each write carries the step's key itself:
- an issue gets a label `contexten-<hash of the key>` (labels are the only thing JQL can
  search without an app's property index) and an entity property `contexten` holding the
  key, the run and the step. On attempts after the first, the action searches for the label
  before creating, so a retry after a lost answer finds the issue it already made;
- a comment gets the entity property `contexten` (hidden from people); on attempts after the
  first the action lists the issue's comments with their properties and looks for the key;
- a transition is idempotent by nature: an issue already in the target status is left alone.
"""

from __future__ import annotations

import hashlib

from extensions.api import ActionContext, ActionError, action
from pydantic import BaseModel, Field

from ._version import VERSION
from .adf import document
from .client import JiraClient, jira_client

PROPERTY = "contexten"
LABEL_PREFIX = "contexten-"


class CreateIssueInput(BaseModel):
    summary: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, description="plain text; sent as ADF")
    project: str | None = Field(default=None, description="project key; config default if unset")
    issue_type: str | None = Field(default=None, description="e.g. Task, Bug; config default")
    labels: list[str] = Field(default_factory=list)


class AddCommentInput(BaseModel):
    issue: str = Field(min_length=1, description="issue key or id, e.g. ENG-42")
    body: str = Field(min_length=1, description="plain text; sent as ADF")


class TransitionInput(BaseModel):
    issue: str = Field(min_length=1, description="issue key or id, e.g. ENG-42")
    status: str = Field(min_length=1, description="the status to move to, e.g. In Progress")


def idempotency_label(key: str) -> str:
    return LABEL_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:24]


def marker(context: ActionContext) -> list[dict]:
    value = {"idempotency_key": context.idempotency_key, "run": str(context.run_id),
             "step": context.step_id, "version": VERSION}  # fmt: skip
    return [{"key": PROPERTY, "value": value}]


@action("jira.create_issue", input_model=CreateIssueInput, platform="jira")
async def create_issue(params: CreateIssueInput, context: ActionContext) -> dict:
    """Create an issue; answer {"id", "key", "url"}."""
    client = await jira_client(context.config)
    project = params.project or context.config.get("project_key") or ""
    if not project:
        message = (
            "jira.create_issue: the step names no project and config.jira.project_key is empty"
        )
        raise ActionError(message, permanent=True)
    label = idempotency_label(context.idempotency_key)
    issue = await earlier_issue(client, project, label) if context.attempt > 1 else None
    if issue is None:
        issue_type = params.issue_type or context.config.get("issue_type") or "Task"
        fields = {
            "project": {"key": project},
            "summary": params.summary,
            "issuetype": {"name": issue_type},
            "labels": [*params.labels, label],
        }
        if params.description:
            fields["description"] = document(params.description)
        issue = await client.create_issue(fields, marker(context))
    return {"id": issue.id, "key": issue.key, "url": client.browse_url(issue.key)}


async def earlier_issue(client: JiraClient, project: str, label: str):
    found = await client.search(f'project = {project} AND labels = "{label}"')
    return found[0] if found else None


@action("jira.add_comment", input_model=AddCommentInput, platform="jira")
async def add_comment(params: AddCommentInput, context: ActionContext) -> dict:
    """Comment on an issue; answer {"id", "issue", "url"}."""
    client = await jira_client(context.config)
    comment = await earlier_comment(client, params.issue, context) if context.attempt > 1 else None
    if comment is None:
        comment = await client.add_comment(params.issue, document(params.body), marker(context))
    url = f"{client.browse_url(params.issue)}?focusedCommentId={comment.id}"
    return {"id": comment.id, "issue": params.issue, "url": url}


async def earlier_comment(client: JiraClient, issue: str, context: ActionContext):
    for comment in await client.comments(issue):
        for item in comment.properties:
            value = item.get("value") if item.get("key") == PROPERTY else None
            if isinstance(value, dict) and value.get("idempotency_key") == context.idempotency_key:
                return comment
    return None


@action("jira.transition_issue", input_model=TransitionInput, platform="jira")
async def transition_issue(params: TransitionInput, context: ActionContext) -> dict:
    """Move an issue to a status by name; answer {"issue", "status", "changed"}."""
    client = await jira_client(context.config)
    current = (await client.issue(params.issue)).fields.get("status", {}).get("name", "")
    if current.casefold() == params.status.casefold():
        return {"issue": params.issue, "status": current, "changed": False}
    transitions = await client.transitions(params.issue)
    wanted = next((t for t in transitions if target_name(t) == params.status.casefold()), None)
    if wanted is None:
        names = ", ".join(sorted(t.get("to", {}).get("name", "?") for t in transitions))
        raise ActionError(
            f"jira.transition_issue: {params.issue} cannot move to {params.status!r} "
            f"(it can move to: {names or 'nothing'})",
            permanent=True,
        )
    await client.transition(params.issue, str(wanted["id"]))
    return {"issue": params.issue, "status": wanted["to"]["name"], "changed": True}


def target_name(transition: dict) -> str:
    return str(transition.get("to", {}).get("name", "")).casefold()
