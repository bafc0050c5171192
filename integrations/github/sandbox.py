"""The fake GitHub REST API: routes, auth, rate-limit headers, ETags and real shapes."""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from aiohttp import web

from integrations.sandbox_state import BOT_USER, GITHUB_MARKER, iso

if TYPE_CHECKING:
    from integrations.sandbox import Call, PlatformSandbox

DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000
REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
ROUTES = [
    ("POST", re.compile(REPO + r"/issues$"), "issues.create"),
    ("POST", re.compile(REPO + r"/issues/(?P<number>\d+)/comments$"), "issues.createComment"),
    ("GET", re.compile(REPO + r"/issues/(?P<number>\d+)/comments$"), "issues.listComments"),
    ("POST", re.compile(REPO + r"/issues/(?P<number>\d+)/labels$"), "issues.addLabels"),
    ("GET", re.compile(REPO + r"$"), "repos.get"),
    ("GET", re.compile(REPO + r"/pulls$"), "pulls.list"),
    ("GET", re.compile(REPO + r"/issues$"), "issues.list"),
    ("GET", re.compile(REPO + r"/commits/(?P<ref>[^/]+)/check-runs$"), "checks.listForRef"),
]


def operation_name(method: str, path: str) -> str:
    for route_method, pattern, name in ROUTES:
        if method == route_method and pattern.match(path):
            return name
    return "rate_limit" if path == "/rate_limit" else f"{method} {path}"


def handle(fake: PlatformSandbox, call: Call, headers) -> web.Response:
    if headers.get("Authorization", "") not in (
        f"Bearer {fake.GITHUB_TOKEN}",
        f"token {fake.GITHUB_TOKEN}",
    ):
        return _with_limits(fake.state.github_limits, error(401, "Bad credentials"), spend=False)
    limits = fake.state.github_limits
    if call.method == "GET" and call.path == "/rate_limit":
        return _rate_limit(limits)
    route, match = None, None
    for route_method, pattern, name in ROUTES:
        match = pattern.match(call.path) if route_method == call.method else None
        if match:
            route = name
            break
    if not match:
        return _with_limits(limits, error(404, "Not Found"))
    repo = fake.state.repo(match["owner"], match["repo"])
    if repo is None:
        return _with_limits(limits, error(404, "Not Found"))
    status, body, *extra = HANDLERS[route](fake.state, repo, match.groupdict(), call)
    if status == 200 and call.method == "GET":
        response = _conditional(limits, body, headers)
    else:
        response = _with_limits(limits, web.json_response(body, status=status))
    response.headers.update(extra[0] if extra else {})
    return response


def _rate_limit(limits: dict) -> web.Response:
    """GET /rate_limit: the budget itself; as on GitHub, asking does not spend it."""
    core = {"limit": RATE_LIMIT, "remaining": limits["remaining"], "reset": limits["reset_at"],
            "used": RATE_LIMIT - limits["remaining"], "resource": "core"}  # fmt: skip
    body = {"resources": {"core": core}, "rate": core}
    return _with_limits(limits, web.json_response(body), spend=False)


def error(status: int, message: str, errors: list | None = None) -> web.Response:
    body = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        body["errors"] = errors
    return web.json_response(body, status=status)


def rate_limited(limits: dict, retry_after: float) -> web.Response:
    """A secondary rate limit: 429 with Retry-After (GitHub also uses 403 for these)."""
    response = error(429, "You have exceeded a secondary rate limit.")
    response.headers["Retry-After"] = str(int(retry_after) if retry_after >= 1 else retry_after)
    return _with_limits(limits, response, spend=False)


def _conditional(limits: dict, body, headers) -> web.Response:
    raw = json.dumps(body, sort_keys=True).encode()
    etag = f'W/"{hashlib.sha256(raw).hexdigest()[:40]}"'
    if headers.get("If-None-Match") == etag:
        response = web.Response(status=304)
        response.headers["ETag"] = etag
        return _with_limits(limits, response, spend=False)
    response = web.json_response(body)
    response.headers["ETag"] = etag
    return _with_limits(limits, response)


def _with_limits(limits: dict, response: web.Response, *, spend: bool = True) -> web.Response:
    """Add GitHub's rate-limit headers; a 304 or a refusal does not spend the budget."""
    if spend and limits["remaining"] > 0:
        limits["remaining"] -= 1
    response.headers.update(
        {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(limits["remaining"]),
            "X-RateLimit-Reset": str(limits["reset_at"]),
            "X-RateLimit-Used": str(RATE_LIMIT - limits["remaining"]),
            "X-RateLimit-Resource": "core",
            "X-GitHub-Request-Id": f"FAKE:{time.monotonic_ns():x}",
        }
    )
    return response


def _validation_failed(resource: str, field: str):
    errors = [{"resource": resource, "code": "missing_field", "field": field}]
    return 422, {"message": "Validation Failed", "errors": errors, "documentation_url": DOCS}


def _create_issue(state, repo, args, call):
    payload = call.json if isinstance(call.json, dict) else {}
    if not isinstance(payload.get("title"), str) or not payload["title"].strip():
        return _validation_failed("Issue", "title")
    fields = {"title": payload["title"], "body": payload.get("body")}
    issue = state.add_issue(repo["full_name"], **fields)
    issue["labels"] = [_label(name) for name in payload.get("labels", [])]
    key = GITHUB_MARKER.search(payload.get("body") or "")
    state.note_created("github", "issue", key and key[1], issue)
    return 201, issue


def _create_comment(state, repo, args, call):
    issue = state.issue(repo["full_name"], int(args["number"]))
    if issue is None:
        return 404, {"message": "Not Found", "documentation_url": DOCS}
    payload = call.json if isinstance(call.json, dict) else {}
    if not isinstance(payload.get("body"), str) or not payload["body"].strip():
        return _validation_failed("IssueComment", "body")
    comment = add_comment(state, repo["full_name"], issue, payload["body"])
    key = GITHUB_MARKER.search(payload["body"])
    state.note_created("github", "comment", key and key[1], comment)
    return 201, comment


def add_comment(state, full_name: str, issue: dict, body: str, **fields) -> dict:
    """Append a comment to `issue` (the API's path, and tests seeding a busy issue)."""
    comment_id = next(state.ids)
    comment = {
        "id": comment_id,
        "node_id": f"IC_kwDO{comment_id}",
        "body": body,
        "user": BOT_USER,
        "html_url": f"{issue['html_url']}#issuecomment-{comment_id}",
        "issue_url": issue["url"],
        "created_at": iso(),
        "updated_at": iso(),
        **fields,
    }
    state.comments.setdefault((full_name, issue["number"]), []).append(comment)
    issue["comments"] += 1
    return comment


def _list_comments(state, repo, args, call):
    """Oldest first, `since` (updated at or after) and `per_page`/`page`, as GitHub does."""
    comments = list(state.comments.get((repo["full_name"], int(args["number"])), []))
    if "since" in call.query:
        since = _since(call.query["since"])
        if since is None:
            return 422, {"message": "Invalid request.", "documentation_url": DOCS}
        comments = [c for c in comments if _parse(c["updated_at"]) >= since]
    return (200, *_page(comments, call))


def _add_labels(state, repo, args, call):
    issue = state.issue(repo["full_name"], int(args["number"]))
    if issue is None:
        return 404, {"message": "Not Found", "documentation_url": DOCS}
    payload = call.json
    names = payload.get("labels") if isinstance(payload, dict) else payload
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return 422, {"message": "Invalid request.", "documentation_url": DOCS}
    known = {label["name"] for label in issue["labels"]}
    issue["labels"] += [_label(name) for name in names if name not in known]
    return 200, issue["labels"]


def _label(name: str) -> dict:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return {"id": int(digest[:8], 16), "node_id": f"LA_{digest[:12]}", "name": name,
            "color": digest[:6], "default": False, "description": None}  # fmt: skip


def _get_repo(state, repo, args, call):
    return 200, repo


def _list_pulls(state, repo, args, call):
    wanted = call.query.get("state", "open")
    pulls = [i for i in state.issues[repo["full_name"].lower()] if "pull_request" in i]
    return (200, *_page([p for p in pulls if wanted in ("all", p["state"])], call))


def _list_issues(state, repo, args, call):
    wanted = call.query.get("state", "open")
    items = [i for i in state.issues[repo["full_name"].lower()] if wanted in ("all", i["state"])]
    if "since" in call.query:
        since = datetime.fromisoformat(call.query["since"].replace("Z", "+00:00"))
        items = [i for i in items if _parse(i["updated_at"]) >= since]
    if call.query.get("direction", "desc") == "desc":
        items = list(reversed(items))
    return (200, *_page(items, call))


def _check_runs(state, repo, args, call):
    runs = state.check_runs.get((repo["full_name"].lower(), args["ref"]), [])
    return 200, {"total_count": len(runs), "check_runs": runs}


def _page(items: list, call: Call) -> tuple[list, dict[str, str]]:
    """One page of `items` and GitHub's Link header: next/last unless this is the last page,
    first/prev unless it is the first; none at all when everything fits on one page."""
    per_page = min(max(_int(call.query.get("per_page"), 30), 1), 100)
    page = max(_int(call.query.get("page"), 1), 1)
    last = max(-(-len(items) // per_page), 1)
    links = []
    if page < last:
        links += [(page + 1, "next"), (last, "last")]
    if page > 1:
        links += [(1, "first"), (min(page - 1, last), "prev")]
    headers = {}
    if links:
        base = f"http://{call.headers.get('Host', '127.0.0.1')}/github{call.path}"
        other = {k: v for k, v in call.query.items() if k not in ("page", "per_page")}
        headers["Link"] = ", ".join(
            f'<{base}?{urlencode({**other, "per_page": per_page, "page": number})}>; rel="{rel}"'
            for number, rel in links
        )
    return items[(page - 1) * per_page : page * per_page], headers


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default  # GitHub ignores a page number it cannot read


def _since(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


HANDLERS = {
    "issues.create": _create_issue,
    "issues.createComment": _create_comment,
    "issues.listComments": _list_comments,
    "issues.addLabels": _add_labels,
    "repos.get": _get_repo,
    "pulls.list": _list_pulls,
    "issues.list": _list_issues,
    "checks.listForRef": _check_runs,
}


# --- demo deliveries (`make run`'s event stream, integrations/demo_stream.py) -------------
DEMO_TITLES = ["Cache repository lookups", "Retry on 502", "Tidy the admin", "Faster replay"]


def demo_delivery(secret: str, n: int) -> tuple[str, bytes, dict[str, str]]:
    """A signed `pull_request.opened`, as GitHub sends it: (path, body, headers)."""
    from integrations.sandbox_state import demo_fixture, hmac_hex

    payload = demo_fixture("github", "pull_request__opened")
    payload["number"] = payload["pull_request"]["number"] = 1000 + n
    payload["pull_request"]["title"] = DEMO_TITLES[n % len(DEMO_TITLES)]
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": f"demo-{time.time_ns()}",
        "X-Hub-Signature-256": "sha256=" + hmac_hex(secret, body),
    }
    return "/webhooks/github/", body, headers
