"""Where breaker records live: Redis when REDIS_URL is set, the database otherwise
(and while Redis is down: core/backends.py).

Both stores do an atomic read-modify-write of one `BreakerRecord` and run the same state
machine (breakers.py) inside it: Redis with WATCH/MULTI on one hash (retried when another
process wrote in between), the database with `SELECT … FOR UPDATE` in a transaction (SQLite
takes its write lock at BEGIN IMMEDIATE, which serialises the same way).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction

from orchestrator.core import backends
from orchestrator.health.breakers import BreakerConfig, BreakerRecord, log_transition

T = TypeVar("T")
FIELDS = [f.name for f in dataclasses.fields(BreakerRecord)]
INTS = {"probes_issued", "probe_successes", "probe_failures"}
FLOATS = {"open_until", "half_open_since"}


class BaseStore:
    def update(
        self, platform: str, mutate: Callable[[BreakerRecord], T]
    ) -> tuple[T, BreakerRecord]:
        raise NotImplementedError

    def read(self, platform: str) -> BreakerRecord:
        raise NotImplementedError

    def reset(self, platform: str) -> None:
        fresh = dataclasses.asdict(BreakerRecord())
        self.update(platform, lambda record: record.__dict__.update(fresh))

    def apply(self, platform, successes, failures, now, config: BreakerConfig) -> BreakerRecord:
        if not successes and not failures:
            record = self.read(platform)
            if record.effective_state(now) == record.state:
                return record  # nothing to fold in and nothing due: a plain read suffices
        _, record = self.update(
            platform, lambda record: record.apply(successes, failures, now, config)
        )
        return record

    def claim_probe(self, platform, now, config: BreakerConfig) -> tuple[bool, BreakerRecord]:
        return self.update(platform, lambda record: record.claim_probe(now, config))


class RedisStore(BaseStore):
    """One hash per platform: contexten:breaker:<platform>."""

    def __init__(self):
        from orchestrator.core.redis import redis_client

        self.redis = redis_client()

    def key(self, platform: str) -> str:
        return f"contexten:breaker:{platform}"

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
