"""REST: /api/flags/ by key, SPEC §7 shapes, rollout/rollback/history, clear 400s."""

import pytest

from orchestrator.flags.models import Flag, FlagVersion
from tests.flags.conftest import FULL_FLAG

pytestmark = pytest.mark.django_db


def test_smallest_flag_is_created_as_a_boolean_flag(api_client):
    smallest = {"key": "new-checkout", "enabled": True, "rollout": {"percentage": 25}}
    response = api_client.post("/api/flags/", smallest, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["variants"] == {"on": True, "off": False}
    assert (body["default_variant"], body["rollout"]["variant"]) == ("off", "on")
    assert (body["version"], body["rollout"]["percentage"]) == (1, 25.0)


def test_full_flag_round_trips(api_client):
    response = api_client.post("/api/flags/", {**FULL_FLAG, "reason": "launch"}, format="json")
    assert response.status_code == 201, response.json()
    body = api_client.get("/api/flags/new-checkout/").json()
    assert body["rules"] == FULL_FLAG["rules"]
    assert body["guard"]["max_error_rate"] == 0.05
    assert body["rollout"]["plan"] == [{"percentage": 50.0, "at": "2030-01-01T00:00:00Z"}]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (
            {
                "rules": [
                    {"variant": "on", "when": {"attribute": "a", "op": "regex", "value": "(["}}
                ]
            },
            "bad regex",
        ),
        ({"default_variant": "maybe"}, "unknown variant 'maybe'"),
        ({"rollout": {"percentage": -1}}, "out of range"),
        (
            {
                "rules": [
                    {"variant": "on", "when": {"attribute": "v", "op": "semver_lt", "value": "x"}}
                ]
            },
            "bad semver",
        ),
    ],
)
def test_invalid_flags_get_a_clear_400_and_nothing_is_stored(api_client, patch, message):
    response = api_client.post("/api/flags/", {**FULL_FLAG, **patch}, format="json")
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert not Flag.objects.exists()


def test_non_object_body_is_a_400(api_client):
    response = api_client.post("/api/flags/", [1, 2], format="json")
    assert response.status_code == 400


def test_creating_an_existing_key_is_refused(api_client, make_flag):
    make_flag(FULL_FLAG)
    response = api_client.post("/api/flags/", FULL_FLAG, format="json")
    assert response.status_code == 400
    assert "already exists" in response.json()["error"]


def test_put_replaces_and_patch_merges(api_client, make_flag):
    make_flag(FULL_FLAG)
    put = api_client.put("/api/flags/new-checkout/", {**FULL_FLAG, "enabled": False}, format="json")
    assert put.status_code == 200 and put.json()["enabled"] is False
    patch = api_client.patch(
        "/api/flags/new-checkout/", {"rollout": {"percentage": 40}}, format="json"
    )
    assert patch.status_code == 200, patch.json()
    assert patch.json()["rollout"]["percentage"] == 40.0
    assert patch.json()["rollout"]["plan"] == [{"percentage": 50.0, "at": "2030-01-01T00:00:00Z"}]
    assert patch.json()["version"] == 3


def test_rollout_action_ramps_and_records_who(api_client, make_flag):
    make_flag(FULL_FLAG)
    response = api_client.post(
        "/api/flags/new-checkout/rollout/", {"percentage": 50}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["rollout"]["percentage"] == 50.0
    assert FlagVersion.objects.get(version=2).actor == "operator"


def test_rollout_out_of_range_is_a_400(api_client, make_flag):
    make_flag(FULL_FLAG)
    response = api_client.post(
        "/api/flags/new-checkout/rollout/", {"percentage": 120}, format="json"
    )
    assert response.status_code == 400
    assert "percentage" in response.json()["error"]


def test_rollback_action_to_previous_and_named_version(api_client, make_flag):
    make_flag(FULL_FLAG)
    for pct in (50, 75):
        api_client.post("/api/flags/new-checkout/rollout/", {"percentage": pct}, format="json")
    previous = api_client.post("/api/flags/new-checkout/rollback/", format="json")
    assert previous.json()["rollout"]["percentage"] == 50.0
    named = api_client.post("/api/flags/new-checkout/rollback/", {"version": 1}, format="json")
    assert named.json()["rollout"]["percentage"] == 25.0
    missing = api_client.post("/api/flags/new-checkout/rollback/", {"version": 42}, format="json")
    assert missing.status_code == 400 and "no earlier version 42" in missing.json()["error"]


def test_history_lists_versions_newest_first_with_diffs(api_client, make_flag):
    make_flag(FULL_FLAG)
    api_client.post(
        "/api/flags/new-checkout/rollout/", {"percentage": 50, "reason": "ok"}, format="json"
    )
    history = api_client.get("/api/flags/new-checkout/history/").json()["results"]
    assert [row["version"] for row in history] == [2, 1]
    assert history[0]["diff"] == {"rollout.percentage": [25.0, 50.0]}
    assert history[0]["reason"] == "ok"


def test_unknown_flag_is_404(api_client):
    assert api_client.get("/api/flags/ghost/").status_code == 404
    assert (
        api_client.post("/api/flags/ghost/rollout/", {"percentage": 5}, format="json").status_code
        == 404
    )


def test_anonymous_is_refused(client, make_flag):
    make_flag(FULL_FLAG)
    assert client.get("/api/flags/").status_code in (401, 403)


def test_openapi_schema_describes_the_flag_actions(api_client):
    schema = api_client.get("/api/schema/").content.decode()
    assert "/api/flags/{key}/rollout/" in schema
    assert "/api/flags/{key}/history/" in schema
