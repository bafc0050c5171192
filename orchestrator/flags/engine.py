"""The evaluation engine: a pure function of (compiled flag, context), no database, no I/O.

A flag document is compiled once into closures and precomputed outcomes, so evaluating it is
a few dict lookups, at most one MurmurHash3 call, and returning a tuple built at compile time.

Bucketing (documented in docs/flags.md): bucket = murmur3_32("<salt>:<targeting key>", seed 0)
mod 100_000, giving 0.001 % resolution. A key is in a rollout of p % when bucket < p * 1000, so
raising p only adds keys, and each flag's own salt makes flags independent of each other.
"""

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import mmh3

from orchestrator.flags.schema import Condition, FlagDocument
from orchestrator.flags.semver import parse_semver, try_parse_semver

BUCKETS = 100_000
TARGETING_KEY = "targetingKey"

STATIC, TARGETING_MATCH, SPLIT = "STATIC", "TARGETING_MATCH", "SPLIT"
DISABLED, DEFAULT, ERROR = "DISABLED", "DEFAULT", "ERROR"

Context = dict[str, Any]
Predicate = Callable[[Context], bool]


class Resolution(NamedTuple):
    """One outcome of a flag; built at compile time and shared by every evaluation."""

    value: Any
    variant: str | None
    reason: str
    error_code: str | None = None
    error_details: str | None = None
    # The OFREP 200 body for this outcome, serialised once.
    body: bytes = b""


def bucket(salt: str, key: str) -> int:
    """Answer the key's bucket in [0, 100000) for this salt; the same everywhere, forever."""
    return mmh3.hash(f"{salt}:{key}", 0, False) % BUCKETS


def threshold(percentage: float) -> int:
    """Buckets below this are in: 25.0 % -> 25000, 0.001 % -> 1."""
    return round(percentage * 1000)


@dataclass(frozen=True)
class CompiledFlag:
    key: str
    version: int
    evaluate: Callable[[Context], Resolution]


def compile_flag(doc: FlagDocument, *, salt: str, version: int) -> CompiledFlag:
    """Turn a validated document into a CompiledFlag whose `evaluate(context)` is pure."""
    meta = {"flagVersion": version}

    def outcome(variant: str, reason: str) -> Resolution:
        value = doc.variants[variant]
        body = {"key": doc.key, "value": value, "reason": reason, "variant": variant}
        return Resolution(
            value, variant, reason, body=json.dumps({**body, "metadata": meta}).encode()
        )

    if not doc.enabled:
        disabled = outcome(doc.default_variant, DISABLED)
        return CompiledFlag(doc.key, version, lambda context: disabled)
    rules = tuple(
        (
            compile_conditions(rule.when, f"{salt}/rule{index}"),
            outcome(rule.variant, TARGETING_MATCH),
        )
        for index, rule in enumerate(doc.rules)
    )
    split = compile_split(doc, salt, outcome)
    return CompiledFlag(doc.key, version, chain(rules, split))


def compile_split(doc: FlagDocument, salt: str, outcome) -> Callable[[Context], Resolution]:
    """What happens after no rule matched: a constant, or the sticky percentage split."""
    cut = threshold(doc.rollout.percentage)
    if cut <= 0 or cut >= BUCKETS:
        variant = doc.rollout.variant if cut >= BUCKETS else doc.default_variant
        constant = outcome(variant, DEFAULT if doc.rules else STATIC)
        return lambda context: constant
    inside, outside = outcome(doc.rollout.variant, SPLIT), outcome(doc.default_variant, SPLIT)
    missing = Resolution(
        None, None, ERROR, "TARGETING_KEY_MISSING", "this flag splits by targetingKey; none given"
    )
    prefix, hash32 = f"{salt}:", mmh3.hash

    def split(context: Context) -> Resolution:
        key = context.get(TARGETING_KEY)
        if key is None or key == "":
            return missing
        return inside if hash32(prefix + str(key), 0, False) % BUCKETS < cut else outside

    return split


def chain(rules: tuple, split: Callable[[Context], Resolution]) -> Callable[[Context], Resolution]:
    """First matching rule wins; otherwise the split decides."""
    if not rules:
        return split

    def evaluate(context: Context) -> Resolution:
        for matches, resolution in rules:
            if matches(context):
                return resolution
        return split(context)

    return evaluate


def compile_conditions(conditions: list[Condition], salt: str) -> Predicate:
    tests = [compile_condition(condition, salt) for condition in conditions]
    if len(tests) == 1:
        return tests[0]
    return lambda context: all(test(context) for test in tests)


def compile_condition(condition: Condition, salt: str) -> Predicate:
    """One `{attribute, op, value}` as a closure; a missing attribute never matches."""
    attribute, value = condition.attribute, condition.value
    test = OPERATORS[condition.op](value, salt)

    def check(context: Context) -> bool:
        actual = context.get(attribute)
        return actual is not None and test(actual)

    return check


def string_test(method: Callable[[str, str], bool]):
    def build(expected: str, salt: str) -> Callable[[Any], bool]:
        return lambda actual: isinstance(actual, str) and method(actual, expected)

    return build


def membership(expected: list, salt: str) -> Callable[[Any], bool]:
    try:
        members = frozenset(expected)
        return lambda actual: isinstance(actual, str | int | float | bool) and actual in members
    except TypeError:  # unhashable members (objects): compare one by one
        return lambda actual: actual in expected


def negate(build):
    def negated(expected, salt: str) -> Callable[[Any], bool]:
        test = build(expected, salt)
        return lambda actual: not test(actual)

    return negated


def regex_test(expected: str, salt: str) -> Callable[[Any], bool]:
    search = re.compile(expected).search
    return lambda actual: isinstance(actual, str) and search(actual) is not None


def semver_test(compare: Callable[[tuple, tuple], bool]):
    def build(expected: str, salt: str) -> Callable[[Any], bool]:
        wanted = parse_semver(expected)

        def test(actual: Any) -> bool:
            parsed = try_parse_semver(actual)
            return parsed is not None and compare(parsed, wanted)

        return test

    return build


def percentage_test(expected: float, salt: str) -> Callable[[Any], bool]:
    """The rule's own sticky split of the attribute's value (independent of the rollout's)."""
    cut = threshold(float(expected))
    return lambda actual: bucket(salt, str(actual)) < cut


def equals_test(expected: Any, salt: str) -> Callable[[Any], bool]:
    return lambda actual: actual == expected


OPERATORS = {
    "equals": equals_test,
    "not_equals": negate(equals_test),
    "in": membership,
    "not_in": negate(membership),
    "regex": regex_test,
    "starts_with": string_test(str.startswith),
    "ends_with": string_test(str.endswith),
    "contains": string_test(operator.contains),
    "semver_eq": semver_test(operator.eq),
    "semver_gt": semver_test(operator.gt),
    "semver_gte": semver_test(operator.ge),
    "semver_lt": semver_test(operator.lt),
    "semver_lte": semver_test(operator.le),
    "percentage": percentage_test,
}
