"""Runner processes: the step runner as a long-lived process of its own, not a django-q2 task.

A runner task holds a django-q2 worker for as long as steps are in flight, so every runner
took a worker that event dispatch and the schedules need (trigger p95 124-159 ms with two).
`manage.py serve` therefore starts WORKFLOW_RUNNERS runner processes beside web and workers,
and `manage.py runworkflows` starts them on any other host. Each drives steps exactly like a
runner task (same claims, same batches, same slot semaphores), with these differences:
- it never leaves: no lifetime, no lingering, no hand-over; SIGTERM stops claiming, hands
  back steps still waiting for a connection and lets the calls in flight finish;
- it holds a presence lease ("proc:<id>") instead of a numbered runner lease, so any number
  of them can run on any number of hosts; while one is alive no runner task is queued; each
  claims its own steps (SKIP LOCKED) and queues at most WORKFLOW_MAX_IN_FLIGHT / (runner
  processes alive, on all hosts), so every host's runners share a backlog;
- with Redis it claims when rung, busy or idle: a thread waits on the wake list the doorbell
  pushes to (BLPOP) whenever new steps are committed ready, and ends the loop's wait at once.
  Polling every WORKFLOW_POLL_MS made two thirds of the claims at 200 events/s find nothing,
  and a new step waited half a poll on average. It still claims every tick while its last
  claim left due steps behind (a full batch, or a platform's steps skipped for lack of
  slots), and at least every RING_FALLBACK_S for steps that come due without a ring (retry
  backoffs). Idle runners cost no CPU. Without Redis it polls, every 100 ms once idle;
- with Redis it also runs DISPATCHER_THREADS dispatcher threads
  (orchestrator/events/dispatchers.py): the event doorbells come to them as ids on a list
  instead of as django-q2 tasks, whose pusher, worker and monitor cost more CPU than most
  dispatches;
- every few seconds it re-drives steps whose heartbeat went stale (a runner killed mid-step),
  so a dead runner's work is taken over within WORKFLOW_HEARTBEAT_TIMEOUT, not at the next
  sweep; and every EVENT_SWEEP_SECONDS it sweeps stuck events (doorbells a killed worker
  host had taken), since django-q2 runs the event sweep schedule at most once a minute.
"""

import asyncio
import contextlib
import logging
import math
import signal
import threading
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from orchestrator.core import backends, heap
from orchestrator.events.dispatch import sweep_events
from orchestrator.events.dispatchers import Dispatcher
from orchestrator.workflows import doorbell, engine, sweeper
from orchestrator.workflows.runner import HAND_BACK_AFTER_S, HEARTBEAT_EVERY_S, LEASE_TTL_S, Runner

logger = logging.getLogger("contexten.workflows")
FAST_POLL_S = 0.5  # after the last activity, poll this long before waiting for a ring
IDLE_POLL_S = 0.1  # without Redis, idle for a while: poll this often (about 1% of a core)
WAKE_WAIT_S = 1.0  # the longest wait for a ring: the presence lease is renewed in between
DISPATCHER_STOP_S = 5.0  # at SIGTERM, the dispatch in hand may finish this long
RING_FALLBACK_S = 0.1  # rung runners still look this often: a retry's backoff rings nobody


class RingListener:
    """A thread that waits on the wake list (BLPOP) and sets an event in the runner's loop
    at each ring, so the loop never blocks on Redis and a ring ends any wait at once.

    No linger here, unlike the dispatchers: waiting 5 ms after a ring so that more steps
    share a claim made no difference three runs could see (docs/performance.md, "Mixed
    load, ninth pass"), and costs every lone step 5 ms."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.rung = asyncio.Event()
        self.stopped = threading.Event()
        self.waiter: asyncio.Task | None = None
        self.thread = threading.Thread(target=self._listen, name="workflows-ring", daemon=True)

    def start(self) -> "RingListener":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        if self.waiter is not None:
            self.waiter.cancel()

    def _listen(self) -> None:
        while not self.stopped.is_set():
            try:
                rang = doorbell.wait_for_wake(WAKE_WAIT_S)
            except Exception:  # Redis down: rings cannot come, and the runner polls meanwhile
                self.stopped.wait(0.5)
                continue
            if rang and not self.stopped.is_set():
                with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                    self.loop.call_soon_threadsafe(self.rung.set)

    def take(self) -> bool:
        """Whether a ring came since the last take (and forget it)."""
        rang = self.rung.is_set()
        self.rung.clear()
        return rang

    def future(self) -> asyncio.Task:
        """One waiting task, kept across ticks until a ring completes it."""
        if self.waiter is None or self.waiter.done():
            self.waiter = asyncio.ensure_future(self.rung.wait())
        return self.waiter

    async def wait(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.future()), timeout_s)


class ProcessRunner(Runner):
    """A Runner that lives as long as its process, under a presence lease."""

    def __init__(self):
        super().__init__()
        self.lease = doorbell.PROCESS_PREFIX + uuid.uuid4().hex[:12]
        self.lifetime_s = math.inf
        self.stopping = False
        self.last_redrive = self.last_event_sweep = 0.0
        self.rings: RingListener | None = None
        self.last_claim = -math.inf  # the first tick claims

    async def drive(self) -> int:
        self.rings = RingListener(asyncio.get_running_loop()).start()
        try:
            return await super().drive()
        finally:
            self.rings.stop()

    def _claim_due(self) -> bool:
        """Claim when rung, when the last claim left due steps behind, and at least every
        RING_FALLBACK_S; without Redis (no rings), every tick."""
        now = time.monotonic()
        rang = self.rings is not None and self.rings.take()
        due = rang or self.left_due or now - self.last_claim >= RING_FALLBACK_S
        if due or not doorbell.can_wait_for_wake():
            self.last_claim = now
            return True
        return False

    def _ring_waiter(self) -> asyncio.Future | None:
        if self.rings is None or not doorbell.can_wait_for_wake():
            return None
        return self.rings.future()

    def stop(self) -> None:
        """Stop claiming; hand back unstarted steps at once; finish the calls in flight."""
        if not self.stopping:
            logger.info("workflows.runner.stopping runner=%s", self.id)
        self.stopping = True
        self.claim_until = time.monotonic() - HAND_BACK_AFTER_S

    async def _refresh_lease(self) -> None:
        self.share(await self.db(self._keep_presence))

    def _keep_presence(self) -> int:
        doorbell.keep_presence(self.lease, self.id, LEASE_TTL_S)
        return doorbell.runner_processes_alive()

    def share(self, alive: int) -> None:
        """Queue at most a fair share of WORKFLOW_MAX_IN_FLIGHT among the runner processes
        alive on every host, so a runner does not hoard due steps (waiting for its own
        platform slots) that the other hosts' runners could send at once."""
        self.runners = max(alive, 1)
        self.queue_cap = max(self.cap // self.runners, 1)

    async def _housekeeping(self) -> None:
        await super()._housekeeping()
        now = time.monotonic()
        if now - self.last_redrive >= HEARTBEAT_EVERY_S and not self.stopping:
            self.last_redrive = now
            if await self.db(sweeper.redrive_stale_steps):
                logger.warning("workflows.runner.takeover runner=%s", self.id)
        if now - self.last_event_sweep >= settings.EVENT_SWEEP_SECONDS and not self.stopping:
            self.last_event_sweep = now
            await self.db(sweep_events)

    async def _keep_waiting(self, idle_since: float) -> bool:
        """Idle: poll every WORKFLOW_POLL_MS; with Redis, after a moment, sleep until a ring
        (or the next step due) instead, so an idle runner costs nothing."""
        if self.stopping:
            return False
        fast = time.monotonic() - idle_since < FAST_POLL_S
        if not doorbell.can_wait_for_wake():  # no wake list to wait on
            await asyncio.sleep(self.poll_s if fast else max(self.poll_s, IDLE_POLL_S))
        elif fast:
            await self.rings.wait(self.poll_s)
        else:
            due_in = await self.db(engine.seconds_until_next_due, WAKE_WAIT_S)
            if due_in is None or due_in > self.poll_s:
                await self.rings.wait(min(due_in or WAKE_WAIT_S, WAKE_WAIT_S))
            self.last_claim = -math.inf  # claim after the wait: it was for a step due or a ring
        return True

    async def _ask_for_help(self) -> None:
        """Runner processes are started by their supervisor, never by a ring."""

    def _close(self) -> None:
        try:
            doorbell.drop_presence(self.lease, self.id)
            if engine.seconds_until_next_due(0) is not None:
                doorbell.ring()  # no runner process left: a runner task takes over
        except DatabaseError:
            pass  # the database is down: the presence lease lapses by itself
        finally:
            connections.close_all()


def run_forever() -> int:
    """Drive steps until SIGTERM or SIGINT; answer how many outcomes were recorded.

    A database outage does not end the process: the runner's work stops with it (its claims
    are taken over through their heartbeats, as after a crash), the process waits for the
    database to answer again, then starts a fresh runner. Exiting instead made the supervisor
    restart it in a tight loop, and give up on the whole stack after a few early deaths.
    """
    recorded = 0
    heap.freeze_startup_heap()
    dispatchers = start_dispatchers()
    try:
        while True:
            wait_for_database()
            try:
                return recorded + drive_one_runner()
            except DatabaseError as exc:
                logger.warning("workflows.runner.database-unavailable %s", one_line(exc))
    finally:
        for dispatcher in dispatchers:
            dispatcher.stop()
        deadline = time.monotonic() + DISPATCHER_STOP_S  # one wait for all, not one each
        for dispatcher in dispatchers:
            dispatcher.join(max(0.0, deadline - time.monotonic()))


def start_dispatchers() -> list[Dispatcher]:
    """With Redis, this process also dispatches events on DISPATCHER_THREADS threads
    (events/dispatchers.py): the doorbell then skips django-q2's pusher, worker and monitor
    for each one.

    More than one, because a dispatch under a burst spends most of its time waiting (for
    Postgres, and for the GIL behind this process's loop): 4-15 ms of CPU in 50-120 ms of
    wall time for a batch of 30-140 events. A stream's event that came in behind such a
    batch waited for it; a free thread takes it at once."""
    if not backends.redis_configured():
        return []
    started = [Dispatcher() for _ in range(settings.DISPATCHER_THREADS)]
    for dispatcher in started:
        dispatcher.start()
    return started


def drive_one_runner() -> int:
    close_old_connections()
    runner = ProcessRunner()
    doorbell.keep_presence(runner.lease, runner.id, LEASE_TTL_S)
    doorbell.forget_dead_presences()
    close_old_connections()

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, runner.stop)
        return await runner.drive()  # asyncio.run cancels what is still in flight

    return asyncio.run(main())


def wait_for_database(longest_wait_s: float = 5.0) -> None:
    """Block until the database answers, waiting longer between tries (SIGTERM still stops
    the process: the default handler is in place outside the runner's loop)."""
    wait_s = 0.5
    while True:
        try:
            close_old_connections()
            connections["default"].ensure_connection()
            return
        except DatabaseError:
            connections.close_all()
            time.sleep(wait_s)
            wait_s = min(wait_s * 2, longest_wait_s)


def one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]
