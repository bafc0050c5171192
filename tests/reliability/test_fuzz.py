"""Hostile input never escapes as an exception or a 5xx: hypothesis over every parser.

Promise: every installed webhook receiver (headers, signature, body), the workflow DSL
validator, the flag document validator and its rule engine, and OFREP request bodies (single
and bulk; called directly and over HTTP) answer arbitrary input with a result or their own
one-line refusal, never anything else. Example counts are bounded and the generation is
derandomized, so CI is fast and stable; HYPOTHESIS_PROFILE=explore widens the search.
"""

import json
import os
import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extensions import registry
from orchestrator.events.webhooks import Delivery, Refusal
from orchestrator.flags import ofrep
from orchestrator.flags.engine import Resolution, compile_flag
from orchestrator.flags.schema import FlagDocumentError, parse_flag
from orchestrator.workflows.dsl import InvalidWorkflow, parse_text, validate

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "explore", parent=settings.get_profile("ci"), max_examples=5000, derandomize=False
)
FUZZ = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def with_keys(keys: list[str], values=json_values):
    """Objects using the names a parser looks for, with any values, and some other keys."""
    return st.fixed_dictionaries({}, optional={key: values for key in keys}) | st.dictionaries(
        st.sampled_from(keys) | st.text(max_size=8), values, max_size=6
    )


# --- webhooks: every installed receiver ------------------------------------------------------
HEADER_NAMES = [
    "content-type", "x-github-event", "x-github-delivery", "x-hub-signature-256",
    "x-hub-signature", "linear-delivery", "linear-signature", "x-slack-signature",
    "x-slack-request-timestamp", "x-slack-retry-num", "x-atlassian-webhook-identifier",
]  # fmt: skip
header_values = (
    st.text(max_size=40)
    | st.sampled_from(["application/json", "application/x-www-form-urlencoded", "issues"])
    | st.uuids().map(str)
    | st.integers(min_value=-(10**12), max_value=10**13).map(str)
    | st.text(alphabet="0123456789abcdef", max_size=64).map(lambda hex_: "sha256=" + hex_)
    | st.text(alphabet="0123456789abcdef", max_size=64).map(lambda hex_: "v0=" + hex_)
)
headers = st.dictionaries(st.sampled_from(HEADER_NAMES), header_values, max_size=8)
PAYLOAD_KEYS = [
    "action", "type", "event", "token", "challenge", "team_id", "event_id", "webhookTimestamp",
    "webhookEvent", "timestamp", "issue", "data", "payload", "url", "retry", "event_time",
]  # fmt: skip
payloads = with_keys(PAYLOAD_KEYS)
bodies = (
    st.binary(max_size=200)
    | json_values.map(lambda value: json.dumps(value).encode())
    | payloads.map(lambda value: json.dumps(value).encode())
    | payloads.map(lambda value: b"payload=" + json.dumps(value).encode())
)
RECEIVERS = sorted(name for name in registry.default_table() if registry.receiver(name, False))


def test_every_platform_with_a_webhook_is_fuzzed():
    assert {"github", "linear", "slack", "jira"} <= set(RECEIVERS)


@pytest.mark.parametrize("platform", RECEIVERS)
@FUZZ
@given(headers=headers, body=bodies, secret=st.text(min_size=1, max_size=20))
def test_a_receiver_answers_a_delivery_or_a_4xx_refusal(platform, headers, body, secret):
    receiver = registry.receiver(platform, refresh=False)
    now = time.time()
    for verified in (False, True):
        try:
            receiver.check_headers(headers)
            if verified:
                receiver.verify(headers, body, secret, now)
            outcome = receiver.parse(headers, body, verified=verified, now=now)
        except Refusal as refusal:
            assert 400 <= refusal.status < 500 and refusal.message
            assert "\n" not in refusal.message
        else:
            assert isinstance(outcome, Delivery)


# --- the workflow DSL --------------------------------------------------------------------------
durations = st.sampled_from(["500ms", "30s", "2m", "1h", "90m", "0s", "1.5s", "s", ""]) | scalars
steps = with_keys(
    ["id", "action", "with", "needs", "if", "on_failure", "continue_on_error", "timeout", "retry"],
    st.sampled_from(["a", "b", "core.log", "slack.post_message", "{{ x }}", "{% if %}"])
    | durations
    | st.lists(st.sampled_from(["a", "b", "c"]), max_size=3)
    | with_keys(["max_attempts", "backoff", "initial", "max"], durations | st.integers(-2, 30))
    | json_values,
)
triggers = with_keys(
    ["event", "when", "schedule", "manual"],
    st.sampled_from(["github.issues", "*/5 * * * *", "61 * * * *", "{{ event.x }}", "{{"])
    | json_values,
)
documents = st.fixed_dictionaries(
    {"name": st.sampled_from(["wf", "Bad Name", "", "x" * 101]) | st.text(max_size=10)},
    optional={
        "trigger": triggers,
        "steps": st.lists(steps, max_size=4),
        "vars": json_values,
        "concurrency": st.integers(-1, 5) | scalars,
        "config": json_values,
        "enabled": scalars,
    },
)
texts = (
    st.text(max_size=200)
    | documents.map(lambda doc: yaml.safe_dump(doc))
    | documents.map(lambda doc: json.dumps(doc))
    | st.binary(max_size=100)
)


@FUZZ
@given(text=texts)
def test_the_workflow_dsl_answers_steps_or_one_invalid_workflow_line(text):
    try:
        validated = validate(parse_text(text))
    except InvalidWorkflow as problem:
        assert str(problem) and "\n" not in str(problem)
    else:
        assert validated


# --- flag documents and the rule engine ------------------------------------------------------
OPS = [
    "equals", "not_equals", "in", "not_in", "regex", "starts_with", "ends_with", "contains",
    "semver_eq", "semver_gt", "semver_gte", "semver_lt", "semver_lte", "percentage", "bogus",
]  # fmt: skip
condition_values = (
    st.sampled_from(["1.2.3", "v1", "^a.*", "(", "[a-", "@acme.io", "1.0.0-rc.1+b"])
    | st.lists(scalars, max_size=3)
    | scalars
)
conditions = with_keys(
    ["attribute", "op", "value"],
    st.sampled_from(OPS) | st.sampled_from(["email", "targetingKey", "version"]) | condition_values,
)
rules = with_keys(
    ["variant", "when", "description"],
    st.sampled_from(["on", "off", "a"]) | st.lists(conditions, max_size=2) | conditions,
)
variants = st.dictionaries(st.sampled_from(["on", "off", "a", "b"]), json_values, max_size=3)
flag_docs = st.fixed_dictionaries(
    {"key": st.sampled_from(["f", "new-checkout", "", "bad key", "x" * 101])},
    optional={
        "enabled": scalars,
        "variants": variants,
        "default_variant": st.sampled_from(["on", "off", "a", "b", "zz"]) | scalars,
        "rules": st.lists(rules, max_size=3),
        "rollout": with_keys(
            ["variant", "percentage", "plan", "split"],
            st.floats(-10, 110)
            | st.sampled_from(["on", "a"])
            | st.lists(with_keys(["percentage", "at"]), max_size=2)
            | json_values,
        ),
        "guard": with_keys(["max_error_rate", "source", "window_seconds"]),
        "description": scalars,
    },
)
contexts = with_keys(
    ["targetingKey", "email", "version", "plan"],
    st.sampled_from(["u1", "bo@acme.io", "1.2.3", "2.0.0-beta"]) | json_values,
)


@FUZZ
@given(doc=flag_docs | json_values, context=contexts)
def test_a_flag_document_is_refused_in_one_line_or_evaluates_any_context(doc, context):
    try:
        parsed = parse_flag(doc)
    except FlagDocumentError as problem:
        assert str(problem) and "\n" not in str(problem)
        return
    compiled = compile_flag(parsed, salt=parsed.key, version=1)
    resolution = compiled.evaluate(context)
    assert isinstance(resolution, Resolution)
    if not resolution.error_code:
        json.loads(resolution.body)


# --- OFREP request bodies --------------------------------------------------------------------
ofrep_bodies = (
    st.binary(max_size=200)
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.fixed_dictionaries({"context": contexts | json_values}).map(
        lambda v: json.dumps(v).encode()
    )
)
ofrep_headers = st.fixed_dictionaries(
    {},
    optional={
        "authorization": st.sampled_from(["Bearer good", "Token good", "Bearer ", "bad"])
        | st.text(max_size=20),
        "x-api-key": st.sampled_from(["good", "gone", ""]) | st.text(max_size=10),
        "if-none-match": st.sampled_from(["*", '"x"', "W/", ", ,"]) | st.text(max_size=20),
    },
)
ENDS_WITH = {"attribute": "email", "op": "ends_with", "value": "@acme.io"}
SEMVER_GTE = {"attribute": "version", "op": "semver_gte", "value": "1.2.0"}
OFREP_FLAGS = [
    {
        "key": "new-checkout",
        "enabled": True,
        "variants": {"on": True, "off": False},
        "default_variant": "off",
        "rules": [{"variant": "on", "when": ENDS_WITH}],
        "rollout": {"variant": "on", "percentage": 25},
    },
    {
        "key": "semver",
        "enabled": True,
        "variants": {"a": "x", "b": "y"},
        "default_variant": "a",
        "rules": [{"variant": "b", "when": SEMVER_GTE}],
    },
]
COMPILED = {
    doc["key"]: compile_flag(parse_flag(doc), salt=doc["key"], version=1) for doc in OFREP_FLAGS
}
TOKENS = {"good": True, "gone": None, "inactive": False}
SOURCES = ofrep.Sources(lambda token: TOKENS.get(token), lambda: COMPILED)


@FUZZ
@given(
    key=st.sampled_from([*COMPILED, "missing"]) | st.text(max_size=10),
    headers=ofrep_headers,
    body=ofrep_bodies,
)
def test_ofrep_answers_any_body_single_and_bulk_without_a_5xx(key, headers, body):
    for answer in (
        ofrep.answer_flag(key, headers, body, SOURCES),
        ofrep.answer_flags(headers, body, SOURCES),
    ):
        assert 200 <= answer.status < 500
        if answer.body:
            assert isinstance(json.loads(answer.body), dict)


@pytest.mark.django_db
@settings(parent=FUZZ, max_examples=60)
@given(body=ofrep_bodies, key=st.sampled_from(["new-checkout", "missing", "semver"]))
def test_ofrep_over_http_never_answers_5xx(client, api_token, body, key):
    from orchestrator.flags.models import Flag
    from orchestrator.flags.services import Actor, save_flag

    if not Flag.objects.exists():
        for doc in OFREP_FLAGS:
            save_flag(doc, actor=Actor("fuzz"))
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token}"}
    for path in (f"/ofrep/v1/evaluate/flags/{key}", "/ofrep/v1/evaluate/flags"):
        answer = client.post(path, body, "application/json", **auth)
        assert answer.status_code < 500, (path, body, answer.content)
