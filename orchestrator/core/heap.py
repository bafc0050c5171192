"""The garbage collector in long-lived server processes: the start-up heap frozen.

A gen-2 collection walks every tracked object, and a server process holds hundreds of
thousands from start-up alone (Django, its apps, the libraries) that never die. Under a
burst, with 1,000 steps in flight, those collections stopped a runner or a web process for
250-300 ms at a time, every step start and every webhook behind them (docs/performance.md,
"Mixed load, tenth pass"). `gc.freeze()` moves what exists at start-up to a generation the
collector never walks, as Instagram did for its Django servers; collections then walk only
what the process made since.
"""

import gc

from django.conf import settings


def freeze_startup_heap() -> bool:
    """Call once a server process has imported and built what it serves with; answer
    whether it froze (GC_FREEZE_AT_START)."""
    if not settings.GC_FREEZE_AT_START:
        return False
    gc.collect()  # what start-up left as garbage is freed, not frozen
    gc.freeze()
    return True
