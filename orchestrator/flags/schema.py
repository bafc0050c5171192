"""The flag document (SPEC §7): parsed and validated at the edge into typed models.

Every problem becomes one readable line ("rules[0].when.value: bad regex ..."), so the REST
API, the admin and the management commands all refuse bad input the same way.
"""

import re
from datetime import datetime
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestrator.flags.semver import SemverError, parse_semver

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
BOOLEAN_VARIANTS = {"on": True, "off": False}
STRING_OPS = {"starts_with", "ends_with", "contains"}
SEMVER_OPS = {"semver_eq", "semver_gt", "semver_gte", "semver_lt", "semver_lte"}
LIST_OPS = {"in", "not_in"}
Op = Literal[
    "equals",
    "not_equals",
    "in",
    "not_in",
    "regex",
    "starts_with",
    "ends_with",
    "contains",
    "semver_eq",
    "semver_gt",
    "semver_gte",
    "semver_lt",
    "semver_lte",
    "percentage",
]


class FlagDocumentError(ValueError):
    """A flag document is invalid; `str()` is one line naming each bad field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_percentage(value: float) -> float:
    if not 0 <= value <= 100:
        raise ValueError(f"percentage {value} is out of range 0..100")
    if round(value, 3) != value:
        raise ValueError(f"percentage {value} is finer than 0.001")
    return value


class Condition(Strict):
    attribute: str = Field(default="targetingKey", min_length=1)
    op: Op
    value: Any

    @model_validator(mode="after")
    def value_fits_op(self) -> "Condition":
        check_condition_value(self.op, self.value)
        return self


def check_condition_value(op: str, value: Any) -> None:
    """Refuse a value the operator cannot use, with the reason."""
    if op in LIST_OPS and not isinstance(value, list):
        raise ValueError(f"op {op!r} needs a list value")
    if op in STRING_OPS and not isinstance(value, str):
        raise ValueError(f"op {op!r} needs a string value")
    if op == "regex":
        if not isinstance(value, str):
            raise ValueError("op 'regex' needs a string value")
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"bad regex {value!r}: {exc}") from None
    if op in SEMVER_OPS:
        try:
            parse_semver(value)
        except SemverError as exc:
            raise ValueError(f"bad semver: {exc}") from None
    if op == "percentage":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("op 'percentage' needs a number 0..100")
        check_percentage(float(value))


class Rule(Strict):
    variant: str
    when: list[Condition] = Field(min_length=1)  # all must hold; one condition may be given bare
    description: str = ""

    @field_validator("when", mode="before")
    @classmethod
    def one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value


class PlanStep(Strict):
    percentage: float
    at: datetime

    _pct = field_validator("percentage")(check_percentage)

    @field_validator("at")
    @classmethod
    def aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a timezone, e.g. 2026-01-01T09:00:00Z")
        return value


class Rollout(Strict):
    variant: str | None = None
    percentage: float = 0.0
    plan: list[PlanStep] = []
    paused: bool = False

    _pct = field_validator("percentage")(check_percentage)

    @field_validator("plan")
    @classmethod
    def plan_in_order(cls, steps: list[PlanStep]) -> list[PlanStep]:
        for earlier, later in pairwise(steps):
            if later.at < earlier.at:
                raise ValueError("plan steps must be in time order")
            if later.percentage < earlier.percentage:
                raise ValueError("plan percentages must not decrease")
        return steps


class Guard(Strict):
    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    source: str | None = None  # an extension (platform) name
    workflow: str | None = None
    breaker: str | bool | None = None  # a platform, or true for the source's own breaker
    health: bool = False
    window_seconds: int = Field(default=600, ge=10, le=86400)
    min_samples: int = Field(default=5, ge=1)

    def breaker_platform(self) -> str | None:
        if self.breaker is True:
            return self.source
        return self.breaker or None


class FlagDocument(Strict):
    key: str
    description: str = ""
    enabled: bool = False
    variants: dict[str, Any] | None = None
    default_variant: str | None = None
    rules: list[Rule] = []
    rollout: Rollout = Rollout()
    guard: Guard | None = None

    @field_validator("key")
    @classmethod
    def key_shape(cls, value: str) -> str:
        if not re.match(KEY_PATTERN, value):
            raise ValueError(
                "use 1-100 letters, digits, '.', '_' or '-', starting with one of the first two"
            )
        return value

    @model_validator(mode="after")
    def variants_consistent(self) -> "FlagDocument":
        fill_boolean_defaults(self)
        check_variant_types(self.variants)
        known = set(self.variants)
        named = [
            ("default_variant", self.default_variant),
            ("rollout.variant", self.rollout.variant),
        ]
        named += [(f"rules[{i}].variant", rule.variant) for i, rule in enumerate(self.rules)]
        for where, name in named:
            if name not in known:
                raise ValueError(f"{where}: unknown variant {name!r}; known: {sorted(known)}")
        return self


def fill_boolean_defaults(doc: FlagDocument) -> None:
    """The smallest flag has no variants: it is boolean, on for the rollout, off otherwise."""
    if doc.variants is None:
        doc.variants = dict(BOOLEAN_VARIANTS)
        doc.default_variant = doc.default_variant or "off"
        doc.rollout.variant = doc.rollout.variant or "on"
    if not doc.variants:
        raise ValueError("variants must name at least one variant")
    if doc.default_variant is None:
        raise ValueError("default_variant is required when variants are given")
    if doc.rollout.variant is None:
        others = [name for name in doc.variants if name != doc.default_variant]
        ramping = doc.rollout.percentage or doc.rollout.plan
        if ramping and len(others) != 1:
            raise ValueError("rollout.variant is required with more than two variants")
        doc.rollout.variant = others[0] if len(others) == 1 else doc.default_variant


def kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict | list):
        return "object"
    return "null"


def check_variant_types(variants: dict[str, Any]) -> None:
    kinds = {kind_of(value) for value in variants.values()}
    if "null" in kinds:
        raise ValueError("variant values must be boolean, string, number or object, not null")
    if len(kinds) > 1:
        raise ValueError(f"all variants must have one type, got {sorted(kinds)}")


def describe(exc: ValidationError) -> str:
    """One line: `field.path: message` for each problem."""
    parts = []
    for err in exc.errors():
        # A location may be a key the caller sent ("a\nb"): printed escaped, on one line.
        where = ".".join(p if str(p).isprintable() else repr(p) for p in map(str, err["loc"]))
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def parse_flag(data: Any) -> FlagDocument:
    """Validate a flag document, raising FlagDocumentError with one readable line."""
    if not isinstance(data, dict):
        raise FlagDocumentError("a flag must be a JSON object")
    try:
        return FlagDocument.model_validate(data)
    except ValidationError as exc:
        raise FlagDocumentError(describe(exc)) from None


def to_document(doc: FlagDocument) -> dict[str, Any]:
    """The canonical JSON form stored in snapshots and answered by the API.

    A rule keeps the shape people write: one condition as an object, no empty description.
    """
    data = doc.model_dump(mode="json", exclude_none=False)
    for rule in data["rules"]:
        if len(rule["when"]) == 1:
            rule["when"] = rule["when"][0]
        if not rule["description"]:
            del rule["description"]
    return data
