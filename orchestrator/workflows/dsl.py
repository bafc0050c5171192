"""The workflow document (SPEC §6): parse YAML or JSON, validate, answer one-line errors."""

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from croniter import croniter
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from extensions.registry import action_names
from orchestrator.workflows.templating import TemplateProblem, check_syntax

DURATION = re.compile(r"^(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h)$")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
MAX_TIMEOUT_S = 60.0  # a runner task must finish inside django-q2's 120 s task timeout
DEFAULT_TIMEOUT_S = 30.0

DURATION_SCHEMA = {"type": "string"}
RETRY_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 25},
        "backoff": {"enum": ["exponential", "fixed"]},
        "initial": DURATION_SCHEMA,
        "max": DURATION_SCHEMA,
    },
}
STEP_SCHEMA = {
    "type": "object",
    "required": ["id", "action"],
    "additionalProperties": False,
    "properties": {
        # An identifier, so templates can say steps.<id>.output.
        "id": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,99}$"},
        "action": {"type": "string", "minLength": 1},
        "with": {"type": "object"},
        "needs": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "if": {"type": "string"},
        "on_failure": {"type": "string"},
        "continue_on_error": {"type": "boolean"},
        "timeout": DURATION_SCHEMA,
        "retry": RETRY_SCHEMA,
    },
}
DOCUMENT_SCHEMA = {
    "type": "object",
    "required": ["name", "trigger", "steps"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,99}$"},
        "description": {"type": "string"},
        "enabled": {"type": "boolean"},
        "vars": {"type": "object"},
        "concurrency": {"type": "integer", "minimum": 1},
        "trigger": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "event": {"type": "string", "minLength": 1},
                "when": {"type": "string"},
                "schedule": {"type": "string"},
                "manual": {"type": "boolean"},
            },
        },
        "steps": {"type": "array", "minItems": 1, "items": STEP_SCHEMA},
    },
}
VALIDATOR = Draft202012Validator(DOCUMENT_SCHEMA)


# Workflow documents once kept their own values under `config`; templates now see the
# configuration store there.
LEGACY_CONFIG = (
    "config: a workflow's own values are now `vars` (templates: vars.<name>);"
    " config.<namespace>.<field> is the configuration store"
)


class InvalidWorkflow(ValueError):
    """A document that cannot be saved; the message is one line naming where and why."""


@dataclass(frozen=True)
class Retry:
    max_attempts: int = 3
    backoff: str = "exponential"
    initial_s: float = 1.0
    max_s: float = 60.0


@dataclass(frozen=True)
class Step:
    id: str
    action: str
    params: dict[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    condition: str | None = None
    on_failure: str | None = None
    continue_on_error: bool = False
    timeout_s: float = DEFAULT_TIMEOUT_S
    retry: Retry = Retry()


def parse_text(text: str | bytes) -> dict:
    """Read a YAML or JSON body (JSON is YAML); one-line error when it is neither."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    try:
        document = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML or JSON"
        raise InvalidWorkflow(f"document is not valid YAML or JSON: {problem}{where}") from None
    if not isinstance(document, dict):
        raise InvalidWorkflow("document must be a mapping with name, trigger and steps")
    return json.loads(json.dumps(document, default=str))  # dates etc. become JSON values


def parse_duration(text: Any, where: str) -> float:
    """'500ms', '1s', '2m', '1h' as seconds."""
    match = DURATION.match(str(text).strip()) if isinstance(text, str) else None
    if not match:
        raise InvalidWorkflow(
            f"{where}: bad duration {text!r}: use a number with ms, s, m or h (500ms, 30s, 2m)"
        )
    return float(match["amount"]) * UNIT_SECONDS[match["unit"]]


def validate(document: dict) -> list[Step]:
    """Check a document completely; answer its steps or raise InvalidWorkflow."""
    if "config" in document:
        raise InvalidWorkflow(LEGACY_CONFIG)
    error = best_match(VALIDATOR.iter_errors(document))
    if error is not None:
        raise InvalidWorkflow(f"{_path(error.absolute_path)}: {error.message}")
    _check_trigger(document["trigger"])
    steps = [_parse_step(raw, index) for index, raw in enumerate(document["steps"])]
    _check_graph(steps)
    return steps


def from_stored(document: dict) -> dict:
    """A version stored before `vars` existed: its `config` block is read as `vars`."""
    if "config" not in document:
        return document
    upgraded = {key: value for key, value in document.items() if key != "config"}
    return {**upgraded, "vars": document["config"]}


def _path(parts) -> str:
    text = "document"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.removeprefix("document.") if text != "document" else text


def _check_trigger(trigger: dict) -> None:
    if not {"event", "schedule", "manual"} & trigger.keys():
        raise InvalidWorkflow("trigger: needs an event, a schedule or manual: true")
    if "when" in trigger:
        _check_template(trigger["when"], "trigger.when", condition=True)
    schedule = trigger.get("schedule")
    if schedule is not None and (len(schedule.split()) != 5 or not croniter.is_valid(schedule)):
        raise InvalidWorkflow(
            f"trigger.schedule: bad cron expression {schedule!r}: "
            "use five fields, e.g. '0 9 * * 1-5'"
        )


def _check_template(text: str, where: str, *, condition: bool = False) -> None:
    try:
        check_syntax(text, condition=condition)
    except TemplateProblem as exc:
        raise InvalidWorkflow(f"{where}: bad template: {exc}") from None


def _check_templates_in(value: Any, where: str) -> None:
    if isinstance(value, str):
        _check_template(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_templates_in(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_templates_in(item, f"{where}[{index}]")


def _parse_step(raw: dict, index: int) -> Step:
    where = f"steps.{raw['id']}"
    known = action_names(include_disabled=True)
    if raw["action"] not in known:
        raise InvalidWorkflow(
            f"{where}.action: unknown action {raw['action']!r}; known: {', '.join(known)}"
        )
    _check_templates_in(raw.get("with", {}), f"{where}.with")
    if "if" in raw:
        _check_template(raw["if"], f"{where}.if", condition=True)
    timeout = parse_duration(raw["timeout"], f"{where}.timeout") if "timeout" in raw else None
    if timeout is not None and not 0 < timeout <= MAX_TIMEOUT_S:
        raise InvalidWorkflow(f"{where}.timeout: must be above 0 and at most {MAX_TIMEOUT_S:g}s")
    return Step(
        id=raw["id"],
        action=raw["action"],
        params=raw.get("with", {}),
        needs=tuple(raw.get("needs", ())),
        condition=raw.get("if"),
        on_failure=raw.get("on_failure"),
        continue_on_error=raw.get("continue_on_error", False),
        timeout_s=timeout or DEFAULT_TIMEOUT_S,
        retry=_parse_retry(raw.get("retry", {}), f"{where}.retry"),
    )


def _parse_retry(raw: dict, where: str) -> Retry:
    initial = parse_duration(raw["initial"], f"{where}.initial") if "initial" in raw else 1.0
    maximum = parse_duration(raw["max"], f"{where}.max") if "max" in raw else 60.0
    if maximum < initial:
        raise InvalidWorkflow(f"{where}: max ({maximum:g}s) is below initial ({initial:g}s)")
    return Retry(
        max_attempts=raw.get("max_attempts", 3),
        backoff=raw.get("backoff", "exponential"),
        initial_s=initial,
        max_s=maximum,
    )


def _check_graph(steps: list[Step]) -> None:
    ids = [step.id for step in steps]
    duplicate = next((sid for sid in ids if ids.count(sid) > 1), None)
    if duplicate:
        raise InvalidWorkflow(f"steps: duplicate step id {duplicate!r}")
    known = set(ids)
    for step in steps:
        for need in step.needs:
            if need not in known:
                raise InvalidWorkflow(f"steps.{step.id}.needs: unknown step {need!r}")
        if step.on_failure is not None and step.on_failure not in known - {step.id}:
            raise InvalidWorkflow(f"steps.{step.id}.on_failure: unknown step {step.on_failure!r}")
    cycle = _find_cycle({step.id: step.needs for step in steps})
    if cycle:
        raise InvalidWorkflow(f"steps.{cycle[0]}.needs: cycle {' -> '.join(cycle)}")


def _find_cycle(graph: dict[str, tuple[str, ...]]) -> list[str] | None:
    """Depth-first search; answer the first cycle found as a closed path of ids."""
    state: dict[str, str] = {}
    trail: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "active"
        trail.append(node)
        for need in graph[node]:
            if state.get(need) == "active":
                return [*trail[trail.index(need) :], need]
            if need not in state and (found := visit(need)):
                return found
        state[node] = "done"
        trail.pop()
        return None

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return None


def compensation_ids(steps: list[Step]) -> set[str]:
    """Steps named by an `on_failure`: they run only when that step fails."""
    return {step.on_failure for step in steps if step.on_failure}
