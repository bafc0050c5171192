"""Who hears about stored events: plain data, dotted paths called in order by dispatch.

Each subscriber takes a list of `Event` rows (the batch one dispatcher claimed, oldest first)
and must be idempotent: dispatch is at-least-once, so the same event can reach it twice after
a crash or a replay, and a batch that raises is handed over again one event at a time, to find
the event that fails.
"""

EVENT_SUBSCRIBERS: list[str] = [
    "orchestrator.workflows.triggers.on_events",
]

# Who may decide a webhook's dispatch where it is stored (the fast path on Postgres, while a
# dispatcher is alive): an async callable (source, type, delivery_id, data_json) answering a
# plan, or None to leave the event to the dispatchers. A plan writes the batch's INSERT with
# its own rows inside (`statement_for(rows)`; the row then comes back `done` or `received`)
# and adds what to ring once it is stored to a Redis pipeline (`ring(pipe)`).
INGEST_PLANNER: str | None = "orchestrator.workflows.at_ingest.plan_delivery"
