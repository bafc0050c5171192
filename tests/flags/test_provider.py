"""The official OpenFeature OFREP provider, unmodified, against the real served control plane."""

import time

import pytest
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from orchestrator.flags import services

FLAGS = [
    {
        "key": "new-checkout",
        "enabled": True,
        "rules": [
            {
                "variant": "on",
                "when": {"attribute": "email", "op": "ends_with", "value": "@acme.io"},
            }
        ],
        "rollout": {"percentage": 50},
    },
    {"key": "dark-launch", "enabled": False, "rollout": {"percentage": 100}},
    {
        "key": "banner",
        "enabled": True,
        "variants": {"hello": "Hello!", "hi": "Hi!"},
        "default_variant": "hi",
    },
    {
        "key": "page-size",
        "enabled": True,
        "variants": {"small": 10, "large": 50},
        "default_variant": "large",
    },
    {
        "key": "ratio",
        "enabled": True,
        "variants": {"low": 0.25, "high": 0.75},
        "default_variant": "low",
    },
    {
        "key": "theme",
        "enabled": True,
        "variants": {"dark": {"bg": "#000", "fg": "#fff"}, "light": {"bg": "#fff", "fg": "#000"}},
        "default_variant": "light",
        "rules": [
            {
                "variant": "dark",
                "when": {"attribute": "app_version", "op": "semver_gte", "value": "2.0.0"},
            }
        ],
    },
]


@pytest.fixture
def openfeature_client(served, api_token):
    base_url, _ = served
    for doc in FLAGS:
        services.save_flag(doc, actor=services.Actor("test"))
    return client_for(base_url, api_token)


def client_for(base_url: str, token: str):
    provider = OFREPProvider(
        base_url=base_url, headers_factory=lambda: {"Authorization": f"Bearer {token}"}
    )
    api.set_provider(provider, domain=token)
    return api.get_client(domain=token)


def test_provider_evaluates_types_reasons_splits_and_errors(served, openfeature_client):
    """One served process for every case (starting one takes seconds)."""
    check_types_and_reasons(openfeature_client)
    check_sticky_split(openfeature_client)
    missing = openfeature_client.get_boolean_details("no-such-flag", True, EvaluationContext("u"))
    assert (missing.value, missing.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
    assert missing.reason == Reason.ERROR
    mismatch = openfeature_client.get_integer_details("banner", 7, EvaluationContext("u"))
    assert (mismatch.value, mismatch.error_code) == (7, ErrorCode.TYPE_MISMATCH)
    intruder = client_for(served[0], "not-a-real-token")
    refused = intruder.get_boolean_details("new-checkout", False, EvaluationContext("u"))
    assert (refused.value, refused.error_code) == (False, ErrorCode.GENERAL)
    assert "unauthorized" in refused.error_message


def check_types_and_reasons(client) -> None:
    acme = EvaluationContext("user-1", {"email": "bo@acme.io", "app_version": "2.1.0"})
    match = client.get_boolean_details("new-checkout", False, acme)
    assert (match.value, match.reason, match.variant) == (True, Reason.TARGETING_MATCH, "on")
    disabled = client.get_boolean_details("dark-launch", True, acme)
    assert (disabled.value, disabled.reason) == (False, Reason.DISABLED)
    assert client.get_string_value("banner", "default", acme) == "Hi!"
    assert client.get_integer_value("page-size", 0, acme) == 50
    assert client.get_float_value("ratio", 0.0, acme) == 0.25
    assert client.get_object_value("theme", {}, acme) == {"bg": "#000", "fg": "#fff"}


def check_sticky_split(client) -> None:
    contexts = [EvaluationContext(f"u{i}") for i in range(40)]
    first = [client.get_boolean_details("new-checkout", False, ctx) for ctx in contexts]
    assert {details.reason for details in first} == {Reason.SPLIT}
    assert {details.value for details in first} == {True, False}
    again = [client.get_boolean_value("new-checkout", False, ctx) for ctx in contexts]
    assert again == [details.value for details in first]


def test_served_process_sees_a_ramp_without_restart(openfeature_client):
    context = EvaluationContext("user-steady")
    services.ramp("new-checkout", 100, actor=services.Actor("test"))
    # Poll: the served process notices within a second; no timing assertion here.
    for _ in range(200):
        details = openfeature_client.get_boolean_details("new-checkout", False, context)
        if details.reason == Reason.DEFAULT:
            break
        time.sleep(0.05)
    assert (details.value, details.reason) == (True, Reason.DEFAULT)
