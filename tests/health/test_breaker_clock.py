"""Breaker deadlines use the store server's clock, so hosts whose clocks disagree agree on
whether a breaker is open (each host's own clock was used before).

Three "hosts" share the real store (Redis when REDIS_URL is set, else the database), each a
store object with an injected local clock: one right, one an hour ahead, one an hour behind.
"""

import time

import pytest
from django.conf import settings

from orchestrator.health import breaker_stores
from orchestrator.health.breakers import BreakerConfig

CONFIG = BreakerConfig(failure_rate=50, window=10, min_calls=4, open_seconds=30, probes=2)
HOUR = 3600.0
pytestmark = pytest.mark.django_db


def host(skew_s: float) -> breaker_stores.BaseStore:
    store_class = breaker_stores.RedisStore if settings.REDIS_URL else breaker_stores.DatabaseStore
    return store_class(local=lambda: time.time() + skew_s)


@pytest.mark.parametrize("opener_skew", [0.0, HOUR, -HOUR])
def test_a_breaker_opened_by_one_host_is_open_for_the_same_time_on_all(opener_skew):
    hosts = {skew: host(skew) for skew in (0.0, HOUR, -HOUR)}
    record = hosts[opener_skew].force_open("slack", CONFIG)
    assert record.state == "open"
    for skew, store in hosts.items():
        now = store.now()
        seen = store.read("slack")
        assert seen.effective_state(now) == "open", f"host skewed {skew:+.0f}s"
        assert 0 < seen.open_until - now <= CONFIG.open_seconds, f"host skewed {skew:+.0f}s"
        allowed, _ = store.claim_probe("slack", CONFIG)
        assert not allowed, f"host skewed {skew:+.0f}s let a probe through an open breaker"


def test_the_offset_is_measured_once_per_refresh_interval():
    calls = []
    clock = breaker_stores.ServerClock(lambda: calls.append(1) or 1000.0, local=lambda: 10.0)
    assert [clock.now(), len(calls)] == [10.0, 0]
    clock.refresh()
    clock.refresh()
    assert [clock.now(), len(calls)] == [1000.0, 1]


async def test_a_burst_after_an_idle_spell_meets_a_breaker_another_host_opened(
    transactional_db, fake_platforms
):
    """This process last looked when the breaker was closed; another host opened it since.
    Every call of a burst must see it open (only one refreshes; the others wait for it)."""
    import asyncio

    from orchestrator.health import breakers
    from orchestrator.health.breakers import BreakerRecord
    from orchestrator.workflows.actions import BreakerOpen

    await asyncio.to_thread(breakers.force_open, "slack", 30)  # "another host"
    view = breakers._view("slack")
    view.record, view.fetched_at = BreakerRecord(), 0.0  # our closed snapshot, long stale

    async def call() -> str:
        try:
            await breakers.before_call("slack")
        except BreakerOpen:
            return "held"
        breakers.release("slack")
        return "sent"

    assert await asyncio.gather(*(call() for _ in range(5))) == ["held"] * 5
