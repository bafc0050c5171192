"""What the Jira sandbox holds: projects, issues, comments and entity properties.

Shapes follow Jira Cloud's REST API v3. Validation is as strict as Jira's own where the
extension relies on it: a plain-string description, a label with a space or an unknown issue
type are 400s, not silently accepted, so a bug in the client shows up against the sandbox.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ADF_BLOCKS = {
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "listItem",
    "codeBlock",
    "blockquote",
    "rule",
    "panel",
}
ADF_INLINES = {"text", "hardBreak", "mention", "emoji", "inlineCard"}
ISSUE_TYPES = {"Task": "10001", "Bug": "10002", "Story": "10003", "Epic": "10004"}
STATUSES = {"To Do": "10000", "In Progress": "3", "Done": "10001"}
# Jira's simplified workflow: every status is reachable from every other.
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}
LABEL_SPACE = re.compile(r"\s")
KNOWN_FIELDS = {"project", "summary", "issuetype", "description", "labels"}


class JiraInputError(Exception):
    """A 400 in Jira's shape: field errors in `errors`, the rest in `errorMessages`."""

    def __init__(self, errors: dict[str, str] | None = None, messages: list[str] | None = None):
        super().__init__("; ".join([*(messages or []), *(errors or {}).values()]))
        self.errors = errors or {}
        self.messages = messages or []


class JiraNotFound(Exception):
    pass


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def adf_problem(node: Any, depth: int = 0) -> str | None:
    """Why `node` is not an Atlassian Document (None when it is one)."""
    if not isinstance(node, dict) or node.get("type") != "doc" or node.get("version") != 1:
        return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    return _content_problem(node.get("content"), depth)


def _content_problem(content: Any, depth: int) -> str | None:
    if not isinstance(content, list) or depth > 20:
        return "ADF content must be a list of nodes"
    for child in content:
        problem = _node_problem(child, depth + 1)
        if problem:
            return problem
    return None


def _node_problem(node: Any, depth: int) -> str | None:
    kind = node.get("type") if isinstance(node, dict) else None
    if kind == "text":
        text = node.get("text")
        return None if isinstance(text, str) and text else "ADF text nodes need non-empty text"
    if kind in ADF_INLINES:
        return None
    if kind not in ADF_BLOCKS:
        return f"ADF node type {kind!r} is not supported"
    return _content_problem(node.get("content", []), depth)


@dataclass
class Project:
    key: str
    id: str
    name: str

    def summary(self, base: str) -> dict:
        return {"self": f"{base}/rest/api/3/project/{self.id}", "id": self.id, "key": self.key,
                "name": self.name}  # fmt: skip


@dataclass
class Issue:
    id: str
    key: str
    project: Project
    fields: dict[str, Any]
    properties: dict[str, Any] = field(default_factory=dict)
    comments: list[dict] = field(default_factory=list)


class JiraState:
    """The sandbox's data. Not thread-safe by itself: the server serialises access."""

    def __init__(self, account: dict):
        self.account = account
        self.projects: dict[str, Project] = {}
        self.issues: dict[str, Issue] = {}  # by key
        self._ids = itertools.count(10000)
        self._numbers: dict[str, itertools.count] = {}
        self.add_project("ENG", "Engineering")
        self.add_project("OPS", "Operations")

    def add_project(self, key: str, name: str) -> Project:
        project = Project(key, str(next(self._ids)), name)
        self.projects[key] = project
        self._numbers[key] = itertools.count(1)
        return project

    def add_issue(self, key: str, summary: str) -> Issue:
        """Seed an issue with a chosen key (demo data); numbering continues after it."""
        project = self.projects[key.split("-")[0]]
        fields = {"summary": summary, "issuetype": {"name": "Task", "id": ISSUE_TYPES["Task"]},
                  "project": project.summary(""), "labels": [], "description": None,
                  "status": {"name": "To Do", "id": STATUSES["To Do"]},
                  "created": now_iso()}  # fmt: skip
        issue = self.issues[key] = Issue(str(next(self._ids)), key, project, fields)
        self._numbers[project.key] = itertools.count(int(key.split("-")[1]) + 1)
        return issue

    def issue(self, id_or_key: str) -> Issue:
        found = self.issues.get(id_or_key) or next(
            (issue for issue in self.issues.values() if issue.id == id_or_key), None
        )
        if found is None:
            raise JiraNotFound("Issue does not exist or you do not have permission to see it.")
        return found

    def create_issue(self, body: Any) -> Issue:
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            raise JiraInputError(messages=["Field 'fields' is required."])
        checked = issue_fields(fields, self.projects)
        properties = entity_properties(body.get("properties", []))
        project = checked.pop("project")
        issue_id = str(next(self._ids))
        key = f"{project.key}-{next(self._numbers[project.key])}"
        checked.update(
            project=project.summary(""),
            status={"name": "To Do", "id": STATUSES["To Do"]},
            created=now_iso(),
        )
        issue = Issue(issue_id, key, project, checked, properties)
        self.issues[key] = issue
        return issue

    def add_comment(self, id_or_key: str, body: Any) -> dict:
        issue = self.issue(id_or_key)
        document = body.get("body") if isinstance(body, dict) else None
        if document is None:
            raise JiraInputError({"comment": "Comment body can not be empty!"})
        problem = adf_problem(document)
        if problem:
            raise JiraInputError({"comment": problem})
        properties = entity_properties(body.get("properties", []))
        comment = {"id": str(next(self._ids)), "author": self.account, "body": document,
                   "updateAuthor": self.account, "created": now_iso(), "updated": now_iso(),
                   "jsdPublic": True, "properties": properties}  # fmt: skip
        issue.comments.append(comment)
        return comment

    def transition(self, id_or_key: str, body: Any) -> None:
        issue = self.issue(id_or_key)
        wanted = body.get("transition") if isinstance(body, dict) else None
        transition_id = str(wanted.get("id", "")) if isinstance(wanted, dict) else ""
        if transition_id not in TRANSITIONS:
            raise JiraInputError(
                messages=[f"Transition id '{transition_id}' is not valid for this issue."]
            )
        status = TRANSITIONS[transition_id]
        issue.fields["status"] = {"name": status, "id": STATUSES[status]}

    def search(self, jql: str) -> list[Issue]:
        """The tiny JQL the extension sends: `labels = "x"`, optionally `AND project = KEY`."""
        clauses = [part.strip() for part in re.split(r"\s+AND\s+", jql.strip(), flags=re.I)]
        tests = [jql_clause(clause) for clause in clauses]
        return [issue for issue in self.issues.values() if all(test(issue) for test in tests)]


def jql_clause(clause: str):
    match = re.fullmatch(r'(labels|project)\s*=\s*"?([A-Za-z0-9_.:-]+)"?', clause)
    if match is None:
        raise JiraInputError(messages=[f"Error in the JQL Query: cannot parse {clause!r}."])
    name, value = match.groups()
    if name == "labels":
        return lambda issue: value in issue.fields.get("labels", [])
    return lambda issue: issue.project.key == value


def issue_fields(fields: dict, projects: dict[str, Project]) -> dict:
    """Validate create-issue fields the way Jira does; answer them with the project resolved."""
    errors: dict[str, str] = {}
    project = projects.get(str((fields.get("project") or {}).get("key", "")))
    if project is None:
        errors["project"] = "Specify a valid project ID or key"
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors["summary"] = "You must specify a summary of the issue."
    elif len(summary) > 255:
        errors["summary"] = "Summary must be less than 255 characters."
    issuetype = (fields.get("issuetype") or {}).get("name")
    if issuetype not in ISSUE_TYPES:
        errors["issuetype"] = "Specify a valid issue type" if issuetype else "Specify an issue type"
    if "description" in fields and (problem := adf_problem(fields["description"])):
        errors["description"] = problem
    errors.update(label_errors(fields.get("labels", [])))
    for name in set(fields) - KNOWN_FIELDS:
        errors[name] = (
            f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        )
    if errors:
        raise JiraInputError(errors)
    return {"project": project, "summary": summary, "description": fields.get("description"),
            "issuetype": {"name": issuetype, "id": ISSUE_TYPES[issuetype]},
            "labels": list(fields.get("labels", []))}  # fmt: skip


def label_errors(labels: Any) -> dict[str, str]:
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        return {"labels": "Labels must be a list of strings."}
    for label in labels:
        if LABEL_SPACE.search(label) or not label:
            return {"labels": f"The label '{label}' contains spaces which is invalid."}
        if len(label) > 255:
            return {"labels": "The label must not exceed 255 characters."}
    return {}


def entity_properties(properties: Any) -> dict[str, Any]:
    """Jira's `properties` list of {"key", "value"} as a dict; a bad entry is a 400."""
    if not isinstance(properties, list):
        raise JiraInputError(messages=["properties must be a list."])
    out = {}
    for item in properties:
        key = item.get("key") if isinstance(item, dict) else None
        if not isinstance(key, str) or not 0 < len(key) <= 255 or "value" not in item:
            raise JiraInputError(messages=["Property key and value are required."])
        out[key] = item["value"]
    return out
