"""Runs planned where a webhook is stored: the event's runs go in with its own INSERT.

On Postgres with dispatchers alive (so runner processes are there to ring), a web process
that stores a delivery first decides, from a snapshot in memory, which workflows it starts.
When the snapshot can decide, the event row goes in `done` together with its runs and their
steps, in the one statement group commit sends (events/group_commit.py), and the runners are
rung; no dispatcher sees it. Why: while a burst arrived, a stream event waited longer for
its dispatch (stored → run created, p95 91-153 ms) than for its step's claim, every hop of
the dispatch (the ids' push and BLPOP, the linger, the claim, the insert, the done UPDATE)
waiting for a core (docs/performance.md, "Mixed load, tenth pass").

What the dispatch path guarantees still holds:
- **Triggers** are at most a second stale, as the dispatchers' trigger cache is
  (triggers.CHECK_EVERY_S): the snapshot is re-read on a worker thread every half second,
  so planning never queries the database on the loop, and one older than a second plans
  nothing.
- **Extensions**: an event answered after an upgrade or a disable runs on the new state.
  The statement compares the extensions' generation token it reads with the snapshot's;
  if they differ, the event goes in `received`, without runs, and the dispatchers take it
  (their batch re-reads the registry).
- **Anything the snapshot cannot decide goes to the dispatchers**, stored `received` as
  before: a snapshot not yet loaded, a disabled extension's event (held), a matching
  workflow with a concurrency cap, a `when` that fails or reads the event's id (not known
  before the insert).
- Duplicates start nothing: a delivery already stored inserts no event row, so it joins
  no run.
"""

import asyncio
import contextlib
import json
import logging
import math
import time
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.utils import timezone

from extensions import registry
from orchestrator.core.models import Generation
from orchestrator.events.models import Status
from orchestrator.events.store import insert_statement, row_template
from orchestrator.workflows import engine, leases, triggers
from orchestrator.workflows.models import Run, RunStatus, StepRun, StepStatus
from orchestrator.workflows.templating import TemplateProblem, is_truthy

logger = logging.getLogger("contexten.workflows")
REFRESH_AFTER_S = 0.5  # a snapshot this old is re-read in the background
TRUSTED_FOR_S = 1.0  # one older (its refresh failing, or slow) plans nothing
WAIT_S = 0.1  # the longest a webhook waits for a snapshot too old to trust


@dataclass(frozen=True)
class Snapshot:
    index: triggers.TriggerIndex
    plans: dict[int, engine.Plan]  # version id -> plan, for every trigger's version
    installed: dict  # the registry's table
    extensions_token: str | None  # its generation, checked again by the statement
    taken_at: float = field(default_factory=time.monotonic)


def take_snapshot() -> Snapshot:
    """On a worker thread: what planning needs, read once."""
    try:
        # The token first, then the table: the table is then at least as new as the token
        # the statement will find unchanged. Read from the rows, as the statement does (the
        # Redis copy can differ from them, and would then plan nothing).
        token = (
            Generation.objects.filter(name=registry.GENERATION_NAME)
            .values_list("token", flat=True)
            .first()
        )
        installed = registry.load_table()
        index = triggers.CACHE.current(max_age_s=0)  # the snapshot's age is the staleness
        versions = {
            trigger.version_id
            for found in (*index.exact.values(), *index.by_prefix.values())
            for _, trigger in found
        }
        plans = {version: engine.plan_for(version) for version in versions}
        return Snapshot(index, plans, installed, token)
    finally:
        close_old_connections()


class IngestPlanner:
    """One per event loop: the snapshot, and the refresh that keeps it fresh."""

    def __init__(self):
        self.snapshot: Snapshot | None = None
        self.refreshing: asyncio.Task | None = None

    async def current(self) -> Snapshot | None:
        """The snapshot if fresh enough. One due a refresh starts it in the background; one
        too old (the first webhook after a quiet spell) waits for it, up to WAIT_S."""
        if self._age() >= REFRESH_AFTER_S and not self._refreshing():
            self.refreshing = asyncio.get_running_loop().create_task(self._refresh())
        if self._age() >= TRUSTED_FOR_S and self._refreshing():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.refreshing), WAIT_S)
        return self.snapshot if self._age() < TRUSTED_FOR_S else None

    def _age(self) -> float:
        if self.snapshot is None:
            return math.inf
        return time.monotonic() - self.snapshot.taken_at

    def _refreshing(self) -> bool:
        return self.refreshing is not None and not self.refreshing.done()

    async def _refresh(self) -> None:
        try:
            self.snapshot = await sync_to_async(take_snapshot, thread_sensitive=False)()
        except Exception as exc:  # the database is down: plan nothing until it answers
            logger.warning("workflows.at-ingest.snapshot-failed %s", exc)


_planners: dict[asyncio.AbstractEventLoop, IngestPlanner] = {}


def planner() -> IngestPlanner:
    loop = asyncio.get_running_loop()
    if loop not in _planners:
        _planners[loop] = IngestPlanner()
    return _planners[loop]


@dataclass(frozen=True)
class Planned:
    """The runs one delivery starts, as rows of WITH_RUNS_SQL's JSON parameters."""

    snapshot: Snapshot
    runs: list[list]  # [workflow_id, version_id]
    steps: list[list]  # [workflow_id, step_id, action, extension, version, index, status]

    @staticmethod
    def statement_for(rows) -> tuple[str, list]:
        """group_commit's hook: the batch's INSERT with its planned runs."""
        return with_runs(rows)

    def ring(self, pipe) -> None:
        """Once stored: wake the runner processes, as `doorbell.ring` does."""
        if self.runs:
            leases.add_wake(pipe)


async def plan_delivery(source: str, event_type: str, delivery_id: str, data_json: str):
    """subscribers.INGEST_PLANNER: this loop's snapshot, then `plan` (None without one)."""
    snapshot = await planner().current()
    if snapshot is None:
        return None
    return plan(snapshot, source, event_type, delivery_id, data_json)


def plan(
    snapshot: Snapshot, source: str, event_type: str, delivery_id: str, data_json: str
) -> Planned | None:
    """The runs this delivery starts, or None when the dispatchers must decide."""
    item = snapshot.installed.get(source)
    if item is not None and not item.enabled:
        return None  # held until the extension is enabled again
    runs, steps, data = [], [], None
    for trigger in snapshot.index.candidates(event_type):
        if not trigger.pattern.match(event_type):
            continue
        if trigger.when:
            data = json.loads(data_json) if data is None else data
            event = EventBeforeInsert(
                source=source, type=event_type, delivery_id=delivery_id, data=data
            )
            holds = when_holds(trigger.when, event)
            if holds is None:
                return None
            if not holds:
                continue
        workflow_plan = snapshot.plans.get(trigger.version_id)
        if workflow_plan is None or workflow_plan.concurrency:
            return None
        runs.append([trigger.workflow_id, trigger.version_id])
        steps += step_rows(snapshot, trigger.workflow_id, workflow_plan)
    return Planned(snapshot, runs, steps)


class NotKnownYet(Exception):
    """A `when` read what only the stored row has (its id)."""


class EventBeforeInsert(dict):
    """The template's `event` without its id: reading the id stops the planning (a lenient
    `when` would read it as missing, where the dispatchers see the real id)."""

    def __getitem__(self, name):
        if name == "id":
            raise NotKnownYet(name)
        return super().__getitem__(name)

    def get(self, name, default=None):
        if name == "id":
            raise NotKnownYet(name)
        return super().get(name, default)

    def __contains__(self, name) -> bool:
        if name == "id":
            raise NotKnownYet(name)
        return super().__contains__(name)


def when_holds(when: str, event: EventBeforeInsert) -> bool | None:
    """The trigger's `when`, as triggers._when_holds sees it; None when it fails or reads
    the id (the dispatchers decide, and log a failure with the event's id)."""
    try:
        return is_truthy(when, {"event": event})
    except (TemplateProblem, NotKnownYet):
        return None
    except Exception:  # the dispatchers meet it again, and report it with the event
        return None


def step_rows(snapshot: Snapshot, workflow_id: int, workflow_plan: engine.Plan) -> list[list]:
    """The run's steps, each pinned to its extension's active version (registry.pin)."""
    rows = []
    for index, step in enumerate(workflow_plan.steps):
        root = not step.needs and step.id not in workflow_plan.compensations
        extension = step.action.split(".", 1)[0]
        item = snapshot.installed.get(extension)
        status = StepStatus.READY if root else StepStatus.PENDING
        version = item.version if item else ""
        rows.append([workflow_id, step.id, step.action, extension, version, index, status])
    return rows


def with_runs(rows) -> tuple[str, list]:
    """The batch's INSERT inside WITH_RUNS_SQL. A planned row's status is decided by the
    statement: `done` while the extensions' generation is the snapshot's, else `received`.
    Each delivery is planned once (a second row of it in the batch is a duplicate)."""
    templates, params, runs, steps, seen = [], [], [], [], set()
    token = None
    for row in rows:
        key = (row.source, row.delivery_id)
        planned = row.planned if key not in seen else None
        seen.add(key)
        templates.append(row_template(jsonb=True) if planned is None else PLANNED_ROW)
        params += row.params
        if planned is not None:
            token = planned.snapshot.extensions_token
            runs += [[*run, *key] for run in planned.runs]
            steps += [[*step, *key] for step in planned.steps]
    now = timezone.now()
    sql = WITH_RUNS_SQL.format(events=insert_statement(len(rows), True, templates))
    head = [registry.GENERATION_NAME, token]
    return sql, [*head, *params, now, now, json.dumps(runs), now, now, json.dumps(steps)]


# A planned row: as row_template, but its status and finished_at follow the check.
PLANNED_ROW = (
    "(%s, %s, %s, %s, %s, %s::jsonb,"  # noqa: S608 - constants only; values are parameters
    f" CASE WHEN (SELECT current FROM fresh) THEN '{Status.DONE}' ELSE %s END,"
    " CASE WHEN (SELECT current FROM fresh) THEN %s::timestamptz END, 0, '')"
)

WITH_RUNS_SQL = f"""
    WITH fresh AS (
        SELECT (SELECT token FROM {Generation._meta.db_table} WHERE name = %s)
            IS NOT DISTINCT FROM %s::text AS current
    ),
    ev AS ({{events}}),
    new_run AS (
        INSERT INTO {Run._meta.db_table}
            (workflow_id, version_id, event_id, trigger, input, status, error,
             created_at, started_at)
        SELECT (r->>0)::bigint, (r->>1)::bigint, ev.id, 'event', '{{{{}}}}'::jsonb,
               '{RunStatus.RUNNING}', '', %s, %s
        FROM ev JOIN json_array_elements(%s::json) AS r
            ON r->>2 = ev.source AND r->>3 = ev.delivery_id
        WHERE ev.status = '{Status.DONE}'
        ON CONFLICT (workflow_id, event_id) WHERE event_id IS NOT NULL DO NOTHING
        RETURNING id, workflow_id, event_id
    ),
    new_steps AS (
        INSERT INTO {StepRun._meta.db_table}
            (run_id, step_id, action, extension, extension_version, position, status,
             attempts, error, claimed_by, next_attempt_at, ready_at)
        SELECT new_run.id, s->>1, s->>2, s->>3, s->>4, (s->>5)::integer, s->>6, 0, '', '',
               CASE WHEN s->>6 = '{StepStatus.READY}' THEN %s::timestamptz END,
               CASE WHEN s->>6 = '{StepStatus.READY}' THEN %s::timestamptz END
        FROM new_run JOIN ev ON ev.id = new_run.event_id
            JOIN json_array_elements(%s::json) AS s
            ON (s->>0)::bigint = new_run.workflow_id
            AND s->>7 = ev.source AND s->>8 = ev.delivery_id
        RETURNING run_id
    )
    SELECT id, source, delivery_id, status FROM ev
"""  # noqa: S608 - table names are ours; every value is a parameter
