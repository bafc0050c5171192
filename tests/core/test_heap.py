"""The start-up heap is frozen (orchestrator/core/heap.py: web and runner processes call it
once started), and not when GC_FREEZE_AT_START is off."""

import gc

import pytest

from orchestrator.core import heap


@pytest.fixture
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freezing_moves_the_heap_out_of_the_collectors_walk(unfrozen, settings):
    settings.GC_FREEZE_AT_START = True
    assert gc.get_freeze_count() == 0
    assert heap.freeze_startup_heap() is True
    assert gc.get_freeze_count() > 10_000, "Django and its apps, frozen"


def test_the_setting_turns_it_off(unfrozen, settings):
    settings.GC_FREEZE_AT_START = False
    assert heap.freeze_startup_heap() is False
    assert gc.get_freeze_count() == 0
