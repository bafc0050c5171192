"""Start-up refuses bad settings with one line that names the setting."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from tests.conftest import BASE_DIR


def run_check(**overrides) -> subprocess.CompletedProcess:
    env = {**os.environ, **overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://root@localhost/x", "DATABASE_URL has unsupported scheme"),
        ("DATABASE_URL", "postgres://root@127.0.0.1:5432", "DATABASE_URL names no database"),
        ("REDIS_URL", "http://127.0.0.1:6379/0", "REDIS_URL has unsupported scheme"),
        ("REDIS_URL", "redis://127.0.0.1:notaport/0", "REDIS_URL has a port that is not a number"),
        ("PORT", "eighty", "PORT must be a whole number"),
        ("DISPATCHER_THREADS", "-1", "DISPATCHER_THREADS must be 0 or more, got -1"),
        ("DISPATCH_LINGER_MS", "-5", "DISPATCH_LINGER_MS must be 0 or more, got -5"),
        ("METRICS_ENABLED", "ture", "METRICS_ENABLED must be true or false, got 'ture'"),
        ("EVENT_PLAN_AT_INGEST", "maybe", "EVENT_PLAN_AT_INGEST must be true or false"),
        ("SECRET_KEY_FILE", "/nonexistent/secret", "SECRET_KEY_FILE cannot be read"),
    ],
)
def test_malformed_setting_stops_startup_with_one_line_naming_it(setting, value, expected):
    result = run_check(**{setting: value})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"error: {expected}")
    assert "Traceback" not in result.stderr


def test_secret_key_file_is_read(tmp_path):
    secret_file = tmp_path / "key"
    secret_file.write_text("s" * 50 + "\n")
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env={**os.environ, "SECRET_KEY_FILE": str(secret_file)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip().splitlines()[-1] == "s" * 50


def test_production_with_default_secret_key_is_refused(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = settings.INSECURE_DEFAULT_SECRET_KEY
    with pytest.raises(SystemCheckError, match=r"contexten\.E001"):
        call_command("check")


def test_production_with_short_secret_key_is_refused(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = "short"
    with pytest.raises(SystemCheckError, match=r"contexten\.E002"):
        call_command("check")


def test_production_with_long_secret_key_passes_checks(settings):
    settings.DEBUG = False
    settings.SECRET_KEY = "x" * 64
    call_command("check")


def test_database_backend_follows_database_url(settings):
    expected = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite3"
    assert settings.DATABASES["default"]["ENGINE"].endswith(expected)
    if expected == "postgresql":
        assert settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"] >= 10
        assert settings.DATABASES["default"]["CONN_MAX_AGE"] == 0


@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode_when_embedded():
    from django.db import connection

    if connection.vendor != "sqlite":
        assert os.environ.get("DATABASE_URL"), "only DATABASE_URL may replace SQLite"
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def test_redis_backs_cache_channels_and_queue_when_set(settings):
    from django.core.cache import cache

    if not os.environ.get("REDIS_URL"):
        assert settings.Q_CLUSTER["orm"] == "default"
        assert "LocMemCache" in settings.CACHES["default"]["BACKEND"]
        return
    assert settings.Q_CLUSTER["redis"] == os.environ["REDIS_URL"]
    assert "channels_redis" in settings.CHANNEL_LAYERS["default"]["BACKEND"]
    cache.set("probe", "value", 5)
    from orchestrator.core.redis import redis_client

    assert any(b"probe" in key for key in redis_client().keys("*"))
