"""The trigger fast path on Postgres: a run and its steps in one statement.

An event that starts a workflow without a concurrency cap needs one run row (`running`) and
its step rows (roots `ready`, each pinned to its extension's active version). One
`INSERT … RETURNING` inside a CTE writes both in a single
round trip; `ON CONFLICT DO NOTHING` on the (workflow, event) index makes a replayed event a
no-op instead of an IntegrityError. The dispatcher writes the runs of a whole batch of events
in one such statement, so every round trip saved here is dispatch capacity at 200 events a
second.
"""

import json

from django.db import connection
from django.utils import timezone

from extensions.registry import pin
from orchestrator.core import prepared
from orchestrator.workflows.models import Run, RunStatus, StepRun, StepStatus

# Runs per statement when a dispatcher writes a batch: bounds the statement's parameters.
FAST_CHUNK = 200


def insert_running_run(workflow_id: int, version_id: int, event_id: int, plan) -> int | None:
    """Insert the run and its steps; answer the run id, or None if the event has a run."""
    run_ids = _insert([(workflow_id, version_id, event_id, plan)])
    return run_ids[0] if run_ids else None


def insert_running_runs(items: list[tuple[int, int, int, object]]) -> int:
    """Insert runs and their steps for many (workflow, version, event, plan): one statement
    per FAST_CHUNK runs. Answer how many runs are new (an event's existing run is kept)."""
    unique = list({(item[0], item[2]): item for item in items}.values())
    return sum(
        len(_insert(unique[start : start + FAST_CHUNK]))
        for start in range(0, len(unique), FAST_CHUNK)
    )


def _insert(items: list[tuple[int, int, int, object]]) -> list[int]:
    """One `INSERT … RETURNING` of the runs in a CTE, joined to their steps by (workflow,
    event): at most one run per pair, which the caller guarantees. Runs and steps go as two
    JSON parameters, so the statement's text never changes (core/bulk.py says why)."""
    now = timezone.now()
    runs, steps = [], []
    for workflow_id, version_id, event_id, plan in items:
        runs.append([workflow_id, version_id, event_id])
        for index, step in enumerate(plan.steps):
            root = not step.needs and step.id not in plan.compensations
            extension, version = pin(step.action)
            status = StepStatus.READY if root else StepStatus.PENDING
            steps.append([workflow_id, event_id, step.id, step.action, extension, version,
                          index, status, root])  # fmt: skip
    params = {
        "runs": json.dumps(runs),
        "steps": json.dumps(steps),
        "running": RunStatus.RUNNING,
        "now": now,
    }
    with prepared.cursor() as cursor:
        cursor.execute(INSERT_SQL, params)
        return sorted({row[0] for row in cursor.fetchall()})


# Each JSON row is an array; `->>` takes its fields by position, typed by the casts.
INSERT_SQL = f"""
    WITH new_run AS (
        INSERT INTO {Run._meta.db_table}
            (workflow_id, version_id, event_id, trigger, input, status, error,
             created_at, started_at)
        SELECT (r->>0)::bigint, (r->>1)::bigint, (r->>2)::bigint, 'event', '{{}}'::jsonb,
               %(running)s, '', %(now)s, %(now)s
        FROM json_array_elements(%(runs)s::json) AS r
        ON CONFLICT (workflow_id, event_id) WHERE event_id IS NOT NULL DO NOTHING
        RETURNING id, workflow_id, event_id
    )
    INSERT INTO {StepRun._meta.db_table}
        (run_id, step_id, action, extension, extension_version, position, status, attempts,
         error, claimed_by, next_attempt_at, ready_at)
    SELECT new_run.id, s->>2, s->>3, s->>4, s->>5, (s->>6)::integer, s->>7, 0, '', '',
           CASE WHEN (s->>8)::boolean THEN %(now)s::timestamptz END,
           CASE WHEN (s->>8)::boolean THEN %(now)s::timestamptz END
    FROM new_run JOIN json_array_elements(%(steps)s::json) AS s
        ON (s->>0)::bigint = new_run.workflow_id AND (s->>1)::bigint = new_run.event_id
    RETURNING run_id
"""  # noqa: S608 - table names are ours; every value is a parameter


def usable(plan, event) -> bool:
    return connection.vendor == "postgresql" and event is not None and not plan.concurrency
