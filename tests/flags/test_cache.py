"""The per-process cache: another process sees a change without a restart."""

import json
import subprocess
import sys

import pytest

from orchestrator.flags import services
from orchestrator.flags.cache import FlagStore, store
from tests.conftest import BASE_DIR

WATCHER = """
import django, json, sys, time
django.setup()
from orchestrator.flags.cache import store
seen = None
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    flag = store.get("watched")
    value = flag.evaluate({"targetingKey": "k"}).value if flag else None
    if value != seen:
        seen = value
        print(json.dumps(value), flush=True)
        if value == "second":
            break
    time.sleep(0.02)
"""


def test_another_process_sees_a_change_without_restarting(subprocess_env):
    services.save_flag(
        {
            "key": "watched",
            "enabled": True,
            "variants": {"a": "first", "b": "second"},
            "default_variant": "a",
        },
        actor=services.Actor("test"),
    )
    env = {**subprocess_env, "DJANGO_SETTINGS_MODULE": "contexten_site.settings"}
    watcher = subprocess.Popen(
        [sys.executable, "-c", WATCHER], cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert json.loads(watcher.stdout.readline()) == "first"
        doc = {"key": "watched", "enabled": True, "variants": {"a": "first", "b": "second"}}
        services.save_flag({**doc, "default_variant": "b"}, actor=services.Actor("test"))
        assert json.loads(watcher.stdout.readline()) == "second"
    finally:
        watcher.kill()
        watcher.wait()


@pytest.mark.django_db
def test_this_process_sees_its_own_change_at_once(make_flag):
    make_flag({"key": "f", "enabled": False})
    assert store.get("f").evaluate({}).reason == "DISABLED"
    services.set_enabled("f", True, actor=services.Actor("t"))
    assert store.get("f").evaluate({}).reason == "STATIC"


@pytest.mark.django_db
def test_a_store_reloads_only_when_the_generation_moves(make_flag, django_assert_num_queries):
    make_flag({"key": "f", "enabled": True})
    other = FlagStore(poll_seconds=0)  # like another process: checks on every call
    other.get("f")
    with django_assert_num_queries(0 if _redis() else 1):  # only the generation check
        assert other.get("f") is not None
    services.set_enabled("f", False, actor=services.Actor("t"))
    assert other.get("f").evaluate({}).reason == "DISABLED"


def _redis() -> bool:
    from django.conf import settings

    return bool(settings.REDIS_URL)


@pytest.mark.django_db
def test_a_reload_recompiles_only_the_flags_that_changed(make_flag, monkeypatch):
    from orchestrator.flags import cache

    for n in range(5):
        make_flag({"key": f"f{n}", "enabled": True, "rollout": {"percentage": 10}})
    local = FlagStore(poll_seconds=0)
    local.all()
    compiled = []
    real = cache.compile_flag
    monkeypatch.setattr(
        cache, "compile_flag", lambda doc, **kw: compiled.append(doc.key) or real(doc, **kw)
    )
    services.ramp("f3", 60, actor=services.Actor("test"))
    flags = local.all()
    assert compiled == ["f3"]
    assert flags["f3"].evaluate({"targetingKey": "k"}) is not None and flags["f3"].version == 2
    assert flags["f0"].version == 1
