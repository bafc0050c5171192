"""Where breaker records live: Redis when REDIS_URL is set, the database otherwise
(and while Redis is down: core/backends.py).

Both stores do an atomic read-modify-write of one `BreakerRecord` and run the same state
machine (breakers.py) inside it: Redis with WATCH/MULTI on one hash (retried when another
process wrote in between), the database with `SELECT … FOR UPDATE` in a transaction (SQLite
takes its write lock at BEGIN IMMEDIATE, which serialises the same way).

Times in a record (open_until, half_open_since) are the store's server time, not each
host's: a host whose clock is off would otherwise think a breaker open elsewhere had long
closed, or hold it open after everyone else probes. `ServerClock` reads the server's clock
(Redis TIME, Postgres clock_timestamp(); SQLite lives on one host, so the system clock) once
every CLOCK_REFRESH_S inside store operations, which run off the event loop, and answers
local time plus the measured offset in between.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction

from orchestrator.core import backends
from orchestrator.health.breakers import BreakerConfig, BreakerRecord, log_transition

T = TypeVar("T")
FIELDS = [f.name for f in dataclasses.fields(BreakerRecord)]
INTS = {"probes_issued", "probe_successes", "probe_failures"}
FLOATS = {"open_until", "half_open_since"}
CLOCK_REFRESH_S = 10.0


class ServerClock:
    """The store server's clock, read through this host's: now() = local() + offset."""

    def __init__(self, server_time: Callable[[], float], local: Callable[[], float] = time.time):
        self.server_time, self.local = server_time, local
        self.offset = 0.0
        self.measured_at = -math.inf

    def refresh(self) -> None:
        """Re-measure the offset when it is CLOCK_REFRESH_S old (one round trip; blocking)."""
        if time.monotonic() - self.measured_at < CLOCK_REFRESH_S:
            return
        before = self.local()
        server = self.server_time()
        self.offset = server - (before + self.local()) / 2
        self.measured_at = time.monotonic()

    def now(self) -> float:
        return self.local() + self.offset


class BaseStore:
    clock: ServerClock

    def now(self) -> float:
        """Server time, the offset refreshed if due (store operations run off the loop)."""
        self.clock.refresh()
        return self.clock.now()

    def measured_now(self) -> float:
        """Server time as last measured: no round trip (the event loop's hot path)."""
        return self.clock.now()

    def update(
        self, platform: str, mutate: Callable[[BreakerRecord], T]
    ) -> tuple[T, BreakerRecord]:
        raise NotImplementedError

    def read(self, platform: str) -> BreakerRecord:
        raise NotImplementedError

    def reset(self, platform: str) -> None:
        fresh = dataclasses.asdict(BreakerRecord())
        self.update(platform, lambda record: record.__dict__.update(fresh))

    def apply(self, platform, successes, failures, config: BreakerConfig) -> BreakerRecord:
        now = self.now()
        if not successes and not failures:
            record = self.read(platform)
            if record.effective_state(now) == record.state:
                return record  # nothing to fold in and nothing due: a plain read suffices
        _, record = self.update(
            platform, lambda record: record.apply(successes, failures, now, config)
        )
        return record

    def claim_probe(self, platform, config: BreakerConfig) -> tuple[bool, BreakerRecord]:
        now = self.now()
        return self.update(platform, lambda record: record.claim_probe(now, config))

    def force_open(self, platform, config: BreakerConfig) -> BreakerRecord:
        now = self.now()
        return self.update(platform, lambda record: record.force_open(now, config))[1]


class RedisStore(BaseStore):
    """One hash per platform: contexten:<deployment>:breaker:<platform>."""

    def __init__(self, local: Callable[[], float] = time.time):
        from orchestrator.core.redis import redis_client

        self.redis = redis_client()
        self.clock = ServerClock(self._server_time, local)

    def _server_time(self) -> float:
        seconds, micros = self.redis.time()
        return seconds + micros / 1e6

    def key(self, platform: str) -> str:
        from orchestrator.core.redis import key

        return key(f"breaker:{platform}")

    def read(self, platform: str) -> BreakerRecord:
        return _decode(self.redis.hgetall(self.key(platform)))

    def update(self, platform, mutate):
        import redis

        key = self.key(platform)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    record = _decode(pipe.hgetall(key))
                    before = record.state
                    result = mutate(record)
                    pipe.multi()
                    pipe.hset(key, mapping=_encode(record))
                    pipe.execute()
                    log_transition(platform, before, record.state, record)
                    return result, record
                except redis.WatchError:
                    continue  # another process changed it first: read again


class DatabaseStore(BaseStore):
    """One `BreakerState` row per platform."""

    def __init__(self, local: Callable[[], float] = time.time):
        self.clock = ServerClock(self._server_time, local)

    def _server_time(self) -> float:
        from django.db import connection

        if connection.vendor != "postgresql":
            return time.time()  # SQLite: one host, whose system clock is the server's
        with connection.cursor() as cursor:
            cursor.execute("SELECT extract(epoch FROM clock_timestamp())::float8")
            return cursor.fetchone()[0]

    def read(self, platform: str) -> BreakerRecord:
        from orchestrator.health.models import BreakerState

        row = BreakerState.objects.filter(platform=platform).values(*FIELDS).first()
        return BreakerRecord(**row) if row else BreakerRecord()

    def update(self, platform, mutate):
        from orchestrator.health.models import BreakerState

        with transaction.atomic():
            row = BreakerState.objects.select_for_update().filter(platform=platform).first()
            if row is None:  # first call on a fresh database: make the row, then lock it
                self._create_row(platform)
                row = BreakerState.objects.select_for_update().get(platform=platform)
            record = BreakerRecord(**{name: getattr(row, name) for name in FIELDS})
            before = record.state
            result = mutate(record)
            for name in FIELDS:
                setattr(row, name, getattr(record, name))
            row.save()
        log_transition(platform, before, record.state, record)
        return result, record

    def _create_row(self, platform: str) -> None:
        from orchestrator.health.models import BreakerState

        try:
            with transaction.atomic():  # a savepoint: a lost race must not spoil the outer one
                BreakerState.objects.create(platform=platform)
        except IntegrityError:
            pass  # another process created it first


def _decode(raw: dict) -> BreakerRecord:
    values = {k.decode(): v.decode() for k, v in raw.items()}
    record = BreakerRecord()
    for name, value in values.items():
        if name in INTS:
            setattr(record, name, int(value))
        elif name in FLOATS:
            setattr(record, name, float(value))
        elif name in FIELDS:
            setattr(record, name, value)
    return record


def _encode(record: BreakerRecord) -> dict:
    return {name: str(getattr(record, name)) for name in FIELDS}


def current_store():
    """Redis or the database, chosen in one place (core/backends.py): while a configured
    Redis is down the database store answers instead."""
    return backends.choose(backends.BREAKERS, RedisStore, DatabaseStore)
