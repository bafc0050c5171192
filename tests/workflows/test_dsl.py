"""Each bad document answers its one-line message; good ones parse into steps."""

import pytest

from integrations.linear.demo import PR_OPENED_TO_LINEAR
from orchestrator.workflows import dsl

# The SPEC §6 example, exactly as `make run` seeds it.
GOOD = PR_OPENED_TO_LINEAR


def doc(*steps, trigger=None, **extra):
    trigger = {"event": "github.*"} if trigger is None else trigger
    return {"name": "w", "trigger": trigger, "steps": list(steps), **extra}


def log_step(step_id="a", **fields):
    return {"id": step_id, "action": "core.log", "with": {"message": "hi"}, **fields}


def test_the_spec_example_validates_into_two_steps_with_retry_and_timeout():
    steps = dsl.validate(dsl.parse_text(GOOD))
    assert [s.id for s in steps] == ["ticket", "notify"]
    assert steps[0].retry == dsl.Retry(5, "exponential", 1.0, 60.0)
    assert steps[0].timeout_s == 30.0
    assert steps[1].needs == ("ticket",)


def test_json_is_accepted_as_well_as_yaml():
    assert dsl.parse_text('{"name": "w", "trigger": {"manual": true}, "steps": []}')["name"] == "w"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (doc(log_step(action="core.nope")), "steps.a.action: unknown action 'core.nope'"),
        (doc(log_step(**{"with": {"m": "{{ x }"}})), "steps.a.with.m: bad template: unexpected"),
        (doc(log_step(**{"if": "a b"})), "steps.a.if: bad template"),
        (doc(log_step(), trigger={"event": "x", "when": "{% if %}"}), "trigger.when: bad template"),
        (doc(log_step(needs=["zz"])), "steps.a.needs: unknown step 'zz'"),
        (
            doc(log_step("a", needs=["b"]), log_step("b", needs=["a"])),
            "steps.a.needs: cycle a -> b -> a",
        ),
        (doc(log_step("a", needs=["a"])), "steps.a.needs: cycle a -> a"),
        (doc(log_step(), log_step()), "steps: duplicate step id 'a'"),
        (doc(log_step(on_failure="ghost")), "steps.a.on_failure: unknown step 'ghost'"),
        (
            doc(log_step(), trigger={"schedule": "61 * * * *"}),
            "trigger.schedule: bad cron expression '61 * * * *'",
        ),
        (doc(log_step(), trigger={"schedule": "* * *"}), "trigger.schedule: bad cron expression"),
        (doc(log_step(timeout="5x")), "steps.a.timeout: bad duration '5x'"),
        (doc(log_step(timeout="10m")), "steps.a.timeout: must be above 0 and at most 60s"),
        (doc(log_step(retry={"initial": "soon"})), "steps.a.retry.initial: bad duration 'soon'"),
        (doc(log_step(retry={"initial": "2s", "max": "1s"})), "steps.a.retry: max (1s) is below"),
        (doc(log_step(retry={"max_attempts": 0})), "steps[0].retry.max_attempts: 0 is less"),
        (doc(log_step(), trigger={}), "trigger: {} should be non-empty"),
        (doc(), "steps: [] should be non-empty"),
        (doc({"id": "a"}), "steps[0]: 'action' is a required property"),
        (doc(log_step(id="has space")), "steps[0].id: 'has space' does not match"),
        ({"trigger": {"event": "x"}, "steps": [log_step()]}, "'name' is a required property"),
    ],
)
def test_a_bad_document_answers_one_line_naming_the_problem(document, message):
    with pytest.raises(dsl.InvalidWorkflow) as caught:
        dsl.validate(document)
    assert str(caught.value).startswith(message) or message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("1s", 1), ("2m", 120), ("1.5h", 5400)]
)
def test_durations_read_in_seconds(text, seconds):
    assert dsl.parse_duration(text, "x") == seconds


@pytest.mark.parametrize("text", ["", "nope: [", "- a list", "just text"])
def test_a_body_that_is_not_a_mapping_is_refused(text):
    with pytest.raises(dsl.InvalidWorkflow, match="document"):
        dsl.parse_text(text)
