"""Ask the database how it would run a query: the index tests' one seam."""

from django.db import connections
from django.db.models import QuerySet


def query_plan(queryset: QuerySet) -> str:
    """The plan as text. On Postgres, sequential scans are priced out first: a test table of
    a few rows would otherwise be read whole, as the planner rightly prefers."""
    connection = connections[queryset.db]
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(row) for row in cursor.fetchall())


def reads_index(queryset: QuerySet, postgres_index: str) -> bool:
    """Postgres: an index scan of `postgres_index`. SQLite, whose planner has no statistics
    to prefer one index over another: an index search, not a scan of the table."""
    plan = query_plan(queryset)
    if connections[queryset.db].vendor == "postgresql":
        return "Index" in plan and postgres_index in plan
    return "SEARCH" in plan and "USING INDEX" in plan
