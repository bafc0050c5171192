"""A runner process claims when rung (with Redis) instead of polling every 20 ms.

Promise (runner_process.py): with Redis, a tick claims when a ring came since the last
claim, when that claim left due steps behind, or once RING_FALLBACK_S has passed; the ring
is heard by a thread blocked on the real wake list, and ends the loop's wait. Without Redis
no ring can come, so every tick claims, as before.
"""

import asyncio

from orchestrator.core.redis import redis_client
from orchestrator.workflows import doorbell, runner_process
from orchestrator.workflows.leases import WAKE, redis_key
from orchestrator.workflows.runner_process import ProcessRunner, RingListener


def test_a_runner_process_claims_when_rung_or_left_due_steps_behind(monkeypatch):
    # The fallback look is out of the way, so each answer below is the ring's or the claim's.
    monkeypatch.setattr(runner_process, "RING_FALLBACK_S", 3600.0)
    runner = ProcessRunner()

    async def scenario() -> None:
        if doorbell.can_wait_for_wake():
            redis_client().delete(redis_key(WAKE))  # earlier tests' rings
        runner.rings = RingListener(asyncio.get_running_loop()).start()
        try:
            assert runner._claim_due(), "the first tick always looks"
            if not doorbell.can_wait_for_wake():
                assert runner._claim_due(), "without Redis (no rings) every tick claims"
                return
            assert not runner._claim_due(), "no ring, nothing left behind: no claim"
            runner.left_due = True
            assert runner._claim_due(), "a full or partial claim looks again next tick"
            runner.left_due = False
            assert not runner._claim_due()
            doorbell.wake_runner_processes()  # what a dispatch does once its runs commit
            await asyncio.wait_for(asyncio.shield(runner.rings.future()), 5)
            assert runner._claim_due(), "the ring makes the next tick claim"
            assert not runner._claim_due(), "and is used up by it"
        finally:
            runner.rings.stop()
            runner.db_thread.shutdown()
            runner.record_thread.shutdown()

    asyncio.run(scenario())
