"""GitHub actions and the repository report against the fake GitHub REST API."""

from datetime import UTC, datetime, timedelta

import pytest

from integrations.github.client import github
from orchestrator.workflows.actions import ActionError

REPO = "acme/widgets"


def days_ago(days: int) -> str:
    moment = datetime.now(UTC) - timedelta(days=days)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


async def test_create_issue_answers_number_and_url(run_action, fake_platforms):
    output = await run_action(
        "github.create_issue", {"repo": REPO, "title": "Flaky test", "labels": ["ci"]}
    )
    assert output["number"] == 1
    assert output["url"] == "https://github.com/acme/widgets/issues/1"
    (call,) = fake_platforms.calls("github", "issues.create")
    assert call.headers["Authorization"] == f"Bearer {fake_platforms.GITHUB_TOKEN}"
    assert "contexten:idempotency-key=run-1-step" in call.json["body"]


async def test_create_issue_retry_after_a_lost_answer_answers_the_same_issue(
    run_action, fake_platforms
):
    first = await run_action("github.create_issue", {"repo": REPO, "title": "T"})
    again = await run_action("github.create_issue", {"repo": REPO, "title": "T"}, attempt=2)
    assert again == first
    assert fake_platforms.duplicates() == {}
    assert len(fake_platforms.created("github")) == 1


async def test_create_issue_without_title_is_refused_before_calling(run_action, fake_platforms):
    with pytest.raises(ActionError, match="title") as caught:
        await run_action("github.create_issue", {"repo": REPO, "title": ""})
    assert caught.value.permanent
    assert fake_platforms.calls("github") == []


async def test_bad_repo_name_is_refused_before_calling(run_action, fake_platforms):
    with pytest.raises(ActionError, match="owner/name"):
        await run_action("github.create_issue", {"repo": "not a repo", "title": "T"})
    assert fake_platforms.calls("github") == []


async def test_unknown_repository_is_permanent(run_action, fake_platforms):
    with pytest.raises(ActionError) as caught:
        await run_action("github.create_issue", {"repo": "acme/nope", "title": "T"})
    assert caught.value.permanent
    assert caught.value.status == 404


async def test_secondary_rate_limit_answers_retry_after(run_action, fake_platforms):
    fake_platforms.rate_limit_next("github", 1, retry_after=5)
    with pytest.raises(ActionError) as caught:
        await run_action("github.create_issue", {"repo": REPO, "title": "T"})
    assert not caught.value.permanent
    assert caught.value.retry_after == 5


async def test_bad_gateway_is_transient(run_action, fake_platforms):
    fake_platforms.fail_next("github", 1, status=502)
    with pytest.raises(ActionError) as caught:
        await run_action("github.create_issue", {"repo": REPO, "title": "T"})
    assert not caught.value.permanent


async def test_create_comment_and_retry_does_not_comment_twice(run_action, fake_platforms):
    fake_platforms.add_issue(REPO, title="Bug")
    params = {"repo": REPO, "issue_number": 1, "body": "On it"}
    first = await run_action("github.create_comment", params)
    again = await run_action("github.create_comment", params, attempt=2)
    assert again == first
    assert first["url"].startswith("https://github.com/acme/widgets/issues/1#issuecomment-")
    assert len(fake_platforms.created("github")) == 1


def pages_read(fake) -> list[str]:
    return [c.query.get("page", "1") for c in fake.calls("github", "issues.listComments")]


async def test_retry_on_a_busy_issue_finds_the_marker_on_the_last_page_and_posts_once(
    run_action, fake_platforms
):
    """250 comments (three pages, oldest first), then the post lands but its answer is lost:
    the retry pages to the last page, finds its marker there, and posts nothing more."""
    fake_platforms.add_issue(REPO, title="Busy")
    for n in range(250):
        fake_platforms.add_comment(REPO, 1, f"chatter {n}")
    params = {"repo": REPO, "issue_number": 1, "body": "On it"}
    fake_platforms.reset_next("github", 1, after=True, name="issues.createComment")
    with pytest.raises(ActionError) as caught:
        await run_action("github.create_comment", params)
    assert not caught.value.permanent
    again = await run_action("github.create_comment", params, attempt=2)
    assert len(fake_platforms.calls("github", "issues.createComment")) == 1
    assert len(fake_platforms.created("github")) == 1
    assert again["id"] == fake_platforms.created("github")[0]["item"]["id"]
    pages = pages_read(fake_platforms)
    assert pages == ["1", "3"]  # the first page names the last; the hit is there


async def test_retry_without_an_earlier_post_reads_every_page_then_posts_once(
    run_action, fake_platforms
):
    fake_platforms.add_issue(REPO, title="Busy")
    for n in range(250):
        fake_platforms.add_comment(REPO, 1, f"chatter {n}")
    params = {"repo": REPO, "issue_number": 1, "body": "On it"}
    await run_action("github.create_comment", params, attempt=2)
    pages = pages_read(fake_platforms)
    assert pages == ["1", "3", "2"]
    assert len(fake_platforms.created("github")) == 1


async def test_add_labels_answers_every_label_once(run_action, fake_platforms):
    fake_platforms.add_issue(REPO, title="Bug")
    params = {"repo": REPO, "issue_number": 1, "labels": ["bug", "triage"]}
    await run_action("github.add_labels", params)
    output = await run_action("github.add_labels", {**params, "labels": ["bug"]})
    assert output == {"labels": ["bug", "triage"]}


async def test_add_labels_on_unknown_issue_is_permanent(run_action, fake_platforms):
    with pytest.raises(ActionError) as caught:
        await run_action("github.add_labels", {"repo": REPO, "issue_number": 9, "labels": ["x"]})
    assert caught.value.permanent


async def test_repo_report_finds_open_stale_failing_and_new(run_action, fake_platforms):
    fresh = fake_platforms.add_pull(REPO, title="Fresh PR", sha="a" * 40)
    stale = fake_platforms.add_pull(REPO, title="Old PR", sha="b" * 40, updated_at=days_ago(30))
    fake_platforms.add_check_run(REPO, "a" * 40, name="tests", conclusion="failure")
    fake_platforms.add_check_run(REPO, "b" * 40, name="tests", conclusion="success")
    fake_platforms.add_issue(REPO, title="New bug")
    fake_platforms.add_issue(
        REPO, title="Old bug", created_at=days_ago(10), updated_at=days_ago(10)
    )

    report = await run_action("github.repo_report", {"repos": [REPO], "stale_days": 7})

    (section,) = report["repos"]
    assert [pr["number"] for pr in section["open_prs"]] == [fresh["number"], stale["number"]]
    assert [pr["title"] for pr in section["stale_prs"]] == ["Old PR"]
    assert [(f["title"], f["checks"][0]["name"]) for f in section["failing_checks"]] == [
        ("Fresh PR", "tests")
    ]
    assert [issue["title"] for issue in section["new_issues"]] == ["New bug"]
    assert report["totals"] == {"open_prs": 2, "stale_prs": 1, "failing_checks": 1,
                                "new_issues": 1}  # fmt: skip
    assert "[#1 Fresh PR](https://github.com/acme/widgets/pull/1)" in report["markdown"]
    assert "<https://github.com/acme/widgets/pull/2|#2 Old PR>" in report["slack_text"]


async def test_repo_report_for_unknown_repository_is_permanent(run_action, fake_platforms):
    with pytest.raises(ActionError, match="HTTP 404") as caught:
        await run_action("github.repo_report", {"repos": ["acme/nope"]})
    assert caught.value.permanent


async def test_repository_lookup_revalidates_with_etag_and_reuses_body_on_304(
    fake_platforms, transactional_db, settings
):
    settings.PLATFORM_CACHE_TTL = 0  # every lookup revalidates
    client = await github()
    first = await client.repository(REPO)
    second = await client.repository(REPO)
    calls = fake_platforms.calls("github", "repos.get")
    assert [c.status for c in calls] == [200, 304]
    assert "If-None-Match" in calls[1].headers and "If-None-Match" not in calls[0].headers
    assert second == first and second["full_name"] == REPO


async def test_repository_lookup_within_ttl_makes_no_call(fake_platforms, transactional_db):
    client = await github()
    await client.repository(REPO)
    await client.repository(REPO)
    assert len(fake_platforms.calls("github", "repos.get")) == 1


async def test_repo_report_accepts_repositories_as_comma_separated_text(run_action, fake_platforms):
    fake_platforms.add_repo("acme/gadgets")
    report = await run_action("github.repo_report", {"repos": "acme/widgets, acme/gadgets"})
    assert [section["repo"] for section in report["repos"]] == ["acme/widgets", "acme/gadgets"]
