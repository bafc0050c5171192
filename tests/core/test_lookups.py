"""Integer `__in` lists: on Postgres one array parameter (`= ANY(...)`), the same rows as
Django's `IN` everywhere; other values keep Django's `IN`."""

import pytest
from django.db import connection

from orchestrator.events.models import Event
from orchestrator.events.store import store_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def events():
    return [store_payload("github", "github.push", f"lookup-{n}", {"n": n}).id for n in range(5)]


def test_integer_lists_find_the_same_rows(events):
    wanted = [events[0], events[3], None, events[3]]
    query = Event.objects.filter(pk__in=wanted)

    assert sorted(query.values_list("pk", flat=True)) == [events[0], events[3]]
    sql = str(query.query)
    if connection.vendor == "postgresql":
        assert "= ANY(string_to_array(" in sql and " IN (" not in sql
    else:
        assert " IN (" in sql


def test_an_empty_list_matches_nothing_without_a_statement(events, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert list(Event.objects.filter(pk__in=[])) == []


def test_strings_and_subqueries_keep_djangos_in(events):
    by_delivery = Event.objects.filter(delivery_id__in=["lookup-1", "lookup-2"])
    assert " IN (" in str(by_delivery.query)
    assert by_delivery.count() == 2
    nested = Event.objects.filter(pk__in=Event.objects.filter(delivery_id="lookup-4").values("pk"))
    assert [event.pk for event in nested] == [events[4]]


def test_foreign_keys_take_the_array_form_too():
    from orchestrator.workflows import definitions, engine
    from orchestrator.workflows.models import Run, StepRun, Workflow

    definitions.create_workflow({"name": "fk", "trigger": {"manual": True},
        "steps": [{"id": "a", "action": "core.log", "with": {"message": "x"}}]})  # fmt: skip
    run = engine.create_run(Workflow.objects.select_related("current_version").get())
    query = StepRun.objects.filter(run_id__in=[run.pk, run.pk + 1000])
    assert [step.run_id for step in query] == [run.pk]
    assert Run.objects.filter(pk__in=[run.pk]).count() == 1
    if connection.vendor == "postgresql":
        assert "= ANY(string_to_array(" in str(query.query)
