"""The repository report behind github.repo_report (and the daily report workflow).

For each repository: open pull requests, stale ones (no update for `stale_days`), pull
requests whose head commit has failing checks, and issues opened in the last `new_days`.
Output (a dict, JSON-safe):

    {"generated_at": ISO time,
     "repos": [{"repo", "url", "open_prs": [PR], "stale_prs": [PR], "failing_checks":
                [{"number", "title", "url", "checks": [{"name", "conclusion", "url"}]}],
                "new_issues": [{"number", "title", "url", "created_at"}]}],
     "totals": {"open_prs", "stale_prs", "failing_checks", "new_issues"},
     "markdown": GitHub-flavoured summary, "slack_text": the same in Slack mrkdwn}
    PR = {"number", "title", "url", "updated_at", "draft"}
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field, field_validator

from integrations.github.client import GitHubClient, Issue

FAILING = {"failure", "timed_out", "cancelled", "action_required", "startup_failure"}
MAX_CHECKED_PRS = 20  # check runs cost one call per PR: cap it per repository


class ReportInput(BaseModel):
    repos: list[str] = Field(min_length=1, max_length=20, description="owner/name, ...")
    stale_days: int = Field(default=7, ge=1, le=365)
    new_days: int = Field(default=1, ge=1, le=90)

    @field_validator("repos", mode="before")
    @classmethod
    def _split_text(cls, value):
        """Accept "acme/a, acme/b" too (a manual trigger or a rendered template)."""
        return value.replace(",", " ").split() if isinstance(value, str) else value

    @field_validator("repos")
    @classmethod
    def _owner_slash_name(cls, value: list[str]) -> list[str]:
        from integrations.github.actions import REPO_PATTERN

        bad = [repo for repo in value if not REPO_PATTERN.match(repo)]
        if bad:
            raise ValueError(f"{bad[0]!r} must look like owner/name")
        return value


async def build_report(client: GitHubClient, params: ReportInput) -> dict:
    now = datetime.now(UTC)
    repos = await asyncio.gather(*(repo_section(client, r, params, now) for r in params.repos))
    totals = {
        name: sum(len(section[name]) for section in repos)
        for name in ("open_prs", "stale_prs", "failing_checks", "new_issues")
    }
    report = {"generated_at": now.isoformat(timespec="seconds"), "repos": repos, "totals": totals}
    report["markdown"] = render(report, slack=False)
    report["slack_text"] = render(report, slack=True)
    return report


async def repo_section(client: GitHubClient, repo: str, params: ReportInput, now) -> dict:
    info = await client.repository(repo)  # cached; a 404 names the repository
    since = now - timedelta(days=params.new_days)
    pulls, recent = await asyncio.gather(
        client.list_pulls(repo),
        client.list_issues(repo, state="all", since=since.isoformat(timespec="seconds")),
    )
    stale_before = now - timedelta(days=params.stale_days)
    checked = await asyncio.gather(
        *(failing_checks(client, repo, pr) for pr in pulls[:MAX_CHECKED_PRS])
    )
    return {
        "repo": repo,
        "url": info.get("html_url", f"https://github.com/{repo}"),
        "open_prs": [pr_summary(pr) for pr in pulls],
        "stale_prs": [pr_summary(pr) for pr in pulls if parse_time(pr.updated_at) < stale_before],
        "failing_checks": [entry for entry in checked if entry],
        "new_issues": [
            {"number": i.number, "title": i.title, "url": i.html_url, "created_at": i.created_at}
            for i in recent
            if i.pull_request is None and parse_time(i.created_at) >= since
        ],
    }


async def failing_checks(client: GitHubClient, repo: str, pr: Issue) -> dict | None:
    sha = (pr.head or {}).get("sha")
    if not sha:
        return None
    failed = [run for run in await client.check_runs(repo, sha) if run.conclusion in FAILING]
    if not failed:
        return None
    return {
        "number": pr.number,
        "title": pr.title,
        "url": pr.html_url,
        "checks": [{"name": r.name, "conclusion": r.conclusion, "url": r.html_url} for r in failed],
    }


def pr_summary(pr: Issue) -> dict:
    return {"number": pr.number, "title": pr.title, "url": pr.html_url,
            "updated_at": pr.updated_at, "draft": pr.draft}  # fmt: skip


def parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)


def render(report: dict, *, slack: bool) -> str:
    """One block per repository; links in GitHub markdown or Slack mrkdwn."""
    bold = "*{}*" if slack else "**{}**"
    lines = [bold.format(f"Repository report ({report['generated_at'][:10]})")]
    for section in report["repos"]:
        lines.append("")
        lines.append(bold.format(section["repo"]) + ": " + ", ".join(
            f"{len(section[key])} {label}"
            for key, label in (("open_prs", "open PRs"), ("stale_prs", "stale"),
                               ("failing_checks", "failing checks"), ("new_issues", "new issues"))
        ))  # fmt: skip
        for title, key in (("Stale", "stale_prs"), ("Failing checks", "failing_checks"),
                           ("New issues", "new_issues")):  # fmt: skip
            for item in section[key][:10]:
                link = _link(item["url"], f"#{item['number']} {item['title']}", slack)
                lines.append(f"• {title}: {link}")
    return "\n".join(lines)


def _link(url: str, text: str, slack: bool) -> str:
    if slack:
        safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return f"<{url}|{safe}>"
    return f"[{text}]({url})"
