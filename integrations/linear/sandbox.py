"""The fake Linear GraphQL API: issueCreate, commentCreate, issue, comment, teams, team.

Not a GraphQL parser: the operation is found by its root field name in the query text,
and arguments are read from `variables` only (which is how the real clients send them).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import TYPE_CHECKING

from aiohttp import web

from integrations.sandbox_state import iso

if TYPE_CHECKING:
    from integrations.sandbox import Call, PlatformSandbox

OPERATIONS = ("issueCreate", "commentCreate", "issue", "comment", "teams", "team", "viewer")
ROOT_FIELD = re.compile(r"\{\s*(\w+)\s*[({]")


def operation_name(body: bytes) -> str:
    try:
        query = json.loads(body).get("query", "")
    except (ValueError, AttributeError):
        return "invalid"
    match = ROOT_FIELD.search(query or "")
    return match[1] if match else "invalid"


def graphql_error(message: str, code: str, status: int = 200, **extensions) -> web.Response:
    error = {
        "message": message,
        "extensions": {"code": code, "userPresentableMessage": message, **extensions},
    }
    return web.json_response({"errors": [error], "data": None}, status=status)


def rate_limited(_limits, retry_after: float) -> web.Response:
    """Linear answers 400 with code RATELIMITED and reset times in epoch milliseconds."""
    response = graphql_error("Rate limit exceeded", "RATELIMITED", status=400)
    reset_ms = int((time.time() + retry_after) * 1000)
    response.headers.update(
        {
            "X-RateLimit-Requests-Limit": "1500",
            "X-RateLimit-Requests-Remaining": "0",
            "X-RateLimit-Requests-Reset": str(reset_ms),
        }
    )
    return response


def handle(fake: PlatformSandbox, call: Call, headers) -> web.Response:
    if headers.get("Authorization", "") not in (fake.LINEAR_KEY, f"Bearer {fake.LINEAR_KEY}"):
        return graphql_error(
            "Authentication required, not authenticated", "AUTHENTICATION_ERROR", status=401
        )
    if call.method != "POST" or call.path != "/graphql" or not isinstance(call.json, dict):
        return graphql_error("Must provide query string.", "GRAPHQL_VALIDATION_FAILED", 400)
    if call.name not in OPERATIONS:
        return graphql_error("Cannot query field on type Query", "GRAPHQL_VALIDATION_FAILED", 400)
    variables = call.json.get("variables") or {}
    return HANDLERS[call.name](fake.state, variables)


def _issue_create(state, variables) -> web.Response:
    data = variables.get("input") or {}
    team = state.teams.get(data.get("teamId", ""))
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        return graphql_error("Argument Validation Error: title is empty", "INVALID_INPUT")
    if team is None:
        return graphql_error("Entity not found: Team", "INVALID_INPUT")
    issue_id = data.get("id") or str(uuid.uuid4())
    if issue_id in state.linear_issues:
        return graphql_error("Entity already exists: Issue", "INVALID_INPUT")
    team["issueCount"] += 1
    identifier = f"{team['key']}-{team['issueCount']}"
    slug = re.sub(r"[^a-z0-9]+", "-", data["title"].lower()).strip("-")[:60]
    issue = {
        "id": issue_id,
        "identifier": identifier,
        "number": team["issueCount"],
        "title": data["title"],
        "description": data.get("description"),
        "priority": data.get("priority", 0),
        "url": f"https://linear.app/acme/issue/{identifier}/{slug}",
        "createdAt": iso(),
        "team": {"id": team["id"], "key": team["key"]},
    }
    state.linear_issues[issue_id] = issue
    state.note_created("linear", "issue", data.get("id"), issue)
    return web.json_response({"data": {"issueCreate": {"success": True, "issue": issue}}})


def _comment_create(state, variables) -> web.Response:
    data = variables.get("input") or {}
    issue = state.find_linear_issue(data.get("issueId") or "")
    if not isinstance(data.get("body"), str) or not data["body"].strip():
        return graphql_error("Argument Validation Error: body is empty", "INVALID_INPUT")
    if issue is None:
        return graphql_error("Entity not found: Issue", "INVALID_INPUT")
    comment_id = data.get("id") or str(uuid.uuid4())
    if comment_id in state.linear_comments:
        return graphql_error("Entity already exists: Comment", "INVALID_INPUT")
    comment = {
        "id": comment_id,
        "body": data["body"],
        "url": f"{issue['url']}#comment-{comment_id[:8]}",
        "createdAt": iso(),
        "issue": {"id": issue["id"], "identifier": issue["identifier"]},
    }
    state.linear_comments[comment_id] = comment
    state.note_created("linear", "comment", data.get("id"), comment)
    return web.json_response({"data": {"commentCreate": {"success": True, "comment": comment}}})


def _issue(state, variables) -> web.Response:
    issue = state.find_linear_issue(variables.get("id") or "")
    if issue is None:
        return graphql_error("Entity not found: Issue", "INVALID_INPUT")
    return web.json_response({"data": {"issue": issue}})


def _comment(state, variables) -> web.Response:
    comment = state.linear_comments.get(variables.get("id") or "")
    if comment is None:
        return graphql_error("Entity not found: Comment", "INVALID_INPUT")
    return web.json_response({"data": {"comment": comment}})


def _teams(state, variables) -> web.Response:
    key = variables.get("key")
    nodes = [
        {"id": t["id"], "key": t["key"], "name": t["name"]}
        for t in state.teams.values()
        if key is None or t["key"] == key
    ]
    return web.json_response({"data": {"teams": {"nodes": nodes}}})


def _team(state, variables) -> web.Response:
    team = state.teams.get(variables.get("id") or "")
    if team is None:
        return graphql_error("Entity not found: Team", "INVALID_INPUT")
    return web.json_response({"data": {"team": {k: team[k] for k in ("id", "key", "name")}}})


def _viewer(state, variables) -> web.Response:
    viewer = {"id": "fake-viewer", "name": "Contexten", "email": "bot@example.com"}
    return web.json_response({"data": {"viewer": viewer}})


HANDLERS = {
    "issueCreate": _issue_create,
    "commentCreate": _comment_create,
    "issue": _issue,
    "comment": _comment,
    "teams": _teams,
    "team": _team,
    "viewer": _viewer,
}


# --- demo deliveries (`make run`'s event stream, integrations/demo_stream.py) -------------
def demo_delivery(secret: str, n: int) -> tuple[str, bytes, dict[str, str]]:
    """A signed `Issue` create, as Linear sends it (timestamp inside the signed body)."""
    from integrations.sandbox_state import demo_fixture, hmac_hex

    payload = demo_fixture("linear", "issue__create")
    payload["webhookTimestamp"] = int(time.time() * 1000)
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "Linear-Delivery": str(uuid.uuid4()),
        "Linear-Signature": hmac_hex(secret, body),
    }
    return "/webhooks/linear/", body, headers
