"""The runner: one django-q2 task that keeps hundreds of steps in flight with asyncio.

A step waiting on a platform is a coroutine, not a worker process. The runner claims due steps
in batches (up to WORKFLOW_MAX_IN_FLIGHT), runs them concurrently, and writes their outcomes
in batches from a single database thread, claiming newly ready steps while others are still in
flight. It leaves when nothing has been due for a short while, or when its lifetime is up
(django-q2 kills tasks at 120 s), ringing the doorbell if work remains.

Up to WORKFLOW_RUNNERS runners drive at once, one per worker process and runner lease. With
more than one, a runner keeps at most WORKFLOW_MAX_IN_FLIGHT / WORKFLOW_RUNNERS steps queued
for a platform slot (so it does not hoard steps the others could send through their own
pools) and, when it has more due work than that, rings for the free leases' runners.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from django.conf import settings
from django.db import close_old_connections, connections

from extensions import registry
from orchestrator.workflows import actions, doorbell, engine, steps
from orchestrator.workflows.steps import Job, Outcome

logger = logging.getLogger("contexten.workflows")

HEARTBEAT_EVERY_S = 5.0
LEASE_TTL_S = 5.0  # refreshed every second; a dead runner's lapses this fast
HAND_BACK_AFTER_S = 5.0  # past the lifetime, steps still waiting for a slot are handed back
LINGER_S = 2.0  # stay a moment after the last step: bursts arrive in waves
HELP_EVERY_S = 1.0  # a saturated runner rings for more runners at most this often
# Steps one claim takes at most: a platform's queue can overshoot its share by one batch,
# so a small batch keeps room under WORKFLOW_MAX_IN_FLIGHT for the other platforms' steps.
CLAIM_BATCH = 100


def run_ready_steps(takeover: bool = False) -> int:
    """django-q2 task: drive due steps until none are left; answer how many were recorded.

    Each runner holds one of WORKFLOW_RUNNERS leases; a task finding them all held leaves at
    once rather than hold a worker. `takeover` (the sweeper, after finding a dead worker's
    steps) waits for a dead runner's lease to lapse instead.
    """
    close_old_connections()
    runner = Runner()
    if not runner.acquire(wait_s=LEASE_TTL_S + 1 if takeover else 0):
        return 0
    return asyncio.run(runner.drive())


async def execute_job(job: Job, slots: asyncio.Semaphore | None = None) -> Outcome:
    """Run one action under its timeout and classify what happened.

    `slots` is the platform's connection budget: the timeout starts once a slot is free, so
    a step queued behind the pool never times out after its request was already sent (and
    is then retried into a duplicate).
    """
    if slots is not None:
        async with slots:
            return await execute_job(job)
    job.started = True
    context = actions.ActionContext(
        run_id=job.run_id,
        step_id=job.step_id,
        attempt=job.attempt,
        idempotency_key=f"run-{job.run_id}-{job.step_id}",
        config=job.extension_config,
        extension=job.extension,
        extension_version=job.extension_version,
        vars=job.config,
    )
    outcome = partial(Outcome, job.step_run_id, job.token)
    try:
        output = await asyncio.wait_for(
            actions.execute(job.action, job.params, context, job.extension_version),
            job.timeout_s,
        )
    except actions.BreakerOpen as exc:
        return outcome("wait", error=str(exc), retry_after=exc.retry_after)
    except actions.ActionError as exc:
        return outcome(
            "error", error=str(exc), permanent=exc.permanent, retry_after=exc.retry_after
        )
    except TimeoutError:
        return outcome("error", error=f"timed out after {job.timeout_s:g}s")
    except actions.UnknownAction as exc:
        # The run was pinned by a process that already saw this version (a hot-swap a
        # moment ago); this one may not yet. Look again at the next claim, and retry.
        registry.check_soon()
        return outcome("error", error=f"action unavailable here yet: {exc}", retry_after=1.0)
    except ImportError as exc:
        return outcome("error", error=f"action unavailable: {exc}", permanent=True)
    except Exception as exc:
        logger.exception("workflows.step.crashed step=%s run=%s", job.step_id, job.run_id)
        return outcome("error", error=f"{type(exc).__name__}: {exc}")
    if not isinstance(output, dict):
        output = {"result": output}
    return outcome("ok", output=json.loads(json.dumps(output, default=str)), lone=job.lone)


def runner_id() -> str:
    """`<host>-<host hash>-<pid>-<random>`, at most 38 characters whatever the hostname: a
    claim token (this plus ":" and 8 more) goes into 64-character columns, and a long FQDN
    broke claims. The host part is the first label, cut to 16; the hash tells apart hosts
    whose cut names are equal."""
    hostname = socket.gethostname()
    short = hostname.split(".", 1)[0][:16] or "host"
    digest = hashlib.blake2s(hostname.encode(), digest_size=3).hexdigest()
    return f"{short}-{digest}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Runner:
    """One drive loop; all database work happens on one thread, in batches."""

    def __init__(self):
        self.id = runner_id()
        self.cap = settings.WORKFLOW_MAX_IN_FLIGHT
        self.runners = doorbell.runner_leases_count()
        # Steps waiting for a platform slot this runner may hold; with one runner, all of cap.
        self.queue_cap = max(self.cap // self.runners, 1)
        self.lease: str | None = None
        self.lifetime_s: float = settings.WORKFLOW_RUNNER_LIFETIME
        self.last_help = 0.0
        self.poll_s = settings.WORKFLOW_POLL_MS / 1000
        # Two database threads: outcomes are recorded while the next batch is claimed.
        self.db_thread = ThreadPoolExecutor(1, thread_name_prefix="workflows-db")
        self.record_thread = ThreadPoolExecutor(1, thread_name_prefix="workflows-record")
        self.inflight: dict[asyncio.Task, Job] = {}  # each task leaves it as it ends
        self.completed = asyncio.Event()  # a step finished since the last wait began
        self.completion: asyncio.Future | None = None
        self.finished: list[Outcome] = []
        self.recording: asyncio.Future | None = None  # the record in progress, if any
        self.slots: dict[str, asyncio.Semaphore] = {}
        self.recorded = 0
        self.left_due = False  # the last claim may have left due steps behind

    def acquire(self, wait_s: float) -> bool:
        """Take a free runner lease, waiting up to `wait_s` for another holder's to lapse."""
        deadline = time.monotonic() + wait_s
        while not (lease := doorbell.take_runner_lease(self.id, LEASE_TTL_S)):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)
        self.lease = lease
        return True

    async def db(self, func, *args, thread: ThreadPoolExecutor | None = None):
        return await asyncio.get_running_loop().run_in_executor(
            thread or self.db_thread, partial(func, *args)
        )

    async def drive(self) -> int:
        start = time.monotonic()
        self.claim_until = start + self.lifetime_s
        self.last_beat = self.last_lease = start
        logger.info("workflows.runner.start runner=%s lease=%s", self.id, self.lease)
        try:
            await self._loop()
        finally:
            if self.recording is not None:  # the drive ended on an error: let it finish
                await asyncio.wait([self.recording])
                with contextlib.suppress(Exception):
                    self._collect_recording()
            await self.db(connections.close_all, thread=self.record_thread)
            await self.db(self._close)
            self.db_thread.shutdown(wait=True)
            self.record_thread.shutdown(wait=True)
            logger.info(
                "workflows.runner.exit runner=%s recorded=%d lived=%.1fs",
                self.id, self.recorded, time.monotonic() - start,
            )  # fmt: skip
        return self.recorded

    async def _loop(self) -> None:
        idle_since = None
        while True:
            busy = await self._tick()
            if busy:
                idle_since = None
                continue
            idle_since = idle_since or time.monotonic()
            if await self._keep_waiting(idle_since):
                continue
            if self.lease is None:
                return  # lost the lease (a stall past its TTL): its new holder looks instead
            await self.db(doorbell.release_lease, self.lease, self.id)
            if not await self._claim(final=True):  # the final look, after dropping the lease
                return
            await self._refresh_lease()

    async def _tick(self) -> bool:
        """Record (in the background), claim, wait for a completion; answer whether anything
        was going on.

        Recording 500 outcomes takes long enough (advancing and finishing their runs) that a
        tick waiting for it left every newly ready step unclaimed meanwhile: under 1,000 slow
        steps, a step made during the burst waited 1.5 s (p50) for its claim. So a record
        runs on its own thread while the ticks go on claiming; one record at a time, the
        outcomes finished meanwhile wait for the next."""
        self.completed.clear()  # outcomes that finish from here on end this tick's wait
        had_results = bool(self.finished)
        self._collect_recording()
        if self.finished and self.recording is None:
            batch, self.finished = self.finished, []
            self.recording = asyncio.ensure_future(
                self.db(steps.record, batch, thread=self.record_thread)
            )
        claimed = await self._claim() if self._claim_due() else False
        await self._housekeeping()
        self._hand_back_unstarted()
        if not self.inflight and self.recording is None:
            # A step that finished while this tick claimed is recorded by the next one.
            return had_results or claimed or bool(self.finished)
        waits = {self._completion_waiter(), *([self.recording] if self.recording else [])}
        ring = self._ring_waiter()
        await asyncio.wait(
            waits | ({ring} if ring else set()),
            timeout=self.poll_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        return True

    def _completion_waiter(self) -> asyncio.Future:
        """One task that the next step to finish completes, kept across ticks.

        Waiting on every task in flight instead (`asyncio.wait` on 1,000 of them) added and
        removed 1,000 callbacks a tick: 0.16 ms of CPU a step over a burst's completions,
        in the window where 1,000 answers arrive at once."""
        if self.completion is None or self.completion.done():
            self.completion = asyncio.ensure_future(self.completed.wait())
        return self.completion

    def _step_done(self, task: asyncio.Task) -> None:
        """A step's task ended: its outcome waits for the next record (a task handed back
        or cancelled was taken out of `inflight` by whoever did it)."""
        job = self.inflight.pop(task, None)
        if job is None or task.cancelled():
            return
        if task.exception() is not None:  # execute_job classifies every error: a bug here
            logger.error("workflows.step.lost step=%s: %r", job.step_id, task.exception())
            return  # its heartbeat stops: the step is re-driven like a crashed runner's
        self.finished.append(task.result())
        self.completed.set()

    def _claim_due(self) -> bool:
        """Whether this tick claims: a runner task looks every tick (a poll)."""
        return True

    def _ring_waiter(self) -> asyncio.Future | None:
        """A future that a ring completes, ending a tick's wait early (none: poll)."""
        return None

    def _collect_recording(self) -> None:
        """Count a finished record; its database error ends the drive, as a claim's does."""
        if self.recording is not None and self.recording.done():
            recording, self.recording = self.recording, None
            self.recorded += recording.result()

    def _hand_back_unstarted(self) -> None:
        """Past the lifetime, steps still queued for a platform slot go back to ready (no
        attempt spent, nothing sent), so draining never outlasts django-q2's task timeout."""
        if time.monotonic() < self.claim_until + HAND_BACK_AFTER_S:
            return
        for task, job in list(self.inflight.items()):
            if not job.started:
                task.cancel()
                self.inflight.pop(task)
                self.finished.append(Outcome(job.step_run_id, job.token, "wait", retry_after=0))

    async def _claim(self, final: bool = False) -> bool:
        """Claim what fits; without a lease (lost, or past the final look) claim nothing."""
        if time.monotonic() >= self.claim_until or (self.lease is None and not final):
            return False
        limit = min(self.cap - len(self.inflight), self.queue_cap, CLAIM_BATCH)
        skipped = self._saturated_actions()
        jobs, decided = await self.db(steps.claim, limit, self.id, skipped)
        # A full claim, or one that left a platform's steps for later, may have left due
        # steps behind that no ring will announce again.
        self.left_due = len(jobs) + len(decided) >= limit or bool(skipped)
        self.finished += decided
        for job in jobs:
            job.platform = self._platform(job)
            task = asyncio.create_task(execute_job(job, self._slots(job)))
            self.inflight[task] = job
            task.add_done_callback(self._step_done)
        if len(jobs) + len(decided) >= limit and self.runners > 1:
            await self._ask_for_help()
        return bool(jobs or decided)

    async def _ask_for_help(self) -> None:
        """Full, with steps still due: start runners for the free leases (rate-limited)."""
        now = time.monotonic()
        if now - self.last_help < HELP_EVERY_S:
            return
        self.last_help = now
        if await self.db(steps.anything_due):
            await self.db(partial(doorbell.ring, grow=True))

    def _saturated_actions(self) -> frozenset[str]:
        """The actions of every platform this runner already holds its share of waiting
        steps for (claimed, waiting for one of the platform's slots). Claims skip them, so a
        burst on one platform (1,000 slow `core.http_request` calls) never keeps another
        platform's steps from starting while its own slots are free."""
        waiting: dict[str, list[str]] = {}
        for job in self.inflight.values():
            if not job.started and job.platform is not None:
                waiting.setdefault(job.platform, []).append(job.action)
        return frozenset(
            action
            for platform, held in waiting.items()
            if len(held) >= self._waiting_share(platform)
            for action in held
        )

    def _waiting_share(self, platform: str) -> int:
        """Steps of `platform` this runner may hold waiting for a slot: its pool's size
        shared among the runner processes alive, within the runner's whole queue."""
        return max(1, min(self.queue_cap, self._pool_size(platform) // self.runners))

    def _platform(self, job: Job) -> str | None:
        try:
            return actions.get_action(job.action, job.extension_version).platform
        except (actions.UnknownAction, ImportError):
            return None

    def _pool_size(self, platform: str) -> int:
        return getattr(settings, f"{platform.upper()}_POOL_MAX", None) or self.cap

    def _slots(self, job: Job) -> asyncio.Semaphore | None:
        """One semaphore per platform, sized like its connection pool (`<PLATFORM>_POOL_MAX`)."""
        platform = job.platform
        if platform is None:
            return None
        if platform not in self.slots:
            self.slots[platform] = asyncio.Semaphore(self._pool_size(platform))
        return self.slots[platform]

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self.last_beat >= HEARTBEAT_EVERY_S and self.inflight:
            tokens = {job.token for job in self.inflight.values()}
            await self.db(steps.heartbeat, tokens)
            self.last_beat = now
        if now - self.last_lease >= 1.0:
            await self._refresh_lease()
            self.last_lease = now

    async def _refresh_lease(self) -> None:
        """Keep our lease (or take a free one if it lapsed and was taken); None stops claims."""
        lease = await self.db(doorbell.take_runner_lease, self.id, LEASE_TTL_S, self.lease)
        if lease != self.lease:
            logger.warning("workflows.runner.lease runner=%s %s -> %s", self.id, self.lease, lease)
        self.lease = lease

    async def _keep_waiting(self, idle_since: float) -> bool:
        """Idle: sleep a poll if a step is due soon or we are still lingering."""
        now = time.monotonic()
        if now >= self.claim_until:
            return False
        horizon = min(settings.WORKFLOW_RUNNER_MAX_WAIT, self.claim_until - now)
        due_in = await self.db(engine.seconds_until_next_due, horizon)
        if due_in is None and now - idle_since >= LINGER_S:
            return False
        await asyncio.sleep(max(self.poll_s, min(due_in or self.poll_s, 0.5)))
        return True

    def _close(self) -> None:
        """On the database thread: hand over remaining work, then close its connection."""
        try:
            if self.lease is not None:
                doorbell.release_lease(self.lease, self.id)
            if engine.seconds_until_next_due(settings.WORKFLOW_RUNNER_MAX_WAIT) is not None:
                doorbell.ring(force=True)
        finally:
            connections.close_all()
