"""Configuration test helpers: a fresh per-process cache for each test."""

import pytest

from extensions.config import store


@pytest.fixture(autouse=True)
def _fresh_config_cache():
    store.cache.invalidate()
    yield
    store.cache.invalidate()
