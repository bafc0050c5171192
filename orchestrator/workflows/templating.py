"""Sandboxed Jinja2 for workflow documents: step inputs, `if` and trigger `when`.

Inputs render with StrictUndefined, so a typo is a clear step error rather than an empty
string sent to a platform. Conditions use a lenient undefined: a missing field is falsy.
Templates see the configuration store as `config.<namespace>.<field>` through `ConfigView`,
which looks a namespace up, and resolves its `env:NAME` references, only when a template
uses it.
"""

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateError, Undefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

# Results past these sizes are refused: a template must not be able to stall or exhaust a
# worker with `10 ** 99999999` or `"x" * 10 ** 9` (the sandbox guards attributes, not arithmetic).
MAX_POWER_BITS = 4096
MAX_REPEATED_LENGTH = 1_000_000


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox, plus bounds on the two operators that can build huge values."""

    intercepted_binops = frozenset(["**", "*"])

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            _check_power(left, right)
            return left**right
        _check_repetition(left, right)
        return left * right


def _check_power(base, exponent) -> None:
    integers = isinstance(base, int) and isinstance(exponent, int)
    if integers and exponent > 0 and exponent * abs(base).bit_length() > MAX_POWER_BITS:
        raise SecurityError(f"{base} ** {exponent} is too large to compute")


def _check_repetition(left, right) -> None:
    for sequence, count in ((left, right), (right, left)):
        repeats = isinstance(sequence, str | list | tuple) and isinstance(count, int)
        if repeats and len(sequence) * count > MAX_REPEATED_LENGTH:
            raise SecurityError(f"repeating a sequence {count} times is too large")


STRICT = BoundedSandbox(undefined=StrictUndefined, autoescape=False)
LENIENT = BoundedSandbox(undefined=ChainableUndefined, autoescape=False)
# "{{ expr }}" and nothing else: rendered to the expression's native value (lists, numbers).
WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)
FALSY_TEXT = {"", "false", "0", "none", "no", "off", "null", "undefined"}


class TemplateProblem(ValueError):
    """A template that does not parse or does not render."""


def check_syntax(text: str, *, condition: bool = False) -> None:
    """Raise TemplateProblem with a one-line message when `text` does not parse.

    Conditions without braces are bare expressions; other text is a template or a literal.
    """
    try:
        if "{" in text or not condition:
            STRICT.parse(text)
        else:
            STRICT.compile_expression(text)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line and "\n" in text else ""
        raise TemplateProblem(f"{exc.message or exc}{where}") from None


@lru_cache(maxsize=4096)
def _compiled(text: str, strict: bool):
    env = STRICT if strict else LENIENT
    whole = WHOLE_EXPRESSION.match(text)
    if whole and "{{" not in whole["expr"] and "}}" not in whole["expr"]:
        return "expression", env.compile_expression(whole["expr"], undefined_to_none=False)
    if "{" in text:
        return "template", env.from_string(text)
    return "literal", text


def render_value(value: Any, context: dict[str, Any]) -> Any:
    """Render every string inside `value` (dicts and lists walked), strictly."""
    if isinstance(value, str):
        return _render_text(value, context, strict=True)
    if isinstance(value, dict):
        return {key: render_value(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    return value


def _render_text(text: str, context: dict[str, Any], *, strict: bool) -> Any:
    try:
        kind, compiled = _compiled(text, strict)
        if kind == "literal":
            return compiled
        if kind == "expression":
            value = compiled(**context)
            if strict and isinstance(value, Undefined):
                value._fail_with_undefined_error()  # "{{ x.missing }}" alone is an error too
            return value
        return compiled.render(**context)
    except TemplateError as exc:
        raise TemplateProblem(f"template {text!r} failed: {exc.message or exc}") from None
    except OverflowError as exc:  # the sandbox's range() cap raises this, not a TemplateError
        raise TemplateProblem(f"template {text!r} failed: {exc}") from None


def is_truthy(condition: str, context: dict[str, Any]) -> bool:
    """Evaluate a `when`/`if`: a bare expression or a template; missing fields are falsy."""
    if "{" in condition:
        value = _render_text(condition, context, strict=False)
    else:
        value = _evaluate_bare(condition, context)
    if isinstance(value, str):
        return value.strip().lower() not in FALSY_TEXT
    if isinstance(value, ChainableUndefined):
        return False
    return bool(value)


def _evaluate_bare(expression: str, context: dict[str, Any]) -> Any:
    try:
        return _bare(expression)(**context)
    except TemplateError as exc:
        raise TemplateProblem(f"condition {expression!r} failed: {exc.message or exc}") from None


@lru_cache(maxsize=4096)
def _bare(expression: str):
    return LENIENT.compile_expression(expression, undefined_to_none=False)


class ConfigView:
    """`config.<namespace>.<field>`: the namespace's effective document, read when used.

    `lookup(namespace)` answers the effective document (None for an unknown namespace) and
    `resolve(value, where)` resolves its `env:NAME` references, raising a ValueError that
    names an unset variable. Either problem renders as an undefined carrying that message,
    so the step fails with it, never with a traceback.
    """

    def __init__(self, lookup: Callable[[str], dict | None], resolve: Callable[[Any, str], Any]):
        # Underscored: the sandbox hides them, so no namespace name can reach them.
        self._lookup, self._resolve = lookup, resolve

    def __getitem__(self, namespace: str):
        data = self._lookup(namespace)
        if data is None:
            return StrictUndefined(
                hint=f"no configuration namespace {namespace!r}"
                f" (a workflow's own values are vars.{namespace})"
            )
        return ConfigNamespace(namespace, data, self._resolve)


class ConfigNamespace(dict):
    """One namespace's fields; each is resolved when a template reads it."""

    def __init__(self, namespace: str, data: dict, resolve: Callable[[Any, str], Any]):
        super().__init__(data)
        self._namespace, self._resolve = namespace, resolve

    def __getitem__(self, field: str):
        value = super().__getitem__(field)  # KeyError: Jinja's own undefined for the field
        try:
            return self._resolve(value, f"{self._namespace}.{field}")
        except ValueError as exc:
            return StrictUndefined(hint=str(exc))
