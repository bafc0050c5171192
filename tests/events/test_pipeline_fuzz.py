"""No input ever escapes the pipeline as anything but a Delivery or a clean Refusal."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.events.webhooks import Delivery, Refusal, verify_and_parse
from tests.integrations.webhooks import (
    github_headers,
    linear_headers,
    slack_headers,
    webhook_secrets,  # noqa: F401 - fixture
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
bodies = st.binary(max_size=300) | json_values.map(lambda value: json.dumps(value).encode())


def lower(django_headers: dict, content_type: str) -> dict:
    headers = {name[5:].replace("_", "-").lower(): value for name, value in django_headers.items()}
    return {**headers, "content-type": content_type}


SIGNERS = {
    "github": lambda body: github_headers("issues", body),
    "linear": linear_headers,
    "slack": slack_headers,
}


@pytest.mark.usefixtures("webhook_secrets")
@pytest.mark.parametrize("platform", sorted(SIGNERS))
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_any_signed_body_is_a_delivery_or_a_4xx_refusal(platform, content_type, body):
    headers = lower(SIGNERS[platform](body), content_type)
    try:
        outcome = verify_and_parse(platform, headers, body)
    except Refusal as refusal:
        assert 400 <= refusal.status < 500
        assert refusal.message
    else:
        assert isinstance(outcome, Delivery)
        assert outcome.type.startswith(f"{platform}.")
