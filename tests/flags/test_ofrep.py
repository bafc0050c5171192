"""OFREP v0.3 over Django's test client: shapes, errors, auth, ETag/304, rate limit, no DB."""

import json

import pytest
from django.test import override_settings

from orchestrator.flags import services
from orchestrator.flags.cache import store
from tests.flags.conftest import FULL_FLAG

pytestmark = pytest.mark.django_db
SINGLE = "/ofrep/v1/evaluate/flags/new-checkout"
BULK = "/ofrep/v1/evaluate/flags"


@pytest.fixture
def ofrep(client, api_token, make_flag):
    make_flag(FULL_FLAG)

    def post(path: str, body=None, **headers):
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {api_token}")
        data = body if isinstance(body, bytes | str) else json.dumps(body or {})
        return client.post(path, data, content_type="application/json", **headers)

    return post


def test_targeting_match_answers_value_variant_and_reason(ofrep):
    response = ofrep(SINGLE, {"context": {"targetingKey": "u1", "email": "bo@acme.io"}})
    assert response.status_code == 200
    assert response.json() == {
        "key": "new-checkout",
        "value": True,
        "reason": "TARGETING_MATCH",
        "variant": "on",
        "metadata": {"flagVersion": 1},
    }


def test_split_reason_for_everyone_else(ofrep):
    body = ofrep(SINGLE, {"context": {"targetingKey": "u1"}}).json()
    assert body["reason"] == "SPLIT"


def test_x_api_key_header_is_accepted(ofrep, api_token):
    response = ofrep(
        SINGLE, {"context": {"targetingKey": "u1"}}, HTTP_AUTHORIZATION="", HTTP_X_API_KEY=api_token
    )
    assert response.status_code == 200


def test_unknown_flag_is_404_flag_not_found(ofrep):
    response = ofrep("/ofrep/v1/evaluate/flags/ghost", {"context": {"targetingKey": "u"}})
    assert response.status_code == 404
    assert response.json()["errorCode"] == "FLAG_NOT_FOUND"
    assert response.json()["key"] == "ghost"
    assert "ghost" in response.json()["errorDetails"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "PARSE_ERROR"),
        ([1, 2], "PARSE_ERROR"),
        ({"context": "user-1"}, "INVALID_CONTEXT"),
        ({"context": {"targetingKey": 42}}, "INVALID_CONTEXT"),
        ({"context": {"email": "x@y.z"}}, "TARGETING_KEY_MISSING"),
    ],
)
def test_bad_requests_are_400_with_error_code_and_details(ofrep, body, code):
    response = ofrep(SINGLE, body)
    assert response.status_code == 400
    assert response.json()["errorCode"] == code
    assert response.json()["errorDetails"]


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_AUTHORIZATION": ""},
        {"HTTP_AUTHORIZATION": "Bearer wrong-token"},
        {"HTTP_AUTHORIZATION": "Basic eDp5"},
    ],
)
def test_missing_or_wrong_token_is_401(ofrep, headers):
    assert ofrep(SINGLE, {"context": {"targetingKey": "u"}}, **headers).status_code == 401


def test_inactive_users_token_is_403(ofrep, staff_user):
    staff_user.is_active = False
    staff_user.save()
    assert ofrep(SINGLE, {"context": {"targetingKey": "u"}}).status_code == 403


def test_get_is_405(client):
    assert client.get(SINGLE).status_code == 405


@override_settings(OFREP_RATE_LIMIT_PER_MINUTE=2)
def test_rate_limit_answers_429_with_integer_retry_after(ofrep):
    statuses = [ofrep(SINGLE, {"context": {"targetingKey": "u"}}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    retry_after = ofrep(SINGLE, {"context": {"targetingKey": "u"}})["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60


def test_bulk_answers_every_flag_with_an_etag(ofrep, make_flag):
    make_flag(
        {
            "key": "banner",
            "enabled": True,
            "variants": {"a": "Hello", "b": "Hi"},
            "default_variant": "a",
        }
    )
    response = ofrep(BULK, {"context": {"targetingKey": "u1", "email": "bo@acme.io"}})
    assert response.status_code == 200
    flags = {item["key"]: item for item in response.json()["flags"]}
    assert flags["banner"]["value"] == "Hello"
    assert flags["new-checkout"]["reason"] == "TARGETING_MATCH"
    assert response["ETag"].startswith('"')


def test_bulk_if_none_match_answers_304_not_412(ofrep):
    context = {"context": {"targetingKey": "u1"}}
    etag = ofrep(BULK, context)["ETag"]
    again = ofrep(BULK, context, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


def test_bulk_etag_changes_when_a_flag_changes(ofrep):
    context = {"context": {"targetingKey": "u1"}}
    etag = ofrep(BULK, context)["ETag"]
    services.ramp("new-checkout", 100, actor=services.Actor("t"))
    changed = ofrep(BULK, context, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_bulk_reports_per_flag_errors_inside_the_list(ofrep):
    flags = ofrep(BULK, {"context": {}}).json()["flags"]
    assert flags == [
        {
            "key": "new-checkout",
            "errorCode": "TARGETING_KEY_MISSING",
            "errorDetails": "this flag splits by targetingKey; none given",
        }
    ]


def test_bulk_bad_context_is_a_400(ofrep):
    response = ofrep(BULK, {"context": []})
    assert response.status_code == 400 and response.json()["errorCode"] == "INVALID_CONTEXT"


def test_warm_evaluation_makes_no_database_query(ofrep, django_assert_num_queries):
    """After warm-up (flags compiled, token looked up once), the hot path never hits the DB."""
    body = {"context": {"targetingKey": "u1"}}
    store.poll_seconds = 3600  # keep the once-per-0.5 s generation check out of this window
    try:
        ofrep(SINGLE, body)
        ofrep(BULK, body)
        with django_assert_num_queries(0):
            for _ in range(20):
                assert ofrep(SINGLE, body).status_code == 200
            assert ofrep(BULK, body).status_code == 200
    finally:
        store.poll_seconds = None


def test_configuration_extension(ofrep, client, api_token):
    response = client.get("/ofrep/v1/configuration", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 200
    assert response.json()["capabilities"]["cacheInvalidation"]["polling"]["enabled"] is True
