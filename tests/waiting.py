"""The one polling helper for tests that wait on real processes, threads or servers."""

import time


def wait_until(predicate, timeout_s: float, what: str, every_s: float = 0.1):
    """Call `predicate` until it answers something truthy, and answer that; fail naming
    `what` once `timeout_s` has passed (a bound on a hang, never a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"{what} not reached within {timeout_s:.0f} s")
