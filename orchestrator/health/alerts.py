"""Alerts with Alertmanager's semantics: deduplicated by key, grouped, repeated, resolved.

Each detection round says which alerts should be firing (one per check out of pass, one per
forecast). Then, per key:
- new: a row is created and notified;
- still firing: the row is updated; it is notified again only after
  HEALTH_ALERT_REPEAT_SECONDS (repeat_interval);
- no longer wanted: the row is resolved and the resolution notified once.
Notices of one round that share a group go out as one message, as Alertmanager groups
alerts by label into one notification.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from orchestrator.health.escalation import Notice, escalate
from orchestrator.health.models import Alert, CheckState, Status


@dataclass(frozen=True)
class Wanted:
    key: str
    group: str
    severity: str
    summary: str
    labels: dict = field(default_factory=dict)


def wanted_alerts(forecasts) -> list[Wanted]:
    """One alert per check out of pass, and one per forecast."""
    wanted = [
        Wanted(
            f"check:{s.name}",
            s.name.split(":", 1)[0],
            s.status,
            f"{s.name} is {s.status}" + (f": {s.output}" if s.output else ""),
            {"check": s.name},
        )
        for s in CheckState.objects.exclude(status=Status.PASS)
    ]
    wanted += [
        Wanted(
            f"forecast:{f.check}",
            "forecast",
            Status.WARN,
            f.summary(),
            {"check": f.check, "cause": f.cause},
        )
        for f in forecasts
    ]
    return wanted


def sync_alerts(wanted: list[Wanted], now: datetime) -> dict[str, list[tuple[str, Alert]]]:
    """Fire, repeat and resolve; answer the notices due, by group: [(verb, alert)]."""
    due: dict[str, list[tuple[str, Alert]]] = {}
    firing = {a.key: a for a in Alert.objects.filter(state=Alert.State.FIRING)}
    repeat = timedelta(seconds=settings.HEALTH_ALERT_REPEAT_SECONDS)
    for item in wanted:
        alert = firing.pop(item.key, None)
        if alert is None:
            alert = fire(item, now)
            if alert is not None:
                due.setdefault(item.group, []).append(("firing", alert))
            continue
        alert.severity, alert.summary, alert.last_seen_at = item.severity, item.summary[:500], now
        alert.save(update_fields=["severity", "summary", "last_seen_at"])
        if alert.last_notified_at is None or now - alert.last_notified_at >= repeat:
            due.setdefault(item.group, []).append(("still firing", alert))
    for alert in firing.values():
        alert.state, alert.resolved_at = Alert.State.RESOLVED, now
        alert.save(update_fields=["state", "resolved_at"])
        due.setdefault(alert.group, []).append(("resolved", alert))
    return due


def fire(item: Wanted, now: datetime) -> Alert | None:
    try:
        with transaction.atomic():
            return Alert.objects.create(key=item.key, group=item.group, severity=item.severity,
                                        summary=item.summary[:500], labels=item.labels,
                                        starts_at=now, last_seen_at=now)  # fmt: skip
    except IntegrityError:
        return None  # another worker fired it in the same round


def notify(due: dict[str, list[tuple[str, Alert]]], now: datetime) -> int:
    """One notice per group; answer how many were sent."""
    for group, items in due.items():
        firing = [a for verb, a in items if verb != "resolved"]
        lines = [f"[{verb.upper()}] {alert.summary}" for verb, alert in items]
        kind = "alert.firing" if firing else "alert.resolved"
        headline = f"{len(firing)} firing" if firing else "resolved"
        notice = Notice(kind, f"{group}: {headline}", "\n".join(lines),
                        {"group": group, "alerts": [a.key for _, a in items]})  # fmt: skip
        escalate(notice, alert=items[0][1])
        mark_notified(items, now)
    return len(due)


def mark_notified(items: list[tuple[str, Alert]], now: datetime) -> None:
    for verb, alert in items:
        if verb == "resolved":
            alert.resolution_notified = True
            alert.save(update_fields=["resolution_notified"])
        else:
            alert.last_notified_at, alert.notifications = now, alert.notifications + 1
            alert.save(update_fields=["last_notified_at", "notifications"])
