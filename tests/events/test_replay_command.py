"""`manage.py replay`: filters, --dry-run, --json, and one-line failures."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from orchestrator.events.models import Event, Status
from tests.events.helpers import make_event

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args) -> str:
    out = StringIO()
    call_command("replay", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_replays_dead_events_matching_the_filter():
    dead = make_event("d", status=Status.DEAD, attempts=5)
    make_event("ok", status=Status.DONE)
    assert run("--status", "dead") == "replayed 1 event(s)"
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == (Status.RECEIVED, 0)
    assert Event.objects.filter(status=Status.DONE).count() == 1


def test_dry_run_changes_nothing_and_json_reports():
    make_event("d", status=Status.DEAD)
    outcome = json.loads(run("--status", "dead", "--dry-run", "--json"))
    assert outcome == {"filters": {"status": "dead"}, "matched": 1, "dry_run": True}
    assert Event.objects.get().status == Status.DEAD


def test_no_filter_or_a_bad_one_fails_with_one_line():
    with pytest.raises(CommandError, match="at least one filter"):
        run()
    with pytest.raises(CommandError, match="bad filter"):
        run("--since", "last tuesday")
