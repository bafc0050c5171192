"""The four migration phases: each a set of feature flags, advanced behind health gates.

An installation is in one phase, 1 to 4; the flags of every phase up to it are on. Advancing
takes a backup, checks the gates (no failing health check, no open breaker, a low step error
rate), then switches the next phase's flags on with a guarded, percentage ramp plan: the
flags' own guard job (`orchestrator/flags/guard.py`) advances the ramp while health holds and
rolls a flag back when it breaches. When it rolls back a flag of the current phase, the guard
tells `on_flag_rolled_back`, which rolls the whole phase back and announces it. Every flag
change goes through `orchestrator/flags/services.py`, so it is versioned like any other.
"""

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from orchestrator.flags import guard, services
from orchestrator.flags.models import Flag
from orchestrator.operations import backup
from orchestrator.operations.models import PhaseChange, PhaseState

logger = logging.getLogger("contexten.operations.phases")


@dataclass(frozen=True)
class Phase:
    number: int
    name: str
    description: str
    flags: tuple[str, ...]


PHASES = (
    Phase(
        1,
        "foundation",
        "foundation and compatibility: legacy handlers live",
        ("migration.foundation", "migration.legacy-handlers"),
    ),
    Phase(2, "performance", "performance paths on", ("migration.performance-paths",)),
    Phase(
        3,
        "self-healing",
        "self-healing and extensions on",
        ("migration.self-healing", "migration.extensions"),
    ),
    Phase(4, "full", "full: every new path on", ("migration.full",)),
)
FIRST, LAST = PHASES[0].number, PHASES[-1].number
DEFAULT_RAMP = (10.0, 50.0, 100.0)
DEFAULT_STEP = timedelta(minutes=10)
# Advancing is refused above this share of failed steps (with enough steps to judge).
GATE_MAX_ERROR_RATE = 0.05
GATE_MIN_STEPS = 20
GATE_WINDOW = timedelta(minutes=10)
MIGRATION = services.Actor("migration")


class PhaseProblem(ValueError):
    """A refused phase change; the message is one line, and nothing was changed."""


@dataclass(frozen=True)
class Gate:
    name: str
    ok: bool
    detail: str


@dataclass
class Change:
    kind: str
    from_phase: int
    to_phase: int
    dry_run: bool
    gates: list[Gate] = field(default_factory=list)
    flags: dict[str, str] = field(default_factory=dict)  # key -> what happens to it
    backup: str = ""
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def phase(number: int) -> Phase:
    return PHASES[number - 1]


def parse_phase(text: str | int) -> int:
    """A phase number from the command line; PhaseProblem naming the range otherwise."""
    try:
        number = int(text)
    except (TypeError, ValueError):
        number = None
    if number is None or not FIRST <= number <= LAST:
        names = ", ".join(f"{p.number} ({p.name})" for p in PHASES)
        raise PhaseProblem(f"unknown phase {text!r}: the phases are {names}")
    return number


def current() -> int:
    state = PhaseState.objects.first()
    return state.phase if state else FIRST


def gates(now: datetime | None = None) -> list[Gate]:
    """What must hold before a phase advances: health, breakers, the step error rate."""
    now = now or timezone.now()
    return [health_gate(), breaker_gate(), error_rate_gate(now)]


def health_gate() -> Gate:
    problem = guard.health_problem()
    return Gate("health", problem is None, problem or "no check fails")


def breaker_gate() -> Gate:
    from extensions.registry import platforms
    from orchestrator.health.breakers import breaker_state

    open_ones = [name for name in platforms() if breaker_state(name) == "open"]
    if open_ones:
        return Gate("breakers", False, f"circuit breaker open for {', '.join(open_ones)}")
    return Gate("breakers", True, "every breaker closed or half-open")


def error_rate_gate(now: datetime) -> Gate:
    from orchestrator.workflows.stats import step_error_rate

    total, failed = step_error_rate(since=now - GATE_WINDOW)
    minutes = int(GATE_WINDOW.total_seconds() // 60)
    detail = f"{failed}/{total} steps failed in the last {minutes} min"
    too_high = total >= GATE_MIN_STEPS and failed / total > GATE_MAX_ERROR_RATE
    limit = f" (limit {GATE_MAX_ERROR_RATE:.0%})" if too_high else ""
    return Gate("error rate", not too_high, detail + limit)


def ramp_document(key: str, target: Phase, ramp: tuple[float, ...], step: timedelta, now):
    """The flag document that switches `key` on for `target`: a guarded ramp plan."""
    plan = [
        {"percentage": percentage, "at": (now + step * index).isoformat()}
        for index, percentage in enumerate(ramp[1:], start=1)
    ]
    return {
        "key": key,
        "description": f"Migration phase {target.number} ({target.name}): {target.description}",
        "enabled": True,
        "rollout": {"percentage": ramp[0], "plan": plan},
        "guard": {"health": True},
    }


def advance(
    target: int | None = None,
    *,
    actor: services.Actor,
    reason: str = "",
    ramp: tuple[float, ...] = DEFAULT_RAMP,
    step: timedelta = DEFAULT_STEP,
    dry_run: bool = False,
) -> Change:
    """Move to the next phase (only one at a time) once every gate holds."""
    now_phase = current()
    if now_phase >= LAST:
        raise PhaseProblem(
            f"already at phase {LAST} ({phase(LAST).name}); there is no phase after it"
        )
    target = now_phase + 1 if target is None else target
    if target != now_phase + 1:
        raise PhaseProblem(
            f"advance one phase at a time: at phase {now_phase}, so the next is {now_phase + 1}, "
            f"not {target}"
        )
    change = Change("advance", now_phase, target, dry_run, gates=gates())
    failing = [gate for gate in change.gates if not gate.ok]
    if failing:
        named = "; ".join(f"{gate.name} gate fails: {gate.detail}" for gate in failing)
        raise PhaseProblem(f"cannot advance to phase {target}: {named}")
    change.flags = {
        key: f"on, ramp {'/'.join(f'{p:g}%' for p in ramp)}" for key in phase(target).flags
    }
    if dry_run:
        return change
    change.backup = take_backup(f"before migration phase advance to {target}", "advance")
    change.reason = reason or f"advance to phase {target}"
    now = timezone.now()
    with transaction.atomic():
        ensure_foundation(now)
        for key in phase(target).flags:
            document = ramp_document(key, phase(target), ramp, step, now)
            services.save_flag(document, actor=actor, reason=change.reason, action="phase-advance")
        record(change, actor)
    announce(change)
    return change


def ensure_foundation(now) -> None:
    """Phase 1 is where every installation starts: its flags exist and are fully on."""
    PhaseState.objects.get_or_create(pk=1, defaults={"phase": FIRST, "changed_at": now})
    for key in phase(FIRST).flags:
        if not Flag.objects.filter(key=key).exists():
            document = ramp_document(key, phase(FIRST), (100.0,), DEFAULT_STEP, now)
            document["guard"] = None
            services.save_flag(document, actor=MIGRATION, reason="phase 1 is the starting point")


def rollback(
    target: int | None = None,
    *,
    actor: services.Actor,
    reason: str = "",
    dry_run: bool = False,
    kind: str = PhaseChange.Kind.ROLLBACK,
) -> Change:
    """Go back to an earlier phase (default: the previous one), switching later flags off."""
    now_phase = current()
    if now_phase <= FIRST:
        raise PhaseProblem(
            f"already at phase {FIRST} ({phase(FIRST).name}); cannot roll back below it"
        )
    target = now_phase - 1 if target is None else target
    if target >= now_phase:
        raise PhaseProblem(f"roll back to an earlier phase than {now_phase}, not {target}")
    change = Change(str(kind), now_phase, target, dry_run)
    leaving = [key for number in range(target + 1, now_phase + 1) for key in phase(number).flags]
    change.flags = {key: "off" for key in leaving}
    if dry_run:
        return change
    change.backup = take_backup(f"before migration phase {kind} to {target}", kind)
    change.reason = reason or f"roll back to phase {target}"
    with transaction.atomic():
        for key in leaving:
            if Flag.objects.filter(key=key).exists():
                services.change(
                    key, switch_off, actor=actor, reason=change.reason, action="phase-rollback"
                )
        record(change, actor)
    announce(change)
    return change


def take_backup(reason: str, kind: str) -> str:
    """A failed backup stops a manual change; an automatic rollback is the safety action
    itself, so it goes ahead without one (and says so in the log)."""
    try:
        return str(backup.auto_backup(reason))
    except OSError as exc:
        if kind == PhaseChange.Kind.AUTO_ROLLBACK:
            logger.error("operations.phase.backup-failed %s: %s", reason, exc)
            return ""
        raise PhaseProblem(f"the backup {reason} failed ({exc}); nothing was changed") from None


def is_on(key: str, targeting_key: str) -> bool:
    """Phase-gated code asks this: is `key` on for this targeting key (an event, a
    workflow)? In-process, from the flags cache, never the database on the hot path."""
    from orchestrator.flags.cache import store

    compiled = store.get(key)
    return bool(compiled and compiled.evaluate({"targetingKey": targeting_key}).value is True)


def switch_off(document: dict) -> None:
    document["enabled"] = False
    document["rollout"] = {**document["rollout"], "percentage": 0, "plan": [], "paused": False}


def record(change: Change, actor: services.Actor) -> None:
    now = timezone.now()
    PhaseState.objects.update_or_create(
        pk=1, defaults={"phase": change.to_phase, "changed_at": now}
    )
    PhaseChange.objects.create(
        kind=change.kind,
        from_phase=change.from_phase,
        to_phase=change.to_phase,
        actor=actor.name,
        reason=change.reason,
        backup=change.backup,
        created_at=now,
    )


def announce(change: Change) -> None:
    """The announcement channel and the dashboard hear of automatic rollbacks; the log of all."""
    level = logging.INFO if change.kind == PhaseChange.Kind.ADVANCE else logging.WARNING
    logger.log(
        level,
        "operations.phase.%s from=%s to=%s reason=%s",
        change.kind,
        change.from_phase,
        change.to_phase,
        change.reason,
    )
    if change.kind != PhaseChange.Kind.AUTO_ROLLBACK:
        return
    text = (
        f":rotating_light: Migration phase {change.from_phase} was rolled back to phase "
        f"{change.to_phase} automatically: {change.reason}"
    )
    payload = {"kind": "migration.phase_rolled_back", **summary(history=1)}
    guard.broadcast(text, payload, key=f"migration-phase:{change.from_phase}->{change.to_phase}")


def on_flag_rolled_back(outcome: guard.RolledBack) -> None:
    """Guard listener: a breach on a flag of the current phase rolls the phase back."""
    now_phase = current()
    if now_phase <= FIRST or outcome.key not in phase(now_phase).flags:
        return
    reason = f"guard rolled back flag {outcome.key}: {outcome.why}"
    rollback(now_phase - 1, actor=guard.GUARD, reason=reason, kind=PhaseChange.Kind.AUTO_ROLLBACK)


def summary(*, history: int = 10) -> dict:
    """Phase state and recent history as plain data: the admin and the dashboard read this."""
    flags = {flag.key: flag for flag in Flag.objects.filter(key__in=all_flag_keys())}
    number = current()
    return {
        "phase": number,
        "name": phase(number).name,
        "description": phase(number).description,
        "phases": [phase_view(p, number, flags) for p in PHASES],
        "history": [
            {
                "kind": c.kind,
                "from": c.from_phase,
                "to": c.to_phase,
                "actor": c.actor,
                "reason": c.reason,
                "backup": c.backup,
                "at": c.created_at.isoformat(),
            }
            for c in PhaseChange.objects.all()[:history]
        ],
    }


def phase_view(p: Phase, now_phase: int, flags: dict[str, Flag]) -> dict:
    return {
        "number": p.number,
        "name": p.name,
        "description": p.description,
        "active": p.number <= now_phase,
        "flags": [flag_view(key, flags.get(key)) for key in p.flags],
    }


def flag_view(key: str, flag: Flag | None) -> dict:
    if flag is None:
        return {"key": key, "exists": False, "enabled": False, "percentage": 0.0}
    return {
        "key": key,
        "exists": True,
        "enabled": flag.enabled,
        "percentage": float(flag.rollout_percentage),
        "plan_steps": len(flag.rollout_plan or []),
        "paused": flag.rollout_paused,
    }


def all_flag_keys() -> list[str]:
    return [key for p in PHASES for key in p.flags]
