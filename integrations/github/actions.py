"""GitHub workflow actions.

Idempotency: GitHub has no idempotency key for creating issues or comments, so the action
writes a hidden marker `<!-- contexten:idempotency-key=KEY -->` into the body. On a retry
(attempt > 1) it first looks for an item carrying the marker and answers that one instead of
creating a second. The first attempt skips the look-up, so the common case costs one call.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from extensions.api import ActionContext, action
from integrations.github.client import github
from integrations.github.report import ReportInput, build_report

REPO_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def marker(key: str) -> str:
    return f"<!-- contexten:idempotency-key={key} -->"


def with_marker(body: str, key: str) -> str:
    return f"{body}\n\n{marker(key)}" if body else marker(key)


class RepoInput(BaseModel):
    repo: str = Field(description="owner/name")

    @field_validator("repo")
    @classmethod
    def _owner_slash_name(cls, value: str) -> str:
        if not REPO_PATTERN.match(value):
            raise ValueError("must look like owner/name")
        return value


class CreateIssueInput(RepoInput):
    title: str = Field(min_length=1, max_length=256)
    body: str = ""
    labels: list[str] = Field(default_factory=list)
    assignees: list[str] = Field(default_factory=list)


class CreateCommentInput(RepoInput):
    issue_number: int = Field(gt=0, description="issue or pull request number")
    body: str = Field(min_length=1)


class AddLabelsInput(RepoInput):
    issue_number: int = Field(gt=0)
    labels: list[str] = Field(min_length=1)


@action("github.create_issue", input_model=CreateIssueInput, platform="github")
async def create_issue(params: CreateIssueInput, context: ActionContext) -> dict:
    """Open an issue; answer {"number", "url", "id", "node_id"}."""
    client = await github()
    key = context.idempotency_key
    issue = None
    if context.attempt > 1:
        recent = await client.list_issues(params.repo, state="all", sort="created")
        issue = next((i for i in recent if marker(key) in (i.body or "")), None)
    if issue is None:
        fields = params.model_dump(exclude={"repo"})
        fields["body"] = with_marker(params.body, key)
        issue = await client.create_issue(params.repo, fields)
    return {"number": issue.number, "url": issue.html_url, "id": issue.id, "node_id": issue.node_id}


@action("github.create_comment", input_model=CreateCommentInput, platform="github")
async def create_comment(params: CreateCommentInput, context: ActionContext) -> dict:
    """Comment on an issue or pull request; answer {"id", "url"}."""
    client = await github()
    key = context.idempotency_key
    comment = None
    if context.attempt > 1:
        comment = await client.find_comment(params.repo, params.issue_number, marker(key))
    if comment is None:
        body = with_marker(params.body, key)
        comment = await client.create_comment(params.repo, params.issue_number, body)
    return {"id": comment.id, "url": comment.html_url}


@action("github.add_labels", input_model=AddLabelsInput, platform="github")
async def add_labels(params: AddLabelsInput, context: ActionContext) -> dict:
    """Add labels to an issue or pull request (idempotent); answer {"labels": [all names]}."""
    client = await github()
    labels = await client.add_labels(params.repo, params.issue_number, params.labels)
    return {"labels": labels}


@action("github.repo_report", input_model=ReportInput, platform="github")
async def repo_report(params: ReportInput, context: ActionContext) -> dict:
    """Report open, stale and failing pull requests and new issues for the named repositories.

    Answer {"repos": [...], "totals": {...}, "markdown": "...", "slack_text": "..."}; see
    integrations/github/report.py for each field.
    """
    return await build_report(await github(), params)
