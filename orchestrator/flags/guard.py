"""Guarded rollouts: a django-q2 job that advances ramp plans only while each flag's guard holds.

Every run, for each enabled, unpaused flag with a plan or a guard:
- the guard is checked (error rate of the named workflow or integration, breaker, health);
- if it holds, the due plan steps are applied, and the version they ramp from is marked good
  (so is a version that has held for a whole guard window, however it was reached);
- if it breaches, the flag is restored to its last good version with the plan paused, the
  history says why, and chat, email and the dashboard are told through health's escalation
  path. A failed announcement never undoes the rollback: the database change is committed
  before anyone is notified.

Error rates, breaker states and failing checks come from `orchestrator.health.watch`, the
interface health owns; this package imports nothing from the workflow engine.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from orchestrator.flags import services
from orchestrator.flags.models import Flag
from orchestrator.flags.schema import Guard, parse_flag, to_document
from orchestrator.health import watch
from orchestrator.health.escalation import Notice, escalate

logger = logging.getLogger("contexten.flags.guard")
GUARD = services.Actor("guard")
SCHEDULE_NAME = "flags.guard"
# Dotted paths called with each `RolledBack` after it is announced (plain data; the
# migration phases roll a whole phase back when one of its flags is).
ROLLBACK_LISTENERS: list[str] = []


def register_rollback_listener(dotted_path: str) -> None:
    if dotted_path not in ROLLBACK_LISTENERS:
        ROLLBACK_LISTENERS.append(dotted_path)


@dataclass(frozen=True)
class Verdict:
    holds: bool
    why: str


@dataclass(frozen=True)
class RolledBack:
    key: str
    version: int
    restored: int | None
    why: str


def check_guard(guard: Guard | None, now: datetime) -> Verdict:
    """Answer whether the guard's metrics hold, and the one-line reason when they do not."""
    if guard is None:
        return Verdict(True, "no guard")
    problems = [problem for problem in (error_rate_problem(guard, now), breaker_problem(guard))]
    if guard.health:
        problems.append(health_problem())
    problems = [problem for problem in problems if problem]
    return Verdict(not problems, "; ".join(problems) or "guard held")


def error_rate_problem(guard: Guard, now: datetime) -> str | None:
    if guard.max_error_rate is None or not (guard.source or guard.workflow):
        return None
    since = now - timedelta(seconds=guard.window_seconds)
    total, failed = watch.step_error_rate(
        workflow=guard.workflow, integration=guard.source, since=since
    )
    if total < guard.min_samples or failed / total <= guard.max_error_rate:
        return None
    subject = f"workflow {guard.workflow}" if guard.workflow else f"integration {guard.source}"
    return (
        f"error rate {failed}/{total} = {failed / total:.0%} over the {guard.max_error_rate:.0%}"
        f" limit for {subject} in the last {guard.window_seconds}s"
    )


def breaker_problem(guard: Guard) -> str | None:
    platform = guard.breaker_platform()
    if not platform:
        return None
    state = watch.breaker_state(platform)
    return f"{platform} circuit breaker is {state}" if state == "open" else None


def health_problem() -> str | None:
    failing = watch.failing_checks()
    return f"health is fail ({', '.join(failing)})" if failing else None


def run_guards(now: datetime | None = None) -> list[str]:
    """The scheduled job: check every watched flag; answer one line per flag acted on."""
    now = now or timezone.now()
    follow_interval_setting()
    lines = []
    for flag_id in watched_flag_ids():
        try:
            outcome = guard_flag(flag_id, now)
        except Exception:  # one broken flag must not stop the others being guarded
            logger.exception("flags.guard.error flag_id=%s", flag_id)
            continue
        if isinstance(outcome, RolledBack):
            announce(outcome)
            tell_listeners(outcome)
            lines.append(f"{outcome.key}: rolled back ({outcome.why})")
        elif outcome:
            lines.append(outcome)
    return lines


def watched_flag_ids() -> list[int]:
    flags = Flag.objects.filter(enabled=True, rollout_paused=False).values_list(
        "pk", "guard", "rollout_plan"
    )
    return [pk for pk, guard, plan in flags if guard or plan]


def guard_flag(flag_id: int, now: datetime) -> RolledBack | str | None:
    """Check one flag under its row lock; roll back on a breach, else apply due steps."""
    with transaction.atomic():
        flag = Flag.objects.select_for_update().filter(pk=flag_id, enabled=True).first()
        if flag is None or flag.rollout_paused:
            return None
        doc = parse_flag(flag.document())
        watching = doc.guard is not None and flag.rollout_percentage > 0
        verdict = check_guard(doc.guard, now) if watching else Verdict(True, "not ramping")
        if not verdict.holds:
            return roll_back(flag, verdict.why)
        if watching:
            mark_good_after_a_full_window(flag, doc.guard, now)
        return advance(flag, doc, now, verdict)


def mark_good_after_a_full_window(flag: Flag, guard: Guard, now: datetime) -> None:
    """A version the guard has watched hold for a whole window is good, however it was
    reached (a plan step, or an operator's ramp), so a later breach returns to it."""
    if flag.last_good_version == flag.version:
        return
    settled = now - timedelta(seconds=guard.window_seconds)
    if flag.versions.filter(version=flag.version, created_at__lte=settled).exists():
        flag.last_good_version = flag.version
        Flag.objects.filter(pk=flag.pk).update(last_good_version=flag.version)


def advance(flag: Flag, doc, now: datetime, verdict: Verdict) -> str | None:
    due = [step for step in doc.rollout.plan if step.at <= now]
    if not due:
        return None
    target = max(step.percentage for step in due)
    doc.rollout.plan = [step for step in doc.rollout.plan if step.at > now]
    doc.rollout.percentage = max(target, doc.rollout.percentage)
    flag.last_good_version = flag.version
    why = f"plan step due; ramp to {doc.rollout.percentage}% ({verdict.why})"
    services.apply(flag, to_document(doc), actor=GUARD, reason=why, action="plan-step")
    return f"{flag.key}: {why}"


def roll_back(flag: Flag, breach: str) -> RolledBack:
    """Restore the last good version (or stop at 0 % when none held yet), plan paused."""
    good = flag.last_good_version
    row = flag.versions.filter(version=good).first() if good and good < flag.version else None
    doc = dict(row.snapshot) if row else flag.document()
    doc["rollout"] = {**doc["rollout"], "paused": True}
    if row is None:
        doc["rollout"]["percentage"] = 0
    restored = f"restored version {row.version}" if row else "no good version yet, so ramped to 0%"
    why = f"guard breached: {breach}; {restored}; plan paused"
    validated = to_document(parse_flag(doc))
    services.apply(flag, validated, actor=GUARD, reason=why, action="guard-rollback")
    logger.warning("flags.guard.rolled-back flag=%s version=%s %s", flag.key, flag.version, why)
    return RolledBack(flag.key, flag.version, row.version if row else None, why)


def announce(outcome: RolledBack) -> None:
    """Tell chat, email and the dashboard through health's escalation path (chat as a
    workflow run, so it is retried and recorded); a failure is logged, never raised."""
    text = f":rotating_light: Flag `{outcome.key}` was rolled back by its guard: {outcome.why}"
    details = {"flag": outcome.key, "version": outcome.version, "restored": outcome.restored,
               "why": outcome.why}  # fmt: skip
    notice = Notice("flag.rolled_back", f"Flag {outcome.key} rolled back", text, details)
    try:
        escalate(notice)
    except Exception as exc:
        logger.warning("flags.guard.announce-failed flag=%s %s", outcome.key, exc)


def broadcast(text: str, payload: dict, *, key: str) -> None:
    """Announce another guarded change (a migration phase rolled back) through escalation,
    as the flag rollback notice is; `key` names it in the log. Failures are logged, never
    raised."""
    kind = payload.get("kind", "guard.notice")
    notice = Notice(kind, text.splitlines()[0] if text else kind, text, payload)
    try:
        escalate(notice)
    except Exception as exc:
        logger.warning("flags.guard.notice-failed key=%s %s", key, exc)


def tell_listeners(outcome: RolledBack) -> None:
    """Each listener's failure is logged, never raised: the rollback itself is committed."""
    for path in ROLLBACK_LISTENERS:
        try:
            import_string(path)(outcome)
        except Exception:
            logger.exception("flags.guard.listener-failed listener=%s flag=%s", path, outcome.key)


def schedule_cron() -> str:
    # croniter's sixth field is seconds; django-q2's scheduler looks every 30 s, so the
    # effective interval is max(setting, ~30 s).
    seconds = max(1, min(59, settings.FLAGS_GUARD_INTERVAL_SECONDS))
    return f"* * * * * */{seconds}"


def follow_interval_setting() -> None:
    """Keep the schedule on FLAGS_GUARD_INTERVAL_SECONDS after the setting changes."""
    from django_q.models import Schedule

    cron = schedule_cron()
    Schedule.objects.filter(name=SCHEDULE_NAME).exclude(cron=cron).update(cron=cron)


def ensure_schedule() -> str:
    """Create or update the guard's django-q2 schedule (idempotent; run by migrate and demo)."""
    from django_q.models import Schedule

    _, created = Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "orchestrator.flags.guard.run_guards",
            "schedule_type": Schedule.CRON,
            "cron": schedule_cron(),
            "repeats": -1,
        },
    )
    return f"flag guard schedule {'created' if created else 'kept'} ({schedule_cron()!r})"
