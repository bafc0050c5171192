"""The Jira sandbox is as strict as Jira where the extension relies on it."""

import base64
import json
import threading
import urllib.error
import urllib.request

import pytest


def call(sandbox, method: str, path: str, body=None, *, auth: str | None = None):
    token = auth or base64.b64encode(f"{sandbox.EMAIL}:{sandbox.API_TOKEN}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 - http to the loopback sandbox
        f"{sandbox.url}/rest/api/3{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), error.headers


def test_wrong_credentials_are_401_in_jiras_shape(sandbox):
    status, body, _ = call(sandbox, "GET", "/myself", auth="bm9ib2R5Om5vcGU=")
    assert status == 401
    assert body["errorMessages"] and body["errors"] == {}


def test_myself_answers_the_account(sandbox):
    status, body, _ = call(sandbox, "GET", "/myself")
    assert status == 200 and body["emailAddress"] == sandbox.EMAIL


def test_a_plain_string_description_is_400_as_on_rest_v3(sandbox):
    fields = {"project": {"key": "ENG"}, "summary": "x", "issuetype": {"name": "Task"},
              "description": "plain text"}  # fmt: skip
    status, body, _ = call(sandbox, "POST", "/issue", {"fields": fields})
    assert status == 400
    assert "Atlassian Document" in body["errors"]["description"]


def test_missing_fields_are_each_named(sandbox):
    status, body, _ = call(sandbox, "POST", "/issue", {"fields": {}})
    assert status == 400
    assert set(body["errors"]) == {"project", "summary", "issuetype"}


def test_rate_limit_answers_429_with_retry_after(sandbox):
    sandbox.rate_limit_next(1, retry_after=3)
    status, _, headers = call(sandbox, "GET", "/myself")
    assert status == 429 and headers["Retry-After"] == "3"
    assert call(sandbox, "GET", "/myself")[0] == 200


def test_unknown_jql_is_400(sandbox):
    status, body, _ = call(sandbox, "POST", "/search/jql", {"jql": "assignee was currentUser()"})
    assert status == 400 and "JQL" in body["errorMessages"][0]


def test_a_held_operation_waits_until_released(sandbox):
    sandbox.hold("myself")
    answers = []
    waiter = threading.Thread(target=lambda: answers.append(call(sandbox, "GET", "/myself")[0]))
    waiter.start()
    sandbox.wait_for("myself", 1)
    waiter.join(0.3)
    assert answers == []
    sandbox.release("myself")
    waiter.join(10)
    assert answers == [200]


@pytest.mark.parametrize("path", ["/issue/ENG-999", "/issue/ENG-999/comment"])
def test_unknown_issue_is_404(sandbox, path):
    assert call(sandbox, "GET", path)[0] == 404
