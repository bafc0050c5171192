"""`make run` end to end, as a new user gets it: the Makefile's steps on a fresh embedded
database (no DATABASE_URL, no REDIS_URL), then `manage.py demo` as real processes. The banner
names the URL and a login that works, the demo data is there, the demo stream's signed
webhooks become finished runs, and Ctrl-C stops everything cleanly."""

import os
import re
import signal
import sqlite3
import subprocess
import sys

import pytest

from tests.conftest import BASE_DIR, SERVED_TEST_SIZES, free_port, wait_for_http
from tests.faults.stack import log_in, manage
from tests.waiting import wait_until

# The Makefile's `run` target before its last step. `make install` is CI's own first step;
# collectstatic is left out because it writes the checkout's var/static, which both halves of
# CI share, and the admin's pages render without it (static files are not hashed in names).
SETUP_STEPS = [
    ["backup", "--if-migrations-pending"],
    ["migrate", "--no-input", "-v0", "--skip-checks"],
    ["seed_demo", "--skip-checks"],
]

SUCCEEDED_RUNS = "SELECT count(*) FROM workflows_run WHERE status = 'succeeded'"
EVENTS = "SELECT count(*) FROM events_event"
LOGIN = re.compile(r"login\s+(\S+) / (\S+)")


@pytest.fixture
def fresh_clone_env(tmp_path):
    """The environment of a new user's shell: nothing of this suite's databases or Redis."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "REDIS_URL"} and not name.startswith("CONTEXTEN_")
    }
    env |= SERVED_TEST_SIZES | {
        "PYTHONUNBUFFERED": "1",
        "SQLITE_PATH": str(tmp_path / "contexten.sqlite3"),
        "BACKUP_DIR": str(tmp_path / "backups"),
        "DEPLOYMENT_NAME": f"make-run-{os.getpid()}",
    }
    return env


def count(path: str, sql: str) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        return db.execute(sql).fetchone()[0]


def test_make_run_on_a_fresh_clone_serves_demo_data_and_finished_runs(fresh_clone_env, tmp_path):
    env, port, log = fresh_clone_env, free_port(), tmp_path / "demo.log"
    for step in SETUP_STEPS:
        manage(env, *step)
    with open(log, "w") as output:  # a file, so an unread pipe never stalls the stack
        demo = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--port", str(port), "--events-every", "0.5",
             "--no-drill"],
            cwd=BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health/live", process=demo)
        wait_until(lambda: LOGIN.search(log.read_text()), 60, "the banner's login line")
        banner = log.read_text()
        assert f"admin      {base}/admin/" in banner
        staff = log_in(base, *LOGIN.search(banner).groups())
        admin = staff.get("/admin/")
        assert admin.status_code == 200, admin.status_code  # not sent back to the login form
        assert 'action="/admin/logout/"' in admin.text and "<title>Operations |" in admin.text

        database = env["SQLITE_PATH"]
        for table in ("workflows_workflow", "flags_flag", "extensions_extension",
                      "config_configdocument"):  # fmt: skip
            assert count(database, f"SELECT count(*) FROM {table}") > 0, f"no demo {table}"  # noqa: S608
        seeded = count(database, EVENTS)
        wait_until(lambda: count(database, EVENTS) - seeded >= 3, 90, "3 streamed events")
        wait_until(lambda: count(database, SUCCEEDED_RUNS) >= 1, 90, "a succeeded demo run")
    finally:
        demo.send_signal(signal.SIGINT)  # Ctrl-C, as the banner says
        demo.wait(timeout=60)
    assert demo.returncode == 0, log.read_text()[-3000:]
    assert "stopped web and workers" in log.read_text()
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
