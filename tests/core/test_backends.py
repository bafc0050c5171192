"""One Redis-or-database choice per concern (orchestrator/core/backends.py).

With REDIS_URL pointing at a port nobody listens on, every concern answers from the
database instead of raising, Redis is marked down once, and the choice is the same object
for every caller; without REDIS_URL each concern is the database implementation itself.
"""

import pytest

from orchestrator.core import backends, generations, redis
from orchestrator.core.models import Generation, MetricTotal
from orchestrator.health import breaker_stores, metric_stores
from orchestrator.health.breakers import BreakerConfig
from orchestrator.health.models import BreakerState
from orchestrator.workflows import doorbell
from orchestrator.workflows.leases import DatabaseLeases
from tests.conftest import free_port

CONFIG = BreakerConfig(failure_rate=50, window=10, min_calls=2, open_seconds=30, probes=1)


@pytest.fixture
def dead_redis(settings):
    redis.redis_client.cache_clear()
    backends._chosen.clear()  # stores built earlier hold a client of the live Redis
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    yield
    redis.redis_client.cache_clear()
    backends._chosen.clear()
    backends.health.reset()


@pytest.mark.django_db
def test_with_redis_down_every_concern_answers_from_the_database(dead_redis):
    record = breaker_stores.current_store().apply("acme", 0, 2, CONFIG)
    assert record.state == "open"
    assert BreakerState.objects.get(platform="acme").state == "open"
    assert backends.health.is_down()

    metric_stores.current_store().add({"events": 3.0}, {}, 1)
    assert MetricTotal.objects.get(name="events").value == 3.0

    generations.bump("flags")
    assert generations.read("flags") == Generation.objects.get(name="flags").token

    assert doorbell.take_lease("runner:0", "me", 30)
    assert doorbell.lease_holder("runner:0") == "me"
    assert doorbell.runners_holding() == 1
    assert backends.in_use(backends.LEASES) == "database"


def test_one_object_per_concern_and_the_database_itself_without_redis(settings):
    settings.REDIS_URL = None
    assert isinstance(doorbell.leases(), DatabaseLeases)
    assert doorbell.leases() is doorbell.leases()
    assert isinstance(breaker_stores.current_store(), breaker_stores.DatabaseStore)
