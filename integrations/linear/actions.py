"""Linear workflow actions.

Idempotency: Linear's create inputs accept a client-chosen `id` (a UUID). The action derives
it from the step's idempotency key (UUIDv5), so a retry can never create a second issue or
comment: on attempts after the first it looks the id up before creating.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from pydantic import BaseModel, Field

from extensions.api import ActionContext, action
from integrations.linear.client import linear

ID_NAMESPACE = uuid.UUID("6f1c2d0e-8a43-5b7e-9c1d-2f0a4b6c8e10")


def client_id(idempotency_key: str, kind: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{kind}:{idempotency_key}"))


class CreateIssueInput(BaseModel):
    title: str = Field(min_length=1, max_length=255)
    description: str | None = None
    team: str | None = Field(default=None, description="team key, e.g. ENG; LINEAR_TEAM if unset")
    team_id: str | None = None
    priority: int | None = Field(default=None, ge=0, le=4)
    label_ids: list[str] = Field(default_factory=list)


class CreateCommentInput(BaseModel):
    issue_id: str = Field(min_length=1, description="issue id or identifier, e.g. ENG-42")
    body: str = Field(min_length=1)


@action("linear.create_issue", input_model=CreateIssueInput, platform="linear")
async def create_issue(params: CreateIssueInput, context: ActionContext) -> dict:
    """Create an issue; answer {"id", "identifier", "url", "title"}."""
    client = await linear()
    issue_id = client_id(context.idempotency_key, "issue")
    issue = await client.issue(issue_id) if context.attempt > 1 else None
    if issue is None:
        default_id = None if params.team else settings.LINEAR_TEAM_ID
        team_id = (
            params.team_id
            or default_id
            or await client.team_id(params.team or settings.LINEAR_TEAM or None)
        )
        fields = {"id": issue_id, "teamId": team_id, "title": params.title}
        if params.description:
            fields["description"] = params.description
        if params.priority is not None:
            fields["priority"] = params.priority
        if params.label_ids:
            fields["labelIds"] = params.label_ids
        issue = await client.create_issue(fields)
    return {"id": issue.id, "identifier": issue.identifier, "url": issue.url, "title": issue.title}


@action("linear.create_comment", input_model=CreateCommentInput, platform="linear")
async def create_comment(params: CreateCommentInput, context: ActionContext) -> dict:
    """Comment on an issue; answer {"id", "url"}."""
    client = await linear()
    comment_id = client_id(context.idempotency_key, "comment")
    comment = await client.comment(comment_id) if context.attempt > 1 else None
    if comment is None:
        fields = {"id": comment_id, "issueId": params.issue_id, "body": params.body}
        comment = await client.create_comment(fields)
    return {"id": comment.id, "url": comment.url}
