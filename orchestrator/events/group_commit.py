"""Group commit for the webhook fast path: deliveries that arrive together share one INSERT.

A lone delivery is inserted at once, alone. While up to WEBHOOK_INSERT_CONCURRENCY inserts
are in flight on this loop, newer deliveries wait and then go in together as one multi-row
`INSERT … ON CONFLICT DO NOTHING RETURNING` (one round trip, one commit, one WAL flush).
Every caller still gets its answer only after its own row is committed, so durability is
unchanged; what is shared is the per-statement and per-commit cost, which dominates for 22 KB
payloads (measurements in docs/architecture.md).
"""

import asyncio
from dataclasses import dataclass

import psycopg

from orchestrator.events.models import Status
from orchestrator.events.store import Stored, existing_statement, insert_statement

MAX_ROWS = 64


class UnstorablePayload(Exception):
    """Postgres refused the payload (e.g. \\u0000 in a string): a 400, not a retry."""


@dataclass(frozen=True)
class Row:
    source: str
    delivery_id: str
    params: tuple
    # The runs that go in with the row, when the webhook's store planned them
    # (workflows/at_ingest.py: a `Planned`), else None.
    planned: object = None


class GroupInserter:
    """Per-loop queue of rows waiting to be inserted, drained by at most `concurrency`
    inserts at a time, each taking everything that is waiting (up to `max_rows`; 1 turns
    group commit off)."""

    def __init__(self, pool_getter, concurrency: int, max_rows: int = MAX_ROWS):
        self.pool_getter = pool_getter
        self.concurrency = concurrency
        self.max_rows = max_rows
        self.waiting: list[tuple[Row, asyncio.Future]] = []
        self.in_flight = 0

    async def insert(self, row: Row) -> Stored:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((row, future))
        if self.in_flight < self.concurrency:
            self.in_flight += 1
            asyncio.get_running_loop().create_task(self.drain())
        return await future

    async def drain(self) -> None:
        try:
            while self.waiting:
                batch = self.waiting[: self.max_rows]
                self.waiting = self.waiting[self.max_rows :]
                await self.insert_batch(batch)
        finally:
            self.in_flight -= 1

    async def insert_batch(self, batch: list[tuple[Row, asyncio.Future]]) -> None:
        try:
            async with (await self.pool_getter()).connection() as connection:
                outcomes = await insert_rows(connection, [row for row, _ in batch])
        except Exception as exc:  # the whole batch failed: every caller hears why
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)


async def insert_rows(connection, rows: list[Row]) -> list:
    """Insert the rows in one statement; a payload Postgres refuses fails only its own row."""
    try:
        inserted = await execute_insert(connection, rows)
    except psycopg.DataError as exc:  # SQLSTATE class 22: the value itself is refused
        if len(rows) == 1:
            return [UnstorablePayload(str(exc).splitlines()[0])]
        return [(await insert_rows(connection, [row]))[0] for row in rows]
    return await outcomes_for(connection, rows, inserted)


async def execute_insert(connection, rows: list[Row]) -> dict[tuple[str, str], tuple]:
    """(source, delivery_id) -> (id, status) of each row inserted."""
    planned = next((row.planned for row in rows if row.planned is not None), None)
    if planned is not None:  # the planner writes the statement, its runs inside
        statement, params = planned.statement_for(rows)
    else:
        statement = insert_statement(len(rows), jsonb=True)
        params = [value for row in rows for value in row.params]
    cursor = await connection.execute(statement, params)
    rows_back = await cursor.fetchall()
    return {(source, delivery): (pk, status) for pk, source, delivery, status in rows_back}


async def outcomes_for(connection, rows: list[Row], inserted: dict) -> list[Stored]:
    """The first row of each (source, delivery_id) inserted is new; the rest are duplicates,
    of an earlier delivery or of another row in this batch."""
    outcomes, claimed, missing = [], set(), []
    for row in rows:
        key = (row.source, row.delivery_id)
        if key in inserted and key not in claimed:
            claimed.add(key)
            pk, status = inserted[key]
            outcomes.append(Stored(pk, duplicate=False, done=status == Status.DONE))
        else:
            outcomes.append(None)
            missing.append(key)
    existing = {key: pk for key, (pk, _) in inserted.items()}
    if missing:
        existing |= await existing_ids(connection, missing)
    return [
        outcome or Stored(existing[(row.source, row.delivery_id)], duplicate=True)
        for row, outcome in zip(rows, outcomes, strict=True)
    ]


async def existing_ids(connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    unique = sorted(set(keys))
    cursor = await connection.execute(
        existing_statement(len(unique)), [value for key in unique for value in key]
    )
    return {(source, delivery): id for id, source, delivery in await cursor.fetchall()}
