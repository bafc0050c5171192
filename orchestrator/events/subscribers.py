"""Who hears about a stored event: plain data, dotted paths called in order by dispatch.

Each subscriber takes the `Event` row and must be idempotent: dispatch is at-least-once, so
the same event can reach it twice after a crash or a replay.
"""

EVENT_SUBSCRIBERS: list[str] = [
    "orchestrator.workflows.triggers.on_event",
]
