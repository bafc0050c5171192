"""Pages over large tables without a full `COUNT(*)`: the admin's and the REST API's.

Django's paginator and DRF's limit/offset pagination count every matching row. Over a million
stored events or runs, that count is the slowest part of a page. `bounded_count` counts at
most COUNT_CAP + 1 rows (`SELECT COUNT(*) FROM (… LIMIT cap + 1)`): exact up to the cap, and
above it the planner's estimate on Postgres (at least cap + 1), so page links stay about right.
"""

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property
from rest_framework.pagination import LimitOffsetPagination

COUNT_CAP = 10_000


def bounded_count(queryset: QuerySet) -> int:
    """Exact below COUNT_CAP; above it, the planner's estimate (never below the cap + 1)."""
    bounded = queryset.order_by()[: COUNT_CAP + 1].count()
    if bounded <= COUNT_CAP:
        return bounded
    return max(bounded, planner_estimate(queryset))


def planner_estimate(queryset: QuerySet) -> int:
    """The rows Postgres expects the query to return (0 where there is no planner to ask)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return 0
    sql, params = queryset.order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return int(plan[0]["Plan"]["Plan Rows"])


class BoundedCountPaginator(Paginator):
    """The admin's paginator (`ModelAdmin.paginator`), counting through `bounded_count`."""

    @cached_property
    def count(self) -> int:
        return bounded_count(self.object_list)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=&offset=` whose `count` is exact up to COUNT_CAP and estimated above it."""

    def get_count(self, queryset) -> int:
        return bounded_count(queryset)
