"""Escalation: tell people. One path for alerts, failed and successful recoveries, and the
flags guard's rollback notice.

- **Chat** goes through the workflow engine: a run of the built-in `health-escalation`
  workflow whose one step is HEALTH_ESCALATION_ACTION (the chat integration's post action),
  so the notice is retried with backoff, waits out an open breaker, survives a killed
  worker and is recorded like any step. The run is created in the same transaction as the
  Escalation record that points at it.
- **Email** through Django's mail (console backend unless EMAIL_URL says otherwise), to
  HEALTH_ALERT_EMAILS.
- **Dashboard**: a `dashboard.update` message to the dashboard group.

A notice that cannot be sent is recorded as failed and logged, never raised: escalation
must not break what it reports on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from orchestrator.health.checks import one_line
from orchestrator.health.models import Alert, Escalation

logger = logging.getLogger("contexten.health.escalation")
WORKFLOW = "health-escalation"
DASHBOARD_GROUP = "dashboard"


@dataclass(frozen=True)
class Notice:
    kind: str  # alert.firing, alert.resolved, recovery.failed, recovery.succeeded, flag.rolled_back
    subject: str
    text: str
    details: dict = field(default_factory=dict)  # extra fields for the dashboard


def escalate(notice: Notice, alert: Alert | None = None) -> list[Escalation]:
    """Send `notice` to chat, email and the dashboard; answer the records written."""
    records = [to_chat(notice, alert)]
    if settings.HEALTH_ALERT_EMAILS:
        records.append(to_email(notice, alert))
    records.append(to_dashboard(notice, alert))
    return [record for record in records if record is not None]


def _record(notice: Notice, channel: str, alert: Alert | None, **fields) -> Escalation:
    subject = notice.subject[:300]
    return Escalation.objects.create(
        kind=notice.kind, channel=channel, subject=subject, text=notice.text, alert=alert, **fields
    )


def chat_channel() -> str:
    """Where chat escalation posts; empty (off) when no chat extension declares it."""
    if not getattr(settings, "HEALTH_ESCALATION_ACTION", ""):
        return ""
    return getattr(settings, "HEALTH_ESCALATION_CHANNEL", "") or ""


def to_chat(notice: Notice, alert: Alert | None) -> Escalation | None:
    """Start a run that posts the notice; the run's step records attempts and the result."""
    if not chat_channel():
        return None
    try:
        with transaction.atomic():
            run = start_run({"channel": chat_channel(), "text": notice.text,
                             "kind": notice.kind})  # fmt: skip
            return _record(notice, Escalation.Channel.CHAT, alert, run_id=run.pk,
                           outcome=Escalation.Outcome.QUEUED)  # fmt: skip
    except Exception as exc:
        logger.warning("health.escalation.chat-failed kind=%s %s", notice.kind, one_line(exc))
        return _record(notice, Escalation.Channel.CHAT, alert, outcome=Escalation.Outcome.FAILED,
                       error=one_line(exc))  # fmt: skip


def start_run(event: dict):
    from orchestrator.workflows import engine

    return engine.create_run(escalation_workflow(), trigger="manual", input=event)


def workflow_document() -> dict:
    return {
        "name": WORKFLOW,
        "description": "Posts health alerts, recoveries and guard rollbacks (built in).",
        "trigger": {"manual": True},
        "steps": [
            {
                "id": "notify",
                "action": getattr(settings, "HEALTH_ESCALATION_ACTION", ""),
                "with": {"channel": "{{ event.channel }}", "text": "{{ event.text }}"},
                "retry": {
                    "max_attempts": 10,
                    "backoff": "exponential",
                    "initial": "2s",
                    "max": "60s",
                },
                "timeout": "30s",
            }
        ],
    }


def escalation_workflow():
    """The built-in workflow, created on first use and kept on the configured action."""
    from orchestrator.workflows import definitions
    from orchestrator.workflows.models import Workflow

    document = workflow_document()
    workflow = Workflow.objects.filter(name=WORKFLOW).select_related("current_version").first()
    if workflow is None:
        return definitions.create_workflow(document, source="built in")
    if workflow.document != document:
        return definitions.update_workflow(workflow, document, source="built in")
    return workflow


def to_email(notice: Notice, alert: Alert | None) -> Escalation:
    try:
        send_mail(f"[contexten] {notice.subject}", notice.text, None,
                  settings.HEALTH_ALERT_EMAILS)  # fmt: skip
    except Exception as exc:
        logger.warning("health.escalation.email-failed kind=%s %s", notice.kind, one_line(exc))
        return _record(notice, Escalation.Channel.EMAIL, alert, outcome=Escalation.Outcome.FAILED,
                       error=one_line(exc))  # fmt: skip
    return _record(notice, Escalation.Channel.EMAIL, alert, outcome=Escalation.Outcome.SENT)


def to_dashboard(notice: Notice, alert: Alert | None) -> Escalation:
    from channels.layers import get_channel_layer

    payload = {"kind": notice.kind, "subject": notice.subject, "text": notice.text,
               **notice.details}  # fmt: skip
    try:
        message = {"type": "dashboard.update", "payload": payload}
        async_to_sync(get_channel_layer().group_send)(DASHBOARD_GROUP, message)
    except Exception as exc:
        logger.warning("health.escalation.dashboard-failed kind=%s %s", notice.kind, one_line(exc))
        return _record(notice, Escalation.Channel.DASHBOARD, alert,
                       outcome=Escalation.Outcome.FAILED, error=one_line(exc))  # fmt: skip
    return _record(notice, Escalation.Channel.DASHBOARD, alert, outcome=Escalation.Outcome.SENT)
