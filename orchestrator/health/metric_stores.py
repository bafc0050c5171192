"""Where the shared metric numbers live: Redis when REDIS_URL is set, the database otherwise
(and while Redis is down: core/backends.py).

Both only ever add: a flush is a batch of increments (HINCRBYFLOAT, or an upsert adding to
the row), so any number of processes may flush at once without reading first.
"""

from __future__ import annotations

import random
import time

from django.db import connection, transaction

from orchestrator.core import backends
from orchestrator.core.models import MetricBucket, MetricTotal

SERIES_KEEP_S = 3600  # the dashboard draws at most the last hour
PRUNE_PROBABILITY = 0.05


class RedisStore:
    def __init__(self):
        from orchestrator.core.redis import redis_client

        self.redis = redis_client()

    def totals_key(self) -> str:
        from orchestrator.core.redis import key

        return key("metrics:totals")

    def bucket_key(self, bucket: int) -> str:
        from orchestrator.core.redis import key

        return key(f"metrics:series:{bucket}")

    def add(self, totals: dict[str, float], series: dict[str, float], bucket: int) -> None:
        with self.redis.pipeline(transaction=False) as pipe:
            for key, amount in totals.items():
                pipe.hincrbyfloat(self.totals_key(), key, amount)
            bucket_key = self.bucket_key(bucket)
            for key, amount in series.items():
                pipe.hincrbyfloat(bucket_key, key, amount)
            pipe.expire(bucket_key, SERIES_KEEP_S)
            pipe.execute()

    def totals(self) -> dict[str, float]:
        return {k.decode(): float(v) for k, v in self.redis.hgetall(self.totals_key()).items()}

    def series(self, first: int, last: int) -> dict[int, dict[str, float]]:
        buckets = list(range(first, last + 1))
        with self.redis.pipeline(transaction=False) as pipe:
            for bucket in buckets:
                pipe.hgetall(self.bucket_key(bucket))
            answers = pipe.execute()
        return {
            bucket: {k.decode(): float(v) for k, v in raw.items()}
            for bucket, raw in zip(buckets, answers, strict=True)
            if raw
        }


class DatabaseStore:
    """`MetricTotal` and `MetricBucket` rows, added to with INSERT … ON CONFLICT DO UPDATE
    (SQLite 3.24+ and Postgres share the syntax)."""

    def add(self, totals: dict[str, float], series: dict[str, float], bucket: int) -> None:
        total_table, bucket_table = MetricTotal._meta.db_table, MetricBucket._meta.db_table
        with transaction.atomic(), connection.cursor() as cursor:
            if totals:
                cursor.executemany(
                    f"INSERT INTO {total_table} (name, value) VALUES (%s, %s)"  # noqa: S608
                    " ON CONFLICT (name) DO UPDATE"
                    f" SET value = {total_table}.value + excluded.value",
                    list(totals.items()),
                )
            if series:
                cursor.executemany(
                    f"INSERT INTO {bucket_table} (bucket, name, value) VALUES (%s, %s, %s)"  # noqa: S608
                    " ON CONFLICT (bucket, name) DO UPDATE"
                    f" SET value = {bucket_table}.value + excluded.value",
                    [(bucket, key, amount) for key, amount in series.items()],
                )
        if random.random() < PRUNE_PROBABILITY:  # spread the pruning over the flushers
            cutoff = bucket - SERIES_KEEP_S // 5
            MetricBucket.objects.filter(bucket__lt=cutoff).delete()

    def totals(self) -> dict[str, float]:
        return dict(MetricTotal.objects.values_list("name", "value"))

    def series(self, first: int, last: int) -> dict[int, dict[str, float]]:
        answer: dict[int, dict[str, float]] = {}
        rows = MetricBucket.objects.filter(bucket__gte=first, bucket__lte=last)
        for bucket, key, value in rows.values_list("bucket", "name", "value"):
            answer.setdefault(bucket, {})[key] = value
        return answer


def current_store():
    """Redis or the database, chosen in one place (core/backends.py): while a configured
    Redis is down the database store answers instead."""
    return backends.choose(backends.METRICS, RedisStore, DatabaseStore)


def now_bucket_range(seconds: int, step: int) -> tuple[int, int]:
    last = int(time.time() // step)
    return last - seconds // step + 1, last
