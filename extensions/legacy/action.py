"""`legacy.handler`: run one old-style handler function as a workflow step.

The function gets what the old app gave it: GitHub handlers the raw payload, or the pydantic
model their `event` parameter is annotated with; Linear handlers a `LinearEvent`; Slack
handlers the callback's inner event as a `SlackEvent`. Its return value is the step output.

Sync handlers run in a thread. Async ones run on an event loop of their own, also in a
thread: the old idiom calls the synchronous `app.slack.client` from async handlers, and on
the runner's loop that call would stall every other step in flight.
"""

import asyncio
import inspect
import json
import typing
from concurrent.futures import ThreadPoolExecutor
from functools import cache, partial
from importlib import import_module
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from extensions.api import ActionContext, ActionError, action
from extensions.legacy.types import LinearEvent, SlackEvent

# Handler threads: a queued call that times out is cancelled before it starts.
EXECUTOR = ThreadPoolExecutor(max_workers=16, thread_name_prefix="legacy-handler")
DEFAULT_MODELS: dict[str, type[BaseModel] | None] = {
    "github": None,
    "linear": LinearEvent,
    "slack": SlackEvent,
}


class LegacyInput(BaseModel):
    handler: str  # module:qualname
    provider: Literal["github", "linear", "slack"]
    key: str
    payload: dict[str, Any]


@action("legacy.handler", input_model=LegacyInput)
async def run_handler(params: LegacyInput, context: ActionContext) -> dict[str, Any]:
    """Run a legacy CodegenApp handler with the event it registered for."""
    func = resolve(params.handler)
    argument = adapt(func, params.provider, params.payload)
    try:
        result = await call(func, argument)
    except Exception as exc:  # the handler's own failure: transient, so it is retried
        raise ActionError(f"{params.handler} raised {type(exc).__name__}: {exc}") from None
    return {"result": jsonable(result)}


@cache
def resolve(path: str):
    module_name, _, qualname = path.partition(":")
    try:
        target: Any = import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ActionError(
            f"legacy handler {path} cannot be loaded: {exc}", permanent=True
        ) from None
    return target


def adapt(func, provider: str, payload: dict) -> Any:
    """The argument the old app passed: a validated model, or the raw dict."""
    model = annotated_model(func) or DEFAULT_MODELS[provider]
    data = payload.get("event", payload) if provider == "slack" else payload
    if model is None:
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "payload"
        raise ActionError(
            f"the payload does not fit {model.__name__}: {where}: {first['msg']}", permanent=True
        ) from None


def annotated_model(func) -> type[BaseModel] | None:
    """The pydantic model the `event` parameter is annotated with, as the old app read it."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable string annotations: the raw dict, as before
        hints = getattr(func, "__annotations__", {})
    hint = hints.get("event")
    return hint if inspect.isclass(hint) and issubclass(hint, BaseModel) else None


async def call(func, argument: Any) -> Any:
    runner = partial(run_on_own_loop, func) if inspect.iscoroutinefunction(func) else func
    return await asyncio.get_running_loop().run_in_executor(EXECUTOR, runner, argument)


def run_on_own_loop(func, argument: Any) -> Any:
    return asyncio.run(func(argument))


def jsonable(result: Any) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    return json.loads(json.dumps(result, default=str))
