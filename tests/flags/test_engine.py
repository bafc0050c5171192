"""The pure engine: operators, reasons, outcomes, and the document's validation messages."""

import pytest

from orchestrator.flags.engine import bucket, compile_flag
from orchestrator.flags.schema import FlagDocumentError, parse_flag


def compiled(doc: dict, salt: str = "salt-1", version: int = 1):
    return compile_flag(parse_flag(doc), salt=salt, version=version)


def rule_flag(op: str, value, attribute: str = "attr") -> object:
    return compiled(
        {
            "key": "f",
            "enabled": True,
            "variants": {"yes": "Y", "no": "N"},
            "default_variant": "no",
            "rules": [
                {"variant": "yes", "when": {"attribute": attribute, "op": op, "value": value}}
            ],
        }
    )


def test_smallest_flag_is_boolean_and_splits_by_targeting_key():
    flag = compiled({"key": "new-checkout", "enabled": True, "rollout": {"percentage": 25}})
    results = [flag.evaluate({"targetingKey": f"user-{i}"}) for i in range(4000)]
    assert {r.reason for r in results} == {"SPLIT"}
    assert {r.value for r in results} == {True, False}
    share = sum(r.value for r in results) / len(results)
    assert 0.2 < share < 0.3


def test_disabled_flag_serves_default_with_reason_disabled():
    flag = compiled({"key": "new-checkout", "enabled": False, "rollout": {"percentage": 100}})
    result = flag.evaluate({"targetingKey": "anyone"})
    assert (result.value, result.variant, result.reason) == (False, "off", "DISABLED")


def test_flag_without_rules_or_split_is_static():
    flag = compiled({"key": "f", "enabled": True, "rollout": {"percentage": 100}})
    assert flag.evaluate({}).reason == "STATIC"
    assert flag.evaluate({}).value is True


def test_unmatched_rules_fall_through_to_default_reason():
    flag = rule_flag("equals", "x")
    result = flag.evaluate({"attr": "other"})
    assert (result.value, result.reason) == ("N", "DEFAULT")


def test_split_without_targeting_key_is_targeting_key_missing():
    flag = compiled({"key": "f", "enabled": True, "rollout": {"percentage": 50}})
    result = flag.evaluate({"email": "a@b.c"})
    assert (result.reason, result.error_code) == ("ERROR", "TARGETING_KEY_MISSING")


@pytest.mark.parametrize(
    ("op", "value", "actual", "matches"),
    [
        ("equals", "pro", "pro", True),
        ("equals", "pro", "free", False),
        ("not_equals", "pro", "free", True),
        ("in", ["NL", "DE"], "DE", True),
        ("in", ["NL", "DE"], "FR", False),
        ("not_in", ["NL", "DE"], "FR", True),
        ("regex", r"^team-\d+$", "team-42", True),
        ("regex", r"^team-\d+$", "team-x", False),
        ("starts_with", "adm", "admin", True),
        ("ends_with", "@acme.io", "bo@acme.io", True),
        ("ends_with", "@acme.io", "bo@acme.com", False),
        ("contains", "beta", "is-beta-user", True),
        ("semver_gte", "2.1.0", "2.10.0", True),
        ("semver_gte", "2.1.0", "2.0.9", False),
        ("semver_lt", "2.0.0", "2.0.0-rc.1", True),
        ("semver_eq", "1.2.3", "v1.2.3", True),
        ("semver_gt", "1.0.0-alpha.2", "1.0.0-alpha.10", True),
        ("semver_gt", "1.0.0", "not-a-version", False),
        ("ends_with", "@acme.io", 42, False),
        ("percentage", 100, "anyone", True),
        ("percentage", 0, "anyone", False),
    ],
)
def test_operator_matches(op, value, actual, matches):
    result = rule_flag(op, value).evaluate({"attr": actual})
    assert (result.reason == "TARGETING_MATCH") is matches


def test_missing_attribute_never_matches_even_for_negations():
    assert rule_flag("not_equals", "x").evaluate({}).reason == "DEFAULT"


def test_first_matching_rule_wins():
    flag = compiled(
        {
            "key": "f",
            "enabled": True,
            "variants": {"a": 1, "b": 2, "c": 3},
            "default_variant": "c",
            "rules": [
                {"variant": "a", "when": {"attribute": "plan", "op": "equals", "value": "pro"}},
                {"variant": "b", "when": {"attribute": "country", "op": "in", "value": ["NL"]}},
            ],
        }
    )
    assert flag.evaluate({"plan": "pro", "country": "NL"}).value == 1
    assert flag.evaluate({"plan": "free", "country": "NL"}).value == 2


def test_all_conditions_of_a_rule_must_hold():
    flag = compiled(
        {
            "key": "f",
            "enabled": True,
            "rules": [
                {
                    "variant": "on",
                    "when": [
                        {"attribute": "plan", "op": "equals", "value": "pro"},
                        {"attribute": "country", "op": "equals", "value": "NL"},
                    ],
                }
            ],
        }
    )
    assert flag.evaluate({"plan": "pro", "country": "NL"}).value is True
    assert flag.evaluate({"plan": "pro", "country": "DE"}).value is False


def test_body_is_the_ofrep_success_shape():
    import json

    flag = compiled({"key": "f", "enabled": True, "rollout": {"percentage": 100}}, version=7)
    body = json.loads(flag.evaluate({}).body)
    assert body == {
        "key": "f",
        "value": True,
        "reason": "STATIC",
        "variant": "on",
        "metadata": {"flagVersion": 7},
    }


def test_bucket_matches_pinned_values():
    """The algorithm is a contract: these values must never change (sticky across releases)."""
    assert [bucket("salt-1", f"user-{i}") for i in range(3)] == [32835, 14101, 39977]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {
                "key": "f",
                "rules": [
                    {"variant": "on", "when": {"attribute": "a", "op": "regex", "value": "("}}
                ],
            },
            "bad regex",
        ),
        (
            {
                "key": "f",
                "rules": [
                    {"variant": "nope", "when": {"attribute": "a", "op": "equals", "value": 1}}
                ],
            },
            "unknown variant 'nope'",
        ),
        ({"key": "f", "rollout": {"percentage": 101}}, "out of range"),
        ({"key": "f", "rollout": {"percentage": 12.3456}}, "finer than 0.001"),
        (
            {
                "key": "f",
                "rules": [
                    {"variant": "on", "when": {"attribute": "v", "op": "semver_gt", "value": "1.2"}}
                ],
            },
            "bad semver",
        ),
        (
            {
                "key": "f",
                "rules": [{"variant": "on", "when": {"attribute": "v", "op": "in", "value": "NL"}}],
            },
            "needs a list",
        ),
        (
            {
                "key": "f",
                "rules": [
                    {"variant": "on", "when": {"attribute": "v", "op": "like", "value": "x"}}
                ],
            },
            "op",
        ),
        ({"key": "f", "variants": {"a": 1, "b": "x"}, "default_variant": "a"}, "one type"),
        ({"key": "f", "variants": {"a": 1, "b": 2}}, "default_variant is required"),
        (
            {"key": "f", "rollout": {"plan": [{"percentage": 50, "at": "2026-01-01T00:00:00"}]}},
            "timezone",
        ),
        (
            {
                "key": "f",
                "rollout": {
                    "plan": [
                        {"percentage": 50, "at": "2026-02-01T00:00:00Z"},
                        {"percentage": 20, "at": "2026-03-01T00:00:00Z"},
                    ]
                },
            },
            "must not decrease",
        ),
        ({"key": "has space"}, "key"),
        ({"key": "f", "surprise": 1}, "surprise"),
        ({"key": "f", "guard": {"max_error_rate": 2}}, "max_error_rate"),
    ],
)
def test_invalid_documents_are_refused_with_a_clear_line(doc, message):
    with pytest.raises(FlagDocumentError) as caught:
        parse_flag(doc)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
