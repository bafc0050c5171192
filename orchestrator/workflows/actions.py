"""The action table: what a workflow step can do, derived from the extension registry.

Each enabled extension's manifest names its actions (`extensions.api.action`); an action
`<extension>.<verb>` runs at the version of its extension the run pinned when it started.
The types an action sees and raises live in `extensions.api`, the one public module.
"""

from typing import Any

from pydantic import BaseModel, ValidationError

from extensions.api import (  # noqa: F401 - the one implementation, re-exported for core
    ActionContext,
    ActionError,
    ActionSpec,
    BreakerOpen,
    Handler,
    action,
)
from extensions.registry import UnknownAction, action_names, get_action  # noqa: F401


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


async def execute(
    name: str, params: dict[str, Any], context: ActionContext, version: str = ""
) -> dict[str, Any]:
    """Validate and run one action (at `version` of its extension), answering its output."""
    spec = get_action(name, version)
    return await spec.handler(validate_input(spec, params), context)
