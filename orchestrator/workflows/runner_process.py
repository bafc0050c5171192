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
- idle, it waits for a ring (with Redis: BLPOP on a wake list the doorbell pushes to) rather
  than polling, so idle runners cost no CPU; without Redis it polls every 100 ms;
- every few seconds it re-drives steps whose heartbeat went stale (a runner killed mid-step),
  so a dead runner's work is taken over within WORKFLOW_HEARTBEAT_TIMEOUT, not at the next
  sweep; and every EVENT_SWEEP_SECONDS it sweeps stuck events (doorbells a killed worker
  host had taken), since django-q2 runs the event sweep schedule at most once a minute.
"""

import asyncio
import logging
import math
import signal
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from orchestrator.events.dispatch import sweep_events
from orchestrator.workflows import doorbell, engine, sweeper
from orchestrator.workflows.runner import HAND_BACK_AFTER_S, HEARTBEAT_EVERY_S, LEASE_TTL_S, Runner

logger = logging.getLogger("contexten.workflows")
FAST_POLL_S = 0.5  # after the last activity, poll this long before waiting for a ring
IDLE_POLL_S = 0.1  # without Redis, idle for a while: poll this often (about 1% of a core)
WAKE_WAIT_S = 1.0  # the longest wait for a ring: the presence lease is renewed in between


class ProcessRunner(Runner):
    """A Runner that lives as long as its process, under a presence lease."""

    def __init__(self):
        super().__init__()
        self.lease = doorbell.PROCESS_PREFIX + uuid.uuid4().hex[:12]
        self.lifetime_s = math.inf
        self.stopping = False
        self.last_redrive = self.last_event_sweep = 0.0

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
        if time.monotonic() - idle_since < FAST_POLL_S:
            await asyncio.sleep(self.poll_s)
        elif not doorbell.can_wait_for_wake():
            await asyncio.sleep(max(self.poll_s, IDLE_POLL_S))  # no wake list to wait on
        else:
            due_in = await self.db(engine.seconds_until_next_due, WAKE_WAIT_S)
            if due_in is None or due_in > self.poll_s:
                wait_s = min(due_in or WAKE_WAIT_S, WAKE_WAIT_S)
                await asyncio.to_thread(doorbell.wait_for_wake, wait_s)
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
    while True:
        wait_for_database()
        try:
            return recorded + drive_one_runner()
        except DatabaseError as exc:
            logger.warning("workflows.runner.database-unavailable %s", one_line(exc))


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
