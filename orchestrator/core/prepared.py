"""The hot statements we write by hand run as prepared statements on Postgres.

Django's psycopg cursor binds parameters on the client (`ClientCursor`), so Postgres parses
and plans every statement anew. For the few statements that every event runs (the dispatch
claim, the step claim, recording outcomes, creating runs) planning was a third of their
database time: 0.9 ms of planning an event against 1.6 ms of execution, and the step claim
alone took longer to plan than to run (pg_stat_statements with `track_planning`,
docs/performance.md, "Mixed load, eighth pass"). A prepared statement is parsed once per
connection, and after five runs Postgres keeps its generic plan when that costs no more
than the custom ones did.

Only these statements are prepared: the ORM's texts vary with their arguments (an `IN`
list's length, a filter's fields), so preparing them would fill and churn psycopg's cache.
`DATABASE_PREPARE=false` turns it off, for a PgBouncer older than 1.21 in transaction mode,
which cannot keep a connection's prepared statements; the statements then run unprepared,
with server-side binding.

The rows these statements answer become model instances here, as the ORM would build them
(`instance`).
"""

import contextlib
from functools import cache

import psycopg
from django.db import connection


class PreparingCursor(psycopg.Cursor):
    """Server-side binding, and every statement prepared when the connection allows it (its
    `prepare_threshold`, set from DATABASE_PREPARE in contexten_site/envtools.py; None there
    means never). `_convert_query` is psycopg's own hook, pinned by the lock file."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)

    def _convert_query(self, query, params=None):
        # Kept where Django's debug cursor reads the statement it logs (`_query.query`,
        # as on its client-binding cursor); psycopg's own server-binding cursor drops it.
        self._query = super()._convert_query(query, params)
        return self._query


@contextlib.contextmanager
def cursor():
    """A cursor on the default connection whose statements are prepared (Postgres), with
    Django's error translation and query logging; elsewhere Django's own cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as plain:
            yield plain
        return
    connection.ensure_connection()
    # As `connection.cursor()` wraps its own: the thread check, and the debug wrapper when
    # queries are logged (DEBUG, tests capturing queries).
    with connection._prepare_cursor(PreparingCursor(connection.connection)) as wrapped:
        yield wrapped


def instance(model, values: tuple):
    """The instance the ORM would build from these columns (its fields' converters applied:
    JSON decoded, for one). Only the fields with converters are touched: a claim of 2,000
    steps built 6,000 instances, and looping over every field was most of that."""
    converted = list(values)
    for index, column, converters in field_converters(model):
        for converter in converters:
            converted[index] = converter(converted[index], column, connection)
    return model.from_db(connection.alias, field_names(model), converted)


@cache
def field_names(model) -> list[str]:
    return [field.attname for field in model._meta.concrete_fields]


@cache
def field_converters(model) -> list[tuple]:
    """Per field that has any, its position, column expression and the converters the
    compiler would apply."""
    converters = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if found:
            converters.append((index, column, found))
    return converters
