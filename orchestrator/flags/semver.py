"""Semantic versions (semver.org 2.0) parsed into tuples that compare with `<`, `==`, `>`."""

import re

SEMVER_PATTERN = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$"
)

# A release sorts after every pre-release of the same version: (1, ()) > (0, pre...).
RELEASE = (1, ())


class SemverError(ValueError):
    pass


def parse_semver(text: str) -> tuple:
    """Answer a comparable key for `text`, or raise SemverError naming the bad value."""
    match = SEMVER_PATTERN.match(str(text).strip())
    if not match:
        raise SemverError(f"{text!r} is not a semantic version like 1.2.3 or 1.2.3-rc.1")
    major, minor, patch, pre = match.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), RELEASE)
    # Numeric identifiers sort before alphanumeric ones, and numerically among themselves.
    parts = tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in pre.split("."))
    return (int(major), int(minor), int(patch), (0, parts))


def try_parse_semver(text) -> tuple | None:
    """Answer the key, or None when the context value is not a version (the rule misses)."""
    if not isinstance(text, str):
        return None
    try:
        return parse_semver(text)
    except SemverError:
        return None
