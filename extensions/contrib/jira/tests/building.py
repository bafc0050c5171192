"""Build another version of an extension's source folder, for hot-swap tests."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

JIRA_SOURCE = Path(__file__).resolve().parents[1]
IGNORED = shutil.ignore_patterns("tests", "*.egg-info", "__pycache__", "build", "dist")


def jira_version(folder: Path, version: str) -> Path:
    """Copy the Jira extension's source to `folder` with its version bumped to `version`."""
    shutil.copytree(JIRA_SOURCE, folder, ignore=IGNORED)
    bump(folder / "pyproject.toml", r'^version = "[^"]+"', f'version = "{version}"')
    bump(folder / "contexten_jira" / "_version.py", r'^VERSION = "[^"]+"', f'VERSION = "{version}"')
    return folder


def bump(path: Path, pattern: str, replacement: str) -> None:
    text, count = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.M)
    if count != 1:
        raise AssertionError(f"{path}: no {pattern!r} to bump")
    path.write_text(text)
