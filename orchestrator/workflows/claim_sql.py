"""The claim on Postgres: rank, lock, claim and read the claimed steps in one statement.

Through the ORM a claim was five statements (a cheap `EXISTS`, the ranking, the lock, the
`UPDATE`, the read with each step's run and event) and most of its CPU was Django compiling
them: 8.9 ms of CPU for a claim of 2 steps on an idle machine. With the CPU shared among web,
workers and runners, every one of those round trips also waited for a core; at 200 events/s
a claim took 42 ms of wall time on average, 84 % of a runner's time.

Here the ranking is the same as steps._in_turn's (each workflow's oldest due step first,
looking at the oldest CLAIM_SCAN_FACTOR x `limit` and the newest `limit` due steps, two
bounded scans of `step_claim_order`). The claimable statuses are written into the text
(they are ours, not input), so the planner matches that partial index's condition. `LIMIT …
FOR UPDATE SKIP LOCKED` counts only the rows it locks, so a claim racing another takes the
next in turn. The `UPDATE … FROM` joins each step's run and event and returns their columns,
built into model instances here with the fields' own converters, as the ORM would.
"""

from orchestrator.core import prepared
from orchestrator.events.models import Event
from orchestrator.workflows.models import STEP_CLAIMABLE, Run, StepRun, StepStatus

CLAIM_SCAN_FACTOR = 4
STEPS, RUNS, EVENTS = StepRun._meta.db_table, Run._meta.db_table, Event._meta.db_table
CLAIMABLE_SQL = ", ".join(f"'{status}'" for status in STEP_CLAIMABLE)
MODELS = ((StepRun, STEPS), (Run, "r"), (Event, "e"))


def returned_columns() -> str:
    fields = [(alias, field) for model, alias in MODELS for field in model._meta.concrete_fields]
    return ", ".join(f"{alias}.{field.column}" for alias, field in fields)


CLAIM_SQL = f"""
    WITH due AS (
        (SELECT id FROM {STEPS} WHERE status IN ({CLAIMABLE_SQL}) AND next_attempt_at <= %(now)s
            AND action <> ALL(%(skip)s) ORDER BY next_attempt_at, id LIMIT %(oldest)s)
        UNION
        (SELECT id FROM {STEPS} WHERE status IN ({CLAIMABLE_SQL}) AND next_attempt_at <= %(now)s
            AND action <> ALL(%(skip)s) ORDER BY next_attempt_at DESC, id DESC LIMIT %(limit)s)
    ), ranked AS (
        SELECT s.id, s.next_attempt_at, row_number() OVER (
            PARTITION BY r.workflow_id ORDER BY s.next_attempt_at, s.id) AS turn
        FROM {STEPS} s JOIN {RUNS} r ON r.id = s.run_id WHERE s.id IN (SELECT id FROM due)
    ), picked AS (
        SELECT s.id FROM {STEPS} s JOIN ranked ON ranked.id = s.id
        WHERE s.status IN ({CLAIMABLE_SQL})
        ORDER BY ranked.turn, ranked.next_attempt_at, ranked.id
        LIMIT %(limit)s FOR UPDATE OF s SKIP LOCKED
    )
    UPDATE {STEPS} SET status = %(running)s, claimed_by = %(token)s,
        attempts = {STEPS}.attempts + 1,
        heartbeat_at = now(), started_at = %(now)s
    FROM picked, {RUNS} r LEFT JOIN {EVENTS} e ON e.id = r.event_id
    WHERE {STEPS}.id = picked.id AND r.id = {STEPS}.run_id
        AND {STEPS}.status IN ({CLAIMABLE_SQL})
    RETURNING {returned_columns()}
"""  # noqa: S608 - table names, columns and statuses are ours; every value is a parameter


def claim_steps(limit: int, token: str, now, skip_actions) -> list[StepRun]:
    """Claim up to `limit` due steps (none of `skip_actions`) for `token`; answer them, each
    with its run and the run's event loaded, in id order."""
    params = {
        "now": now,
        "skip": sorted(skip_actions),
        "oldest": limit * CLAIM_SCAN_FACTOR,
        "limit": limit,
        "running": StepStatus.RUNNING,
        "token": token,
    }
    with prepared.cursor() as cursor:
        cursor.execute(CLAIM_SQL, params)
        rows = cursor.fetchall()
    return sorted((step_with_run(row) for row in rows), key=lambda step: step.pk)


def step_with_run(row: tuple) -> StepRun:
    step_values, run_values, event_values = split(row)
    step, run = prepared.instance(StepRun, step_values), prepared.instance(Run, run_values)
    event = prepared.instance(Event, event_values) if event_values[0] is not None else None
    Run.event.field.set_cached_value(run, event)
    StepRun.run.field.set_cached_value(step, run)
    return step


def split(row: tuple) -> list[tuple]:
    parts, start = [], 0
    for model, _ in MODELS:
        end = start + len(model._meta.concrete_fields)
        parts.append(row[start:end])
        start = end
    return parts
