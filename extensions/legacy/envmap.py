"""The old app's environment, mapped to Contexten's settings.

The old app read GITHUB_TOKEN (or GITHUB_ACCESS_TOKEN), LINEAR_ACCESS_TOKEN,
LINEAR_SIGNING_SECRET, LINEAR_TEAM_ID, SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET. It never
checked webhook signatures, so a GitHub webhook secret (and often the others) is new.
"""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

# new setting -> old names, first found wins
MAPPING: dict[str, tuple[str, ...]] = {
    "GITHUB_TOKEN": ("GITHUB_TOKEN", "GITHUB_ACCESS_TOKEN"),
    "LINEAR_API_KEY": ("LINEAR_ACCESS_TOKEN",),
    "LINEAR_WEBHOOK_SECRET": ("LINEAR_SIGNING_SECRET",),
    "LINEAR_TEAM_ID": ("LINEAR_TEAM_ID",),
    "SLACK_BOT_TOKEN": ("SLACK_BOT_TOKEN",),
    "SLACK_SIGNING_SECRET": ("SLACK_SIGNING_SECRET",),
}
# The webhook secret each platform's handlers need, and the flag that provides it.
WEBHOOK_SECRETS = {
    "github": ("GITHUB_WEBHOOK_SECRET", "--github-webhook-secret"),
    "linear": ("LINEAR_WEBHOOK_SECRET", "--linear-webhook-secret"),
    "slack": ("SLACK_SIGNING_SECRET", "--slack-signing-secret"),
}
LINE = re.compile(r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$")


class EnvProblem(ValueError):
    pass


@dataclass
class EnvPlan:
    mapped: dict[str, tuple[str, str]] = field(default_factory=dict)  # new -> (old, value)
    missing: list[str] = field(default_factory=list)  # settings still without a value
    secrets: dict[str, str] = field(default_factory=dict)  # asked for or given as flags

    def values(self) -> dict[str, str]:
        return {new: value for new, (_, value) in self.mapped.items()} | self.secrets


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (optional `export`, quotes, # comments), as .env files have them."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise EnvProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    values = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LINE.match(line)
        if match is None:
            raise EnvProblem(f"{path}: not a KEY=VALUE line: {line.strip()[:60]!r}")
        values[match["name"]] = unquote(match["value"])
    return values


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split(" #", 1)[0].strip()


def plan(old: dict[str, str]) -> EnvPlan:
    result = EnvPlan()
    for new, names in MAPPING.items():
        found = next((name for name in names if old.get(name)), None)
        if found:
            result.mapped[new] = (found, old[found])
    return result


def needed_secrets(result: EnvPlan, providers: set[str]) -> list[tuple[str, str]]:
    """(setting, flag) for each platform with handlers whose webhook secret has no value."""
    return [
        WEBHOOK_SECRETS[provider]
        for provider in sorted(providers)
        if WEBHOOK_SECRETS[provider][0] not in result.mapped
    ]


def write_env(path: Path, values: dict[str, str]) -> None:
    """Set the values in a .env file, replacing lines for the same names; 0600, secrets."""
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if not (m := LINE.match(line)) or m["name"] not in values]
    kept += [f"{name}={quote(value)}" for name, value in values.items()]
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(kept) + "\n")
    partial.replace(path)


def quote(value: str) -> str:
    return f'"{value}"' if re.search(r"[\s#'\"]", value) else value


def masked(value: str) -> str:
    return value[:4] + "…" if len(value) > 8 else "…"
