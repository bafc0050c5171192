"""Who hears about stored events: plain data, dotted paths called in order by dispatch.

Each subscriber takes a list of `Event` rows (the batch one dispatcher claimed, oldest first)
and must be idempotent: dispatch is at-least-once, so the same event can reach it twice after
a crash or a replay, and a batch that raises is handed over again one event at a time, to find
the event that fails.
"""

EVENT_SUBSCRIBERS: list[str] = [
    "orchestrator.workflows.triggers.on_events",
]
