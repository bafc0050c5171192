"""Typed helpers that read the environment once, in settings, and fail loudly.

A malformed value stops start-up with one line that names the setting, never a traceback:
operators read that line in a terminal or a container log.
"""

import sys
from pathlib import Path
from urllib.parse import urlsplit

import environ


class SettingError(Exception):
    """A setting that cannot be used as given."""


def fail(setting: str, problem: str) -> None:
    """Print one line naming the setting, then stop the process."""
    print(f"error: {setting} {problem}", file=sys.stderr)
    raise SystemExit(2)


def read_secret(env: environ.Env, name: str, default: str) -> str:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker/K8s secrets)."""
    file_name = env.str(f"{name}_FILE", default="")
    if not file_name:
        return env.str(name, default=default)
    try:
        return Path(file_name).read_text().strip()
    except OSError as exc:
        fail(f"{name}_FILE", f"cannot be read: {exc.strerror} ({file_name})")
        return ""


# psycopg's own threshold: a server-binding cursor prepares a statement on its fifth run.
PREPARE_AFTER = 5


def database_from_url(
    url: str, sqlite_path: Path, pool_max: int, pool_timeout: float = 10, prepare: bool = True
) -> dict:
    """Build DATABASES['default'] from DATABASE_URL, or the embedded SQLite default."""
    if not url:
        return sqlite_database(sqlite_path)
    scheme = urlsplit(url).scheme
    if scheme.startswith("sqlite"):
        return sqlite_database(Path(url.split("://", 1)[1] or sqlite_path))
    if scheme not in {"postgres", "postgresql", "pgsql"}:
        fail("DATABASE_URL", f"has unsupported scheme {scheme!r}: use postgres:// or sqlite:///")
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for bad URLs
        fail("DATABASE_URL", f"is malformed: {exc}")
    if not config.get("NAME"):
        fail("DATABASE_URL", "names no database: expected postgres://user@host:5432/dbname")
    return postgres_database(config, pool_max, pool_timeout, prepare)


def default_deployment_name(database: dict) -> str:
    """The database's name (Postgres) or a short hash of its file path (SQLite): two
    deployments that share a Redis have different databases, so their queues differ too."""
    import hashlib
    import re

    name = str(database["NAME"])
    if database["ENGINE"].endswith("sqlite3"):
        return "sqlite-" + hashlib.blake2s(name.encode(), digest_size=4).hexdigest()
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:64]


def postgres_database(
    config: dict, pool_max: int, pool_timeout: float = 10, prepare: bool = True
) -> dict:
    """Postgres through Django's psycopg pool: persistent per-thread connections exhaust
    Postgres under ASGI, where every request may run on a different thread."""
    config["ENGINE"] = "django.db.backends.postgresql"
    config["CONN_MAX_AGE"] = 0
    options = config.setdefault("OPTIONS", {})
    # `timeout`: how long a request waits for a connection before its DatabaseError.
    options["pool"] = {"min_size": 2, "max_size": pool_max, "timeout": pool_timeout}
    # Django's own cursors never prepare (they bind on the client); this lets our few hot
    # statements (core/prepared.py) be prepared, or with None run unprepared.
    options["prepare_threshold"] = PREPARE_AFTER if prepare else None
    return config


def sqlite_database(path: Path) -> dict:
    """SQLite in WAL mode with a busy timeout, so web and workers can share one file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
            ),
        },
        "TEST": {"NAME": str(path.with_name("test_" + path.name))},
    }


def redis_url_or_none(url: str) -> str | None:
    """Validate REDIS_URL; an empty value means the embedded default."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        fail("REDIS_URL", f"has unsupported scheme {parts.scheme!r}: use redis://host:6379/0")
    try:
        port = parts.port
    except ValueError:
        fail("REDIS_URL", "has a port that is not a number")
    if parts.scheme != "unix" and not parts.hostname:
        fail("REDIS_URL", "names no host: expected redis://host:6379/0")
    _ = port
    return url


def read_int(env: environ.Env, name: str, default: int, minimum: int | None = None) -> int:
    """An integer setting (at least `minimum`, if given); anything else stops start-up
    naming the setting."""
    try:
        value = env.int(name, default=default)
    except ValueError:
        fail(name, f"must be a whole number, got {env.str(name)!r}")
        return default
    if minimum is not None and value < minimum:
        fail(name, f"must be {minimum} or more, got {value}")
        return default
    return value


TRUE_WORDS = {"true", "1", "yes", "on", "y", "t"}
FALSE_WORDS = {"false", "0", "no", "off", "n", "f", ""}


def read_bool(env: environ.Env, name: str, default: bool) -> bool:
    """A true/false setting. django-environ's `env.bool` reads any other word as false, so
    `METRICS_ENABLED=ture` silently turned metrics off; this stops start-up naming it."""
    value = env.str(name, default=None)
    if value is None:
        return default
    word = value.strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        fail(name, f"must be true or false, got {value!r}")
    return word in TRUE_WORDS


def read_networks(env: environ.Env, name: str, default: list[str]) -> tuple:
    """A comma-separated list of IP networks (CIDR; a bare address is one host)."""
    import ipaddress

    networks = []
    for item in env.list(name, default=default):
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            fail(name, f"holds {item!r}, which is not an IP address or network")
    return tuple(networks)


def read_declared(env: environ.Env, setting) -> object:
    """Read one setting an extension manifest declares (`extensions.api.Setting`)."""
    if setting.kind == "secret":
        return read_secret(env, setting.name, setting.default)
    if setting.kind == "int":
        return read_int(env, setting.name, setting.default)
    if setting.kind == "list":
        return env.list(setting.name, default=setting.default or [])
    value = env.str(setting.name, default=setting.default)
    return value.rstrip("/") if setting.kind == "url" else value


def read_extension_settings(env: environ.Env, declared) -> dict[str, object]:
    """Every setting the discovered extensions declare, by name (the first declaration wins)."""
    values: dict[str, object] = {}
    for setting in declared:
        values.setdefault(setting.name, read_declared(env, setting))
    return values


def read_host_list(env: environ.Env, name: str) -> list[str]:
    """Comma-separated host names, IP addresses or networks (CIDR); others stop start-up."""
    import ipaddress
    import re

    entries = [entry.strip().lower() for entry in env.list(name, default=[]) if entry.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            label = r"[a-z0-9]([a-z0-9-]*[a-z0-9])?"
            if not re.fullmatch(rf"{label}(\.{label})*", entry):
                fail(name, f"holds {entry!r}, which is neither a host name nor an IP network")
    return entries
