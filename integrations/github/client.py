"""Async GitHub REST client: pooled per event loop, breaker-guarded, ETag-aware lookups.

Base URL and token come from GITHUB_API_URL and GITHUB_TOKEN (GitHub Enterprise works by
pointing GITHUB_API_URL at https://HOST/api/v3). Answers are parsed into typed models at the
edge; callers never dig through raw dicts.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from pydantic import BaseModel, ConfigDict

from orchestrator.core import cache
from orchestrator.core.http import Answer, PlatformClient, PlatformError, session_for

API_VERSION = "2022-11-28"
LAST_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="last"')


class GitHubModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Issue(GitHubModel):
    id: int
    node_id: str
    number: int
    title: str
    html_url: str
    state: str = "open"
    body: str | None = None
    created_at: str = ""
    updated_at: str = ""
    draft: bool = False
    pull_request: dict | None = None
    head: dict | None = None


class Comment(GitHubModel):
    id: int
    node_id: str
    html_url: str
    body: str | None = None


class CheckRun(GitHubModel):
    id: int
    name: str
    status: str
    conclusion: str | None = None
    html_url: str | None = None


class GitHubClient(PlatformClient):
    platform = "github"

    async def create_issue(self, repo: str, fields: dict[str, Any]) -> Issue:
        answer = await self.call("POST", f"/repos/{repo}/issues", json=fields)
        return Issue.model_validate(answer.data)

    async def create_comment(self, repo: str, number: int, body: str) -> Comment:
        answer = await self.call(
            "POST", f"/repos/{repo}/issues/{number}/comments", json={"body": body}
        )
        return Comment.model_validate(answer.data)

    async def find_comment(self, repo: str, number: int, needle: str) -> Comment | None:
        """The newest comment whose body contains `needle`, or None.

        GitHub lists comments oldest first, 100 a page at most, so a retry's earlier attempt
        sits on the LAST page of a busy issue. The first page's Link header names the last
        page; the pages are then read from the last backwards and the search stops at the
        first hit (two calls when the earlier attempt is recent). Paging rather than `since`:
        `since` compares GitHub's clock with ours, and a skew would hide the comment.
        """
        path = f"/repos/{repo}/issues/{number}/comments"
        first = await self.call("GET", path, params={"per_page": "100"})
        for page in range(last_page(first.headers), 1, -1):
            answer = await self.call("GET", path, params={"per_page": "100", "page": str(page)})
            found = _newest_with(answer.data or [], needle)
            if found is not None:
                return found
        return _newest_with(first.data or [], needle)

    async def add_labels(self, repo: str, number: int, labels: list[str]) -> list[str]:
        answer = await self.call(
            "POST", f"/repos/{repo}/issues/{number}/labels", json={"labels": labels}
        )
        return [label["name"] for label in answer.data or []]

    async def list_issues(self, repo: str, **params: str) -> list[Issue]:
        """Issues and pull requests, as GitHub lists them (PRs carry `pull_request`)."""
        query = {"per_page": "100", **params}
        answer = await self.call("GET", f"/repos/{repo}/issues", params=query)
        return [Issue.model_validate(item) for item in answer.data or []]

    async def list_pulls(self, repo: str, state: str = "open") -> list[Issue]:
        answer = await self.call(
            "GET", f"/repos/{repo}/pulls", params={"state": state, "per_page": "100"}
        )
        return [Issue.model_validate(item) for item in answer.data or []]

    async def check_runs(self, repo: str, ref: str) -> list[CheckRun]:
        answer = await self.call("GET", f"/repos/{repo}/commits/{ref}/check-runs")
        return [CheckRun.model_validate(item) for item in (answer.data or {}).get("check_runs", [])]

    async def repository(self, repo: str) -> dict:
        """The repository, from the two-level cache; revalidated with If-None-Match."""

        async def fetch(stale: cache.Entry | None) -> cache.Entry:
            headers = {"If-None-Match": stale.etag} if stale and stale.etag else {}
            answer = await self.call("GET", f"/repos/{repo}", headers=headers)
            if answer.status == 304 and stale is not None:
                return cache.Entry(stale.value, stale.etag)
            return cache.Entry(answer.data, answer.etag)

        return await cache.lookup(f"github:repo:{settings.GITHUB_API_URL}:{repo.lower()}", fetch)

    def check(self, answer: Answer) -> PlatformError | None:
        error = super().check(answer)
        if error is not None and answer.status == 404:
            error.args = (f"{error.args[0]} (unknown repository or issue, or no access)",)
        return error


def last_page(headers: dict[str, str]) -> int:
    """The page number GitHub's Link header marks rel="last"; 1 without one (one page)."""
    link = next((v for k, v in headers.items() if k.lower() == "link"), "")
    match = LAST_LINK.search(link)
    if match is None:
        return 1
    page = parse_qs(urlsplit(match[1]).query).get("page", ["1"])[0]
    return int(page) if page.isdigit() else 1


def _newest_with(items: list[dict], needle: str) -> Comment | None:
    for item in reversed(items):
        if needle in (item.get("body") or ""):
            return Comment.model_validate(item)
    return None


async def github() -> GitHubClient:
    """The running loop's GitHub client."""
    if not settings.GITHUB_TOKEN:
        raise PlatformError("github: GITHUB_TOKEN is not set", permanent=True)
    headers = {
        "Authorization": f"Bearer {settings.GITHUB_TOKEN}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
    }
    session = await session_for("github", settings.GITHUB_API_URL, headers)
    return GitHubClient(session, settings.GITHUB_API_URL)
