"""Dispatch, retries, dead letters, the sweeper, replay and retention."""

from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django_q.models import Schedule

from orchestrator.events import subscribers as registry
from orchestrator.events.dispatch import dispatch_event, prune_events, replay, sweep_events
from orchestrator.events.models import Event, Status
from orchestrator.events.schedules import PRUNE, SWEEP, ensure_schedules
from tests.events.helpers import ago, make_event, queued_dispatches

pytestmark = pytest.mark.django_db(transaction=True)


def test_storing_an_event_rings_the_doorbell_with_its_id():
    event = make_event()
    assert queued_dispatches() == [event.pk]


def test_storing_a_duplicate_rings_nothing():
    make_event("same")
    make_event("same")
    assert len(queued_dispatches()) == 1


def test_dispatch_calls_each_subscriber_with_the_event_and_marks_it_done(subscribers):
    event = make_event()
    assert dispatch_event(event.pk) == "done"
    assert subscribers == [event.pk]
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.DONE, 1)
    assert event.finished_at is not None


def test_dispatching_twice_calls_subscribers_once(subscribers):
    event = make_event()
    dispatch_event(event.pk)
    assert dispatch_event(event.pk) == "skipped"
    assert subscribers == [event.pk]


def test_dispatch_of_a_missing_event_returns_quietly(subscribers):
    assert dispatch_event(987654321) == "skipped"


def test_failing_subscriber_marks_event_failed_with_error_and_retry_time(monkeypatch):
    monkeypatch.setattr(registry, "EVENT_SUBSCRIBERS", ["tests.events.helpers.explode"])
    event = make_event()
    assert dispatch_event(event.pk) == "failed"
    event.refresh_from_db()
    assert event.status == Status.FAILED
    assert "RuntimeError: subscriber failed on github.push" in event.last_error
    assert event.next_attempt_at > event.status_changed_at


def test_unimportable_subscriber_fails_the_event_instead_of_losing_it(monkeypatch):
    monkeypatch.setattr(registry, "EVENT_SUBSCRIBERS", ["no.such.module.on_event"])
    event = make_event()
    assert dispatch_event(event.pk) == "failed"
    event.refresh_from_db()
    assert event.status == Status.FAILED
    assert "no.such.module" in event.last_error


def test_event_is_dead_after_max_attempts(monkeypatch, settings):
    settings.EVENT_MAX_ATTEMPTS = 2
    monkeypatch.setattr(registry, "EVENT_SUBSCRIBERS", ["tests.events.helpers.explode"])
    event = make_event()
    dispatch_event(event.pk)
    Event.objects.filter(pk=event.pk).update(status=Status.RECEIVED)  # as the sweeper would
    assert dispatch_event(event.pk) == "dead"
    event.refresh_from_db()
    assert (event.status, event.attempts) == (Status.DEAD, 2)
    assert event.next_attempt_at is None


def test_sweeper_requeues_received_event_whose_doorbell_was_lost(settings):
    settings.EVENT_STUCK_AFTER_SECONDS = 60
    stuck = make_event("old", status_changed_at=ago(minutes=5))
    make_event("fresh")
    before = queued_dispatches()
    assert sweep_events() == 1
    assert queued_dispatches() == [*before, stuck.pk]


def test_sweeper_leaves_a_disabled_extensions_held_events_alone(settings):
    """Runner processes sweep every few seconds: held events must not churn through
    dispatch and back; enabling the extension rings for them instead."""
    from extensions import lifecycle, registry

    settings.EVENT_STUCK_AFTER_SECONDS = 60
    lifecycle.sync_discovered()
    lifecycle.set_enabled("github", False)
    registry.view.invalidate()
    make_event("held", status_changed_at=ago(minutes=5))
    before = queued_dispatches()
    assert sweep_events() == 0
    assert queued_dispatches() == before


def test_sweeper_requeues_event_whose_worker_died_mid_dispatch(settings, subscribers):
    settings.EVENT_STUCK_AFTER_SECONDS = 60
    event = make_event(status=Status.DISPATCHED, attempts=1, status_changed_at=ago(minutes=5))
    sweep_events()
    event.refresh_from_db()
    assert event.status == Status.RECEIVED
    assert dispatch_event(event.pk) == "done"
    event.refresh_from_db()
    assert event.attempts == 2


def test_sweeper_buries_stuck_event_that_used_every_attempt(settings):
    settings.EVENT_MAX_ATTEMPTS = 3
    event = make_event(status=Status.DISPATCHED, attempts=3, status_changed_at=ago(hours=1))
    sweep_events()
    event.refresh_from_db()
    assert event.status == Status.DEAD


def test_sweeper_retries_failed_events_only_once_due():
    due = make_event("due", status=Status.FAILED, attempts=1, next_attempt_at=ago(seconds=1))
    later = make_event("later", status=Status.FAILED, attempts=1, next_attempt_at=ago(seconds=-600))
    sweep_events()
    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.status, later.status) == (Status.RECEIVED, Status.FAILED)


def test_sweeper_leaves_fresh_and_finished_events_alone():
    make_event("fresh")
    make_event("done", status=Status.DONE, status_changed_at=ago(days=1))
    make_event("dead", status=Status.DEAD, status_changed_at=ago(days=1))
    assert sweep_events() == 0


def test_replay_resets_dead_event_with_a_fresh_budget_and_rings(subscribers):
    event = make_event(status=Status.DEAD, attempts=5, last_error="boom")
    assert replay(Event.objects.filter(pk=event.pk)) == 1
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == (Status.RECEIVED, 0, "")
    assert queued_dispatches().count(event.pk) == 2  # on arrival, and on replay
    assert dispatch_event(event.pk) == "done"


def test_prune_deletes_only_finished_events_older_than_retention(settings):
    settings.EVENT_RETENTION_DAYS = 7
    old_done = make_event("old-done", status=Status.DONE, received_at=ago(days=8))
    old_dead = make_event("old-dead", status=Status.DEAD, received_at=ago(days=8))
    old_failed = make_event("old-failed", status=Status.FAILED, received_at=ago(days=8))
    recent = make_event("recent", status=Status.DONE, received_at=ago(days=6))
    assert prune_events() == 2
    remaining = set(Event.objects.values_list("pk", flat=True))
    assert remaining == {old_failed.pk, recent.pk}
    assert not {old_done.pk, old_dead.pk} & remaining


def test_migration_creates_the_sweeper_and_prune_schedules():
    migration = import_module("orchestrator.events.migrations.0002_schedules")
    migration.create_schedules(django_apps, None)
    names = set(Schedule.objects.values_list("name", flat=True))
    assert {SWEEP, PRUNE} <= names
    assert Schedule.objects.get(name=SWEEP).func == "orchestrator.events.dispatch.sweep_events"


def test_ensure_schedules_is_idempotent_and_follows_settings(settings):
    settings.EVENT_SWEEP_INTERVAL_MINUTES = 5
    ensure_schedules(Schedule)
    ensure_schedules(Schedule)
    assert Schedule.objects.filter(name=SWEEP).count() == 1
    assert Schedule.objects.get(name=SWEEP).minutes == 5


def test_cloudevent_rendering_has_the_required_attributes():
    event = make_event()
    rendered = event.as_cloudevent()
    assert rendered["specversion"] == "1.0"
    assert (rendered["id"], rendered["source"], rendered["type"]) == (
        str(event.pk),
        "github",
        "github.push",
    )
    assert rendered["data"] == {"ref": "refs/heads/main"}
