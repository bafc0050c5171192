"""From stored results to verdicts: baselines and hysteresis per check, incidents, forecasts.

Called by the detection job after it stores a round of results. Each check's state row holds
its learned baseline and its hysteresis counter, so any worker can run the next round.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from orchestrator.health import baseline as maths
from orchestrator.health import state as health_state
from orchestrator.health.detectors import limits
from orchestrator.health.models import SEVERITY, CheckResult, CheckState, Incident, Status

# A signal "moved" when it left its starting value by this much (relative), and at least by
# a floor in its own unit, so noise in a sub-millisecond ping is not a cause.
MOVE_TOLERANCE = 1.0
MOVE_FLOOR = {"ms": 50.0, "s": 5.0, "ratio": 0.05, "events": 10.0, "steps": 10.0}


@dataclass(frozen=True)
class Transition:
    name: str
    old: str
    new: str
    output: str


@dataclass(frozen=True)
class Forecast:
    check: str
    value: float
    limit: float
    unit: str
    seconds_left: float
    cause: str

    def summary(self) -> str:
        return (f"{self.check} is rising: now {self.value:g} {self.unit}, projected to reach "
                f"its warn limit {self.limit:g} in about {self.seconds_left:.0f}s; likely "
                f"cause: {self.cause}")  # fmt: skip


def store(results: dict[str, list[dict]], now: datetime) -> list[CheckResult]:
    """One history row per check (its first result), all stamped with this round's time."""
    rows = [row_from(name, items[0], now) for name, items in results.items() if items]
    return CheckResult.objects.bulk_create(rows)


def row_from(name: str, item: dict, now: datetime) -> CheckResult:
    value = item.get("observedValue")
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    output = item.get("output") or ("" if numeric or value is None else str(value))
    return CheckResult(name=name, status=item.get("status", Status.FAIL),
                       component_type=item.get("componentType", ""),
                       observed_value=float(value) if numeric else None,
                       observed_unit=item.get("observedUnit", "") if numeric else "",
                       output=str(output)[:2000], time=now)  # fmt: skip


def update_states(rows: list[CheckResult]) -> list[Transition]:
    """Fold each result into its check's baseline and hysteresis; answer status changes."""
    existing = {s.name: s for s in CheckState.objects.filter(name__in=[r.name for r in rows])}
    transitions = []
    for row in rows:
        state = existing.get(row.name) or CheckState(name=row.name, since=row.time)
        old = state.status
        fold(state, row)
        state.save()
        if state.status != old:
            transitions.append(Transition(row.name, old, state.status, state.output))
    return transitions


def fold(state: CheckState, row: CheckResult) -> None:
    learned = maths.Baseline(state.mean, state.deviation, state.samples)
    observed, why = maths.adaptive_status(
        row.status,
        row.observed_value,
        learned,
        band=settings.HEALTH_BASELINE_BAND,
        min_samples=settings.HEALTH_BASELINE_MIN_SAMPLES,
    )
    if row.observed_value is not None and observed == Status.PASS:
        learned = learned.updated(row.observed_value, settings.HEALTH_BASELINE_ALPHA)
    current = maths.Hysteresis(state.status, state.raw_status, state.streak)
    after = maths.apply_hysteresis(current, observed, settings.HEALTH_HYSTERESIS)
    if after.status != state.status:
        state.since = row.time
    state.status, state.raw_status, state.streak = after.status, observed, after.streak
    state.mean, state.deviation, state.samples = learned.mean, learned.deviation, learned.samples
    state.component_type, state.observed_unit = row.component_type, row.observed_unit
    state.observed_value, state.output = row.observed_value, why or row.output
    state.updated_at = row.time


# --- incidents ------------------------------------------------------------------------
def sync_incidents(now: datetime) -> list[Incident]:
    """Open an incident for each check out of pass, resolve those back at pass; answer the
    incidents resolved in this round."""
    states = {s.name: s for s in CheckState.objects.all()}
    open_ = {i.key: i for i in Incident.objects.filter(state=Incident.State.OPEN)}
    for name, state in states.items():
        if state.status != Status.PASS and name not in open_:
            open_incident(state, now)
        elif name in open_ and SEVERITY[state.status] > SEVERITY[open_[name].severity]:
            Incident.objects.filter(pk=open_[name].pk).update(severity=state.status)
            health_state.changed()
    resolved = [i for key, i in open_.items() if key not in states or
                states[key].status == Status.PASS]  # fmt: skip
    for incident in resolved:
        incident.state, incident.resolved_at = Incident.State.RESOLVED, now
        incident.save(update_fields=["state", "resolved_at"])
    return resolved


def open_incident(state: CheckState, now: datetime) -> None:
    title = f"{state.name} is {state.status}" + (f": {state.output}" if state.output else "")
    try:
        with transaction.atomic():
            Incident.objects.create(key=state.name, title=title[:300], severity=state.status,
                                    opened_at=state.since or now)  # fmt: skip
    except IntegrityError:
        pass  # another worker opened it in the same round


# --- forecasts ------------------------------------------------------------------------
def recent_points(name: str, since: datetime | None = None) -> list[tuple[float, float]]:
    rows = CheckResult.objects.filter(name=name, observed_value__isnull=False)
    if since is not None:
        rows = rows.filter(time__gte=since)
    latest = rows.order_by("-time").values_list("time", "observed_value")
    return [(t.timestamp(), v) for t, v in reversed(latest[: settings.HEALTH_FORECAST_POINTS])]


def forecasts(now: datetime) -> list[Forecast]:
    """Checks still under their warn limit whose trend reaches it within the horizon."""
    found = []
    horizon = now.timestamp() + settings.HEALTH_FORECAST_HORIZON_SECONDS
    for name, (warn, _fail) in limits().items():
        points = recent_points(name)
        if len(points) < settings.HEALTH_FORECAST_POINTS or points[-1][1] >= warn:
            continue  # a short window's trend is noise; past the limit, the check says so
        reach = maths.time_to_reach(points, warn)
        if reach is None or reach > horizon:
            continue
        unit = CheckState.objects.filter(name=name).values_list("observed_unit", flat=True)
        found.append(Forecast(name, points[-1][1], warn, unit.first() or "",
                              max(reach - now.timestamp(), 0.0),
                              likely_cause(name, points[0][0])))  # fmt: skip
    return found


def likely_cause(name: str, window_start: float) -> str:
    """The check whose own signal moved first in the window (the forecast check itself when
    nothing else moved before it)."""
    since = datetime.fromtimestamp(window_start, tz=UTC) - timedelta(seconds=1)
    moves = {}
    for state in CheckState.objects.all():
        points = recent_points(state.name, since)
        floor = MOVE_FLOOR.get(state.observed_unit, 0.0)
        moved = maths.first_departure(points, MOVE_TOLERANCE, floor)
        if moved is not None:
            moves[state.name] = moved
    if not moves:
        return name
    first = min(moves.values())
    movers = sorted(n for n, t in moves.items() if t == first)
    chosen = next((n for n in movers if n != name), movers[0])
    return chosen


def matching(pattern: str, name: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern)
