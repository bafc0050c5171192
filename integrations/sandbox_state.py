"""What the fake platforms hold: repositories, issues, teams, channels and created items.

Plain data guarded by PlatformSandbox's lock; each integrations/<platform>/sandbox.py reads
and changes it.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GITHUB_MARKER = re.compile(r"contexten:idempotency-key=([\w.:/-]+)")
BOT_USER = {"login": "contexten-bot", "id": 9919, "node_id": "U_kgDOBot", "type": "Bot"}


def iso(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")


class PlatformState:
    """Seeded with acme/widgets, Linear team ENG and Slack channels eng/general/alerts/ops."""

    def __init__(self):
        self.ids = itertools.count(1_000_001)
        self.repos: dict[str, dict] = {}
        self.issues: dict[str, list[dict]] = {}  # full_name -> issues and PRs, by number
        self.comments: dict[tuple[str, int], list[dict]] = {}
        self.check_runs: dict[tuple[str, str], list[dict]] = {}
        self.teams: dict[str, dict] = {}  # id -> team
        self.linear_issues: dict[str, dict] = {}  # id -> issue
        self.linear_comments: dict[str, dict] = {}
        self.channels: dict[str, str] = {}  # id -> name
        self.messages: list[dict] = []
        self.created: list[dict[str, Any]] = []  # {"platform", "kind", "key", "item"}
        self.slack_ts = itertools.count(1)
        self.github_limits = {"remaining": 5000, "reset_at": int(time.time()) + 3600}
        self.add_repo("acme/widgets")
        self.add_team("ENG", "Engineering")
        for name in ("eng", "general", "alerts", "ops"):
            self.add_channel(name)

    def note_created(self, platform: str, kind: str, key: str | None, item: dict) -> None:
        self.created.append({"platform": platform, "kind": kind, "key": key, "item": item})

    # --- GitHub ------------------------------------------------------------------------
    def add_repo(self, full_name: str, **fields) -> dict:
        owner, name = full_name.split("/")
        repo_id = next(self.ids)
        repo = {
            "id": repo_id,
            "node_id": f"R_kgDO{repo_id}",
            "name": name,
            "full_name": full_name,
            "private": False,
            "owner": {"login": owner, "id": repo_id + 1, "type": "Organization"},
            "html_url": f"https://github.com/{full_name}",
            "url": f"https://api.github.com/repos/{full_name}",
            "description": None,
            "default_branch": "main",
            "open_issues_count": 0,
            "created_at": iso(),
            "updated_at": iso(),
            "pushed_at": iso(),
        }
        repo.update(fields)
        self.repos[full_name.lower()] = repo
        self.issues.setdefault(full_name.lower(), [])
        return repo

    def repo(self, owner: str, name: str) -> dict | None:
        return self.repos.get(f"{owner}/{name}".lower())

    def add_issue(self, full_name: str, *, pull: bool = False, **fields) -> dict:
        items = self.issues[full_name.lower()]
        number = len(items) + 1
        issue_id = next(self.ids)
        kind = "pull" if pull else "issues"
        now = iso()
        issue = {
            "id": issue_id,
            "node_id": f"{'PR' if pull else 'I'}_kwDO{issue_id}",
            "number": number,
            "title": fields.pop("title", f"Item {number}"),
            "body": fields.pop("body", None),
            "state": "open",
            "locked": False,
            "labels": [],
            "user": BOT_USER,
            "comments": 0,
            "html_url": f"https://github.com/{full_name}/{kind}/{number}",
            "url": f"https://api.github.com/repos/{full_name}/issues/{number}",
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
        }
        if pull:
            issue["pull_request"] = {"url": issue["url"].replace("/issues/", "/pulls/")}
            issue["draft"] = fields.pop("draft", False)
            issue["head"] = {"ref": f"branch-{number}", "sha": fields.pop("sha", f"{number:040x}")}
            issue["base"] = {"ref": "main"}
        issue.update(fields)
        items.append(issue)
        self.repos[full_name.lower()]["open_issues_count"] += 1
        return issue

    def add_pull(self, full_name: str, **fields) -> dict:
        return self.add_issue(full_name, pull=True, **fields)

    def issue(self, full_name: str, number: int) -> dict | None:
        items = self.issues.get(full_name.lower(), [])
        return items[number - 1] if 0 < number <= len(items) else None

    def add_check_run(self, full_name: str, ref: str, **fields) -> dict:
        run_id = next(self.ids)
        run = {
            "id": run_id,
            "node_id": f"CR_kwDO{run_id}",
            "name": fields.pop("name", "ci"),
            "head_sha": ref,
            "status": "completed",
            "conclusion": fields.pop("conclusion", "success"),
            "html_url": f"https://github.com/{full_name}/runs/{run_id}",
            "started_at": iso(),
            "completed_at": iso(),
        }
        run.update(fields)
        self.check_runs.setdefault((full_name.lower(), ref), []).append(run)
        return run

    # --- Linear ------------------------------------------------------------------------
    def add_team(self, key: str, name: str) -> dict:
        team = {"id": str(uuid.uuid4()), "key": key, "name": name, "issueCount": 0}
        self.teams[team["id"]] = team
        return team

    def find_linear_issue(self, ref: str) -> dict | None:
        if ref in self.linear_issues:
            return self.linear_issues[ref]
        return next((i for i in self.linear_issues.values() if i["identifier"] == ref), None)

    # --- Slack -------------------------------------------------------------------------
    def add_channel(self, name: str) -> str:
        channel_id = f"C{len(self.channels) + 1:08d}"
        self.channels[channel_id] = name.lstrip("#")
        return channel_id

    def channel_id(self, ref: str) -> str | None:
        if ref in self.channels:
            return ref
        wanted = ref.lstrip("#")
        return next((cid for cid, name in self.channels.items() if name == wanted), None)


def demo_fixture(platform: str, name: str) -> dict:
    """A real payload from the integration's fixtures, for the demo stream to vary."""
    path = Path(__file__).resolve().parent / platform / "fixtures" / f"{name}.json"
    return json.loads(path.read_text())


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
