"""The fake platform server answers like the real APIs and does what tests program."""

import asyncio

import aiohttp
import httpx

SLACK_HEADERS = {"Authorization": "Bearer xoxb-fake-token"}
GITHUB_HEADERS = {"Authorization": "Bearer ghp_fake_token"}


def test_slack_post_message_answers_channel_id_and_ts(fake_platforms):
    answer = httpx.post(
        f"{fake_platforms.slack_url}/chat.postMessage",
        json={"channel": "#eng", "text": "hello"},
        headers=SLACK_HEADERS,
    ).json()
    assert answer["ok"] is True
    assert answer["channel"].startswith("C") and answer["ts"] == answer["message"]["ts"]
    assert [c.json["text"] for c in fake_platforms.calls("slack", "chat.postMessage")] == ["hello"]


def test_slack_unknown_channel_and_bad_token_answer_ok_false(fake_platforms):
    url = f"{fake_platforms.slack_url}/chat.postMessage"
    unknown = httpx.post(url, json={"channel": "#nope", "text": "x"}, headers=SLACK_HEADERS)
    bad_token = httpx.post(url, data={"channel": "#eng", "text": "x", "token": "xoxb-wrong"})
    assert unknown.json() == {"ok": False, "error": "channel_not_found"}
    assert bad_token.json() == {"ok": False, "error": "invalid_auth"}
    assert fake_platforms.created("slack") == []


def test_slack_conversation_reads_refuse_names_as_slack_does(fake_platforms):
    channel_id = fake_platforms.state.channel_id("eng")
    for method in ("conversations.info", "conversations.history"):
        url = f"{fake_platforms.slack_url}/{method}"
        by_name = httpx.post(url, data={"channel": "#eng"}, headers=SLACK_HEADERS).json()
        by_id = httpx.post(url, data={"channel": channel_id}, headers=SLACK_HEADERS).json()
        assert by_name == {"ok": False, "error": "channel_not_found"}, method
        assert by_id["ok"] is True, method


def test_slack_history_pages_newest_first_with_a_cursor(fake_platforms):
    post = f"{fake_platforms.slack_url}/chat.postMessage"
    for n in range(5):
        httpx.post(post, json={"channel": "#eng", "text": f"m{n}"}, headers=SLACK_HEADERS)
    url, channel_id = f"{fake_platforms.slack_url}/conversations.history", None
    channel_id = fake_platforms.state.channel_id("eng")
    pages, cursor = [], ""
    while True:
        form = {"channel": channel_id, "limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = httpx.post(url, data=form, headers=SLACK_HEADERS).json()
        pages.append([m["text"] for m in answer["messages"]])
        cursor = answer["response_metadata"]["next_cursor"]
        assert answer["has_more"] is bool(cursor)
        if not cursor:
            break
    assert pages == [["m4", "m3"], ["m2", "m1"], ["m0"]]


def test_github_conditional_get_answers_304_without_spending_rate_limit(fake_platforms):
    url = f"{fake_platforms.github_url}/repos/acme/widgets"
    first = httpx.get(url, headers=GITHUB_HEADERS)
    second = httpx.get(url, headers={**GITHUB_HEADERS, "If-None-Match": first.headers["ETag"]})
    assert (first.status_code, second.status_code) == (200, 304)
    assert second.headers["X-RateLimit-Remaining"] == first.headers["X-RateLimit-Remaining"]


def test_github_without_token_answers_401(fake_platforms):
    answer = httpx.post(
        f"{fake_platforms.github_url}/repos/acme/widgets/issues", json={"title": "x"}
    )
    assert answer.status_code == 401
    assert answer.json()["message"] == "Bad credentials"


def test_linear_issue_create_with_duplicate_client_id_is_refused(fake_platforms):
    team_id = next(iter(fake_platforms.state.teams))
    body = {
        "query": "mutation($input: IssueCreateInput!) { issueCreate(input: $input) { success } }",
        "variables": {"input": {"id": "5b0c7f0e-0000-4000-8000-000000000001",
                                "teamId": team_id, "title": "T"}},
    }  # fmt: skip
    headers = {"Authorization": fake_platforms.LINEAR_KEY}
    first = httpx.post(fake_platforms.linear_url, json=body, headers=headers).json()
    second = httpx.post(fake_platforms.linear_url, json=body, headers=headers).json()
    assert first["data"]["issueCreate"]["success"] is True
    assert second["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert fake_platforms.duplicates() == {}


def test_fail_next_then_rate_limit_then_normal(fake_platforms):
    fake_platforms.fail_next("slack", 1, status=502)
    fake_platforms.rate_limit_next("slack", 1, retry_after=7)
    url = f"{fake_platforms.slack_url}/auth.test"
    statuses = [httpx.post(url, headers=SLACK_HEADERS) for _ in range(3)]
    assert [r.status_code for r in statuses] == [502, 429, 200]
    assert statuses[1].headers["Retry-After"] == "7"


def test_down_platform_answers_503_until_brought_back(fake_platforms):
    fake_platforms.set_down("github")
    url = f"{fake_platforms.github_url}/repos/acme/widgets"
    assert httpx.get(url, headers=GITHUB_HEADERS).status_code == 503
    fake_platforms.set_down("github", False)
    assert httpx.get(url, headers=GITHUB_HEADERS).status_code == 200


def test_duplicates_counts_slack_messages_sharing_an_idempotency_key(fake_platforms):
    metadata = {"event_type": "contexten_step", "event_payload": {"idempotency_key": "run-1:a"}}
    for _ in range(2):
        httpx.post(
            f"{fake_platforms.slack_url}/chat.postMessage",
            json={"channel": "#eng", "text": "x", "metadata": metadata},
            headers=SLACK_HEADERS,
        )
    assert fake_platforms.duplicates("slack") == {"run-1:a": 2}


async def test_server_holds_a_thousand_slow_requests_at_once(fake_platforms):
    fake_platforms.set_delay("slack", 1.0)
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(connector=connector, headers=SLACK_HEADERS) as session:

        async def one() -> int:
            async with session.post(f"{fake_platforms.slack_url}/auth.test") as answer:
                await answer.read()
                return answer.status

        statuses = await asyncio.gather(*(one() for _ in range(1000)))
    assert set(statuses) == {200}
    assert fake_platforms.peak_in_flight() == 1000


def test_github_comments_page_oldest_first_with_link_headers_and_since(fake_platforms):
    """As GitHub: per_page caps at 100, Link names next/last (not on the last page) and
    first/prev (not on the first); `since` keeps comments updated at or after it."""
    fake_platforms.add_issue("acme/widgets", title="Busy")
    for n in range(250):
        updated = "2026-01-01T00:00:00Z" if n < 240 else "2026-02-01T00:00:00Z"
        fake_platforms.add_comment("acme/widgets", 1, f"c{n}", updated_at=updated)
    url = f"{fake_platforms.github_url}/repos/acme/widgets/issues/1/comments"
    first = httpx.get(url, params={"per_page": "500"}, headers=GITHUB_HEADERS)
    assert [c["body"] for c in first.json()] == [f"c{n}" for n in range(100)]
    assert first.headers["Link"] == (
        f'<{url}?per_page=100&page=2>; rel="next", <{url}?per_page=100&page=3>; rel="last"'
    )
    last = httpx.get(url, params={"per_page": "100", "page": "3"}, headers=GITHUB_HEADERS)
    assert [c["body"] for c in last.json()] == [f"c{n}" for n in range(200, 250)]
    assert last.headers["Link"] == (
        f'<{url}?per_page=100&page=1>; rel="first", <{url}?per_page=100&page=2>; rel="prev"'
    )
    recent = httpx.get(url, params={"since": "2026-01-15T00:00:00Z"}, headers=GITHUB_HEADERS)
    assert [c["body"] for c in recent.json()] == [f"c{n}" for n in range(240, 250)]
    assert "Link" not in recent.headers  # one page: GitHub sends no Link at all
    bad = httpx.get(url, params={"since": "yesterday"}, headers=GITHUB_HEADERS)
    assert bad.status_code == 422


def test_reset_next_cuts_the_connection_and_after_carries_the_request_out(fake_platforms):
    fake_platforms.add_issue("acme/widgets", title="Bug")
    url = f"{fake_platforms.github_url}/repos/acme/widgets/issues/1/comments"
    fake_platforms.reset_next("github", 1)
    fake_platforms.reset_next("github", 1, after=True)
    for _ in range(2):
        try:
            httpx.post(url, json={"body": "hi"}, headers=GITHUB_HEADERS)
        except httpx.TransportError:
            continue
        raise AssertionError("the connection should have been cut")
    assert [c["body"] for c in httpx.get(url, headers=GITHUB_HEADERS).json()] == ["hi"]
