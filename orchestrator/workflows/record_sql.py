"""The choreography case's record on Postgres: a lone step's success and its run's, in one
statement.

A workflow of one step without a concurrency cap (the "simple rule" of SPEC §6) finishes
when its step succeeds. Through the general record, writing that took four statements (read
the steps and their runs, write the steps, read every step of their runs, finish the runs)
and built two model instances per step twice over, in the runner process whose event loop
shares the GIL with them. Here the outcomes go as one JSON parameter and one statement
writes both, under the same guards: a step is written only while it is running under the
claim's token, a run only while it is running (a cancel in between wins).

Errors, waits, skips and the steps of larger workflows take the general record
(steps.record), which decides retries and what comes next.
"""

import json

from orchestrator.core.lookups import ARRAY_SQL
from orchestrator.workflows.models import Run, RunStatus, StepRun, StepStatus

STEPS, RUNS = StepRun._meta.db_table, Run._meta.db_table

# Each JSON row is [step id, claim token, output]; `->` and `->>` take them by position. The
# ids again as an array let the planner find the steps by primary key: a JSON function's rows
# are estimated at 100, and it hashed every running step instead.
RECORD_SQL = f"""
    WITH outcome AS (
        SELECT (o->>0)::bigint AS id, o->>1 AS token, (o->2)::jsonb AS output
        FROM json_array_elements(%(outcomes)s::json) AS o
    ), done AS (
        UPDATE {STEPS} SET status = %(succeeded)s, output = outcome.output, error = '',
            finished_at = %(now)s, claimed_by = '', heartbeat_at = NULL
        FROM outcome
        WHERE {STEPS}.id = outcome.id AND {STEPS}.id = ANY({ARRAY_SQL % "%(ids)s"})
            AND {STEPS}.status = %(running)s
            AND {STEPS}.claimed_by = outcome.token
        RETURNING {STEPS}.run_id, {STEPS}.action, {STEPS}.started_at
    ), finished AS (
        UPDATE {RUNS} SET status = %(run_succeeded)s, finished_at = %(now)s
        FROM done WHERE {RUNS}.id = done.run_id AND {RUNS}.status = %(run_running)s
        RETURNING {RUNS}.id
    )
    SELECT done.action, done.started_at, (SELECT count(*) FROM finished) FROM done
"""  # noqa: S608 - table names are ours; every value is a parameter


def record_lone_successes(cursor, outcomes: list, now) -> tuple[list[tuple], int]:
    """Write these lone steps' successes and finish their runs; answer (action, started_at)
    per step written, and how many runs finished."""
    rows = [[o.step_run_id, o.token, o.output or {}] for o in outcomes]
    cursor.execute(
        RECORD_SQL,
        {
            "outcomes": json.dumps(rows),
            "ids": ",".join(str(int(o.step_run_id)) for o in outcomes),
            "succeeded": StepStatus.SUCCEEDED,
            "running": StepStatus.RUNNING,
            "run_succeeded": RunStatus.SUCCEEDED,
            "run_running": RunStatus.RUNNING,
            "now": now,
        },
    )
    written = cursor.fetchall()
    finished = written[0][2] if written else 0
    return [(action, started_at) for action, started_at, _ in written], finished
