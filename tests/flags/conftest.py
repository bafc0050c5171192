"""Flag test helpers: a clean per-process flag store and token cache for each test."""

import pytest

from orchestrator.core import tokens
from orchestrator.flags import ofrep
from orchestrator.flags.cache import store
from orchestrator.flags.services import Actor, save_flag


@pytest.fixture(autouse=True)
def _fresh_flag_caches():
    store.invalidate()
    tokens.cache.invalidate()
    ofrep.rate_windows.clear()
    yield
    store.invalidate()


@pytest.fixture
def make_flag(db):
    def make(doc: dict, reason: str = "test setup"):
        return save_flag(doc, actor=Actor("test"), reason=reason)

    return make


FULL_FLAG = {
    "key": "new-checkout",
    "description": "The new checkout",
    "enabled": True,
    "variants": {"on": True, "off": False},
    "default_variant": "off",
    "rules": [
        {"variant": "on", "when": {"attribute": "email", "op": "ends_with", "value": "@acme.io"}}
    ],
    "rollout": {
        "variant": "on",
        "percentage": 25.0,
        "plan": [{"percentage": 50, "at": "2030-01-01T00:00:00Z"}],
    },
    "guard": {"max_error_rate": 0.05, "source": "slack"},
}
