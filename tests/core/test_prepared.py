"""Our hot statements run prepared on Postgres (core/prepared.py), once per connection, and
not at all with DATABASE_PREPARE=false; everywhere they answer the rows the ORM would."""

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contexten_site.envtools import PREPARE_AFTER, postgres_database
from orchestrator.core import prepared
from orchestrator.events import dispatch
from orchestrator.events.models import Event, Status
from orchestrator.events.store import store_payload

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements are Postgres's"
)


def prepared_texts(cursor, like: str) -> list[str]:
    cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s", [like])
    return [row[0] for row in cursor.fetchall()]


@postgres_only
def test_the_dispatch_claim_is_prepared_once_on_its_connection():
    for n in range(3):
        store_payload("github", "github.push", f"prepared-{n}", {"n": n})
        assert len(dispatch.claim([], drain=10)) == 1

    with connection.cursor() as cursor:
        assert len(prepared_texts(cursor, "%WITH candidate AS%")) == 1


@postgres_only
def test_with_prepare_off_the_same_cursor_prepares_nothing():
    params = connection.get_connection_params() | {"prepare_threshold": None, "autocommit": True}
    with psycopg.connect(**params) as raw, prepared.PreparingCursor(raw) as cursor:
        for _ in range(3):
            cursor.execute("SELECT %s::int + 1 AS answer_off", [1])
            assert cursor.fetchone() == (2,)
        assert prepared_texts(cursor, "%answer_off%") == []


def test_the_prepare_setting_reaches_the_connection_options():
    on = postgres_database({"NAME": "x"}, pool_max=4)
    off = postgres_database({"NAME": "x"}, pool_max=4, prepare=False)

    assert on["OPTIONS"]["prepare_threshold"] == PREPARE_AFTER
    assert off["OPTIONS"]["prepare_threshold"] is None


def test_a_claim_answers_instances_as_the_orm_builds_them():
    stored = store_payload("github", "github.push", "prepared-json", {"nested": {"n": [1, 2]}})

    (claimed,) = dispatch.claim([stored.id])

    assert claimed.pk == stored.id and claimed.status == Status.DISPATCHED
    assert claimed.data == {"nested": {"n": [1, 2]}}  # JSON decoded, not text
    received_at = Event.objects.get(pk=stored.id).received_at
    assert claimed.received_at == received_at and claimed.received_at.tzinfo is not None
    assert claimed.attempts == 1


def test_a_prepared_statement_is_logged_with_its_text():
    with CaptureQueriesContext(connection) as captured, prepared.cursor() as cursor:
        cursor.execute("SELECT %s AS logged_answer", [7])
        assert cursor.fetchone() == (7,)

    assert any("logged_answer" in query["sql"] for query in captured.captured_queries)
