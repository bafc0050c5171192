"""`make run` end to end, as a new user gets it: the Makefile's steps on a fresh embedded
database (no DATABASE_URL, no REDIS_URL), then `manage.py demo` as real processes. The banner
names the URL and a login that works, the demo data is there, the demo stream's signed
webhooks become finished runs, and Ctrl-C stops everything cleanly."""

import http.cookiejar
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

from tests.conftest import BASE_DIR, SERVED_TEST_SIZES, free_port, wait_for_http

# The Makefile's `run` target before its last step. `make install` is CI's own first step;
# collectstatic is left out because it writes the checkout's var/static, which both halves of
# CI share, and the admin's pages render without it (static files are not hashed in names).
SETUP_STEPS = [
    ["backup", "--if-migrations-pending"],
    ["migrate", "--no-input", "-v0", "--skip-checks"],
    ["seed_demo", "--skip-checks"],
]


SUCCEEDED_RUNS = "SELECT count(*) FROM workflows_run WHERE status = 'succeeded'"


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


class Output:
    """A child's combined output, read on a thread so the pipe never fills."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout_s: float = 120) -> re.Match:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if match := re.search(pattern, self.text()):
                return match
            time.sleep(0.2)
        raise AssertionError(f"no {pattern!r} in the output:\n{self.text()[-3000:]}")


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout + done.stderr


def rows(path: str, sql: str) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        return db.execute(sql).fetchone()[0]


def log_in(base: str, username: str, password: str) -> str:
    """Log in through the admin's own form (CSRF cookie and token); answer the page reached."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    form = opener.open(f"{base}/admin/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    body = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": username, "password": password,
         "next": "/admin/"}
    ).encode()  # fmt: skip
    request = urllib.request.Request(  # noqa: S310 - http to loopback
        f"{base}/admin/login/", data=body, headers={"Referer": f"{base}/admin/login/"}
    )
    with opener.open(request, timeout=10) as answer:
        return answer.geturl() + "\n" + answer.read().decode()


def test_make_run_on_a_fresh_clone_serves_demo_data_and_finished_runs(fresh_clone_env):
    env, port = fresh_clone_env, free_port()
    for step in SETUP_STEPS:
        manage(env, *step)
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", str(port), "--events-every", "0.5",
         "--no-drill"],
        cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output = Output(demo)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health/live", process=demo)
        login = output.wait_for(r"login\s+(\S+) / (\S+)")
        assert f"admin      {base}/admin/" in output.text()
        page = log_in(base, login.group(1), login.group(2))
        url, html = page.split("\n", 1)
        assert url == f"{base}/admin/", url  # not back on the login form
        assert 'action="/admin/logout/"' in html and "<title>Operations |" in html

        database = env["SQLITE_PATH"]
        for table in ("workflows_workflow", "flags_flag", "extensions_extension",
                      "config_configdocument"):  # fmt: skip
            assert rows(database, f"SELECT count(*) FROM {table}") > 0, f"no demo {table}"  # noqa: S608
        seeded_events = rows(database, "SELECT count(*) FROM events_event")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            streamed = rows(database, "SELECT count(*) FROM events_event") - seeded_events
            succeeded = rows(
                database, "SELECT count(*) FROM workflows_run WHERE status = 'succeeded'"
            )
            if streamed >= 3 and succeeded >= 1:
                break
            time.sleep(0.5)
        assert streamed >= 3, f"the demo stream stored {streamed} events:\n{output.text()[-3000:]}"
        assert succeeded >= 1, f"no demo run succeeded:\n{output.text()[-3000:]}"
    finally:
        demo.send_signal(signal.SIGINT)  # Ctrl-C, as the banner says
        demo.wait(timeout=60)
        output.thread.join(timeout=10)
    assert demo.returncode == 0, output.text()[-3000:]
    assert "stopped web and workers" in output.text()
    assert "Traceback" not in output.text(), output.text()[-3000:]
