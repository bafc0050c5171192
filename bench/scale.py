"""Shared helpers for the scaling benchmarks (`bench/scale_*.py`): each reports a curve, the
same measurement at 1x, 10x and 100x the work, in one run against one fresh database.

Each benchmark runs against its own Postgres database (`BENCH_SCALE_DB`, default
`bench_scale`), dropped and migrated at the start, with Django set up in the bench process
itself: what is measured is the query work that grows with the data, through the real views
and the real ORM, not a server's socket handling (the ingest and flags benchmarks measure that).
"""

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PG_HOST = os.environ.get("BENCH_PG", "postgres://root@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_SCALE_DB", "bench_scale")


def options_from(argv: list[str]) -> dict:
    """`--name=value` pairs, and `--flag` as "1"."""
    pairs = [arg.lstrip("-").split("=", 1) for arg in argv if arg.startswith("--")]
    return {pair[0]: pair[1] if len(pair) == 2 else "1" for pair in pairs}


def psql(database: str, sql: str) -> str:
    return subprocess.run(
        ["psql", f"{PG_HOST}/{database}", "-v", "ON_ERROR_STOP=1", "-tAq", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def fresh_database() -> str:
    """Drop, create and migrate the benchmark's database; set Django up against it."""
    psql("postgres", f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {DB_NAME}")
    database_url = f"{PG_HOST}/{DB_NAME}"
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="contexten_site.settings",
        DEBUG="false",
        SECRET_KEY="bench-" + "k" * 60,
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="testserver,127.0.0.1",
    )
    os.environ.pop("REDIS_URL", None)  # the ORM broker: doorbells are countable rows
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return database_url


def copy_rows(table: str, columns: list[str], rows) -> int:
    """Bulk-load `rows` (tuples in column order) with COPY; answer how many went in."""
    from django.db import connection

    count = 0
    with connection.cursor() as cursor:
        raw = cursor.connection  # the psycopg connection under Django's wrapper
        with raw.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    raw.commit() if not raw.autocommit else None
    return count


def analyze() -> None:
    """Fresh planner statistics and visibility map, as autovacuum would leave them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


class Samples(list):
    """Wall milliseconds per call, and `cpu`: this process's CPU milliseconds per call. On a
    shared machine the wall time includes waiting for a core; the CPU time does not (nor
    the database server's share)."""

    cpu: list[float]


def timed(call: Callable[[], object], repeats: int, warmup: int = 2) -> Samples:
    """Milliseconds per call, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    samples = Samples()
    samples.cpu = []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        call()
        samples.append((time.perf_counter() - started) * 1000)
        samples.cpu.append((time.process_time() - cpu) * 1000)
    return samples


def pct(samples: list[float], percent: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def summary(samples: list[float]) -> dict:
    figures = {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(pct(samples, 95), 2),
        "max_ms": round(max(samples), 2),
    }
    if isinstance(samples, Samples):
        figures["cpu_p50_ms"] = round(statistics.median(samples.cpu), 2)
    return figures
