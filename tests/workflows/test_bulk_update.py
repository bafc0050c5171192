"""`update_rows` writes every field type a step outcome has, by primary key, and nothing else."""

from datetime import UTC, datetime

import pytest

from orchestrator.core.bulk import update_rows
from orchestrator.workflows import engine
from orchestrator.workflows.models import StepRun, Workflow
from orchestrator.workflows.steps import OUTCOME_FIELDS

pytestmark = pytest.mark.django_db

THREE_STEPS = {
    "name": "three",
    "trigger": {"manual": True},
    "steps": [{"id": name, "action": "core.log", "with": {"message": name}} for name in "abc"],
}


def test_each_row_gets_its_own_values_of_every_type(save_workflow):
    save_workflow(THREE_STEPS)
    engine.create_run(Workflow.objects.select_related("current_version").get(), trigger="manual")
    first, second, untouched = StepRun.objects.order_by("position")
    before = StepRun.objects.values().get(pk=untouched.pk)
    when = datetime(2026, 12, 1, 12, 30, 15, 123456, tzinfo=UTC)
    first.status, first.output, first.error = "succeeded", {"n": 1, "text": "é'\""}, ""
    first.finished_at, first.attempts, first.heartbeat_at = when, 3, None
    second.status, second.output, second.error = "failed", None, "it's broken; DROP TABLE"
    second.next_attempt_at, second.claimed_by, second.attempts = None, "", 0

    assert update_rows([first, second], OUTCOME_FIELDS) == 2

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.output, first.finished_at, first.attempts) == (
        "succeeded",
        {"n": 1, "text": "é'\""},
        when,
        3,
    )
    assert first.heartbeat_at is None
    assert (second.status, second.output, second.error) == (
        "failed",
        None,
        "it's broken; DROP TABLE",
    )
    assert second.next_attempt_at is None
    assert StepRun.objects.values().get(pk=untouched.pk) == before


def test_nothing_to_write_is_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert update_rows([], OUTCOME_FIELDS) == 0
