"""The action registry: what a workflow step can do.

Registries are plain data: an action name mapped to the dotted path of an `ActionSpec`,
imported lazily on first use. Integrations and extensions add their own entries; core never
needs to change for a new platform.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.utils.module_loading import import_string
from pydantic import BaseModel, ValidationError

ACTIONS: dict[str, str] = {
    "core.log": "orchestrator.workflows.core_actions.log",
    "core.delay": "orchestrator.workflows.core_actions.delay",
    "core.http_request": "orchestrator.workflows.core_actions.http_request",
    "github.create_issue": "integrations.github.actions.create_issue",
    "github.create_comment": "integrations.github.actions.create_comment",
    "github.add_labels": "integrations.github.actions.add_labels",
    "github.repo_report": "integrations.github.actions.repo_report",
    "linear.create_issue": "integrations.linear.actions.create_issue",
    "linear.create_comment": "integrations.linear.actions.create_comment",
    "slack.post_message": "integrations.slack.actions.post_message",
}


class ActionError(Exception):
    """An action failed. `permanent` errors are never retried; transient ones are, after
    `retry_after` seconds when the platform said so (Retry-After, rate-limit reset)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
    ):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status


class BreakerOpen(ActionError):
    """The platform's circuit breaker is open: the step waits `retry_after` seconds and
    tries again without spending an attempt."""

    def __init__(self, platform: str, retry_after: float):
        super().__init__(f"{platform} circuit breaker is open", retry_after=retry_after)
        self.platform = platform


@dataclass(frozen=True)
class ActionContext:
    """What an action knows about the step it runs for."""

    run_id: int | str
    step_id: str
    attempt: int
    # Stable across attempts of the same step, so platforms that dedupe can do so.
    idempotency_key: str
    config: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[BaseModel, ActionContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    input_model: type[BaseModel]
    handler: Handler
    description: str = ""
    # Pool key ("github", "linear", "slack"; "http_request" for core.http_request), which
    # names <KEY>_POOL_MAX; None for actions that make no calls.
    platform: str | None = None


def action(name: str, *, input_model: type[BaseModel], platform: str | None = None):
    """Decorate an async handler into an `ActionSpec`; its docstring is the description."""

    def wrap(handler: Handler) -> ActionSpec:
        return ActionSpec(name, input_model, handler, (handler.__doc__ or "").strip(), platform)

    return wrap


class UnknownAction(LookupError):
    pass


@cache
def get_action(name: str) -> ActionSpec:
    try:
        return import_string(ACTIONS[name])
    except KeyError:
        raise UnknownAction(f"unknown action {name!r}") from None


def register(name: str, dotted_path: str) -> None:
    """Add or replace an action (extensions call this); clears the lookup cache."""
    ACTIONS[name] = dotted_path
    get_action.cache_clear()


def validate_input(spec: ActionSpec, params: dict[str, Any]) -> BaseModel:
    """Parse step inputs into the action's typed model; one-line permanent error if bad."""
    try:
        return spec.input_model.model_validate(params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ActionError(f"{spec.name} input invalid: {problems}", permanent=True) from None


async def execute(name: str, params: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """Validate and run one action, answering its output dict."""
    spec = get_action(name)
    return await spec.handler(validate_input(spec, params), context)
