"""`manage.py serve` supervises web and workers, refuses a busy port, and stops cleanly."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import BASE_DIR, free_port, start_served, wait_for_http

pytestmark = pytest.mark.django_db(transaction=True)


def child_pids(pid: int) -> set[int]:
    result = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True
    )
    return {int(line) for line in result.stdout.split()}


def cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as file:
        return file.read()


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = open(f"/proc/{pid}/stat").read().split()  # noqa: SIM115 - one read
    return stat[2] != "Z"


def test_serve_answers_health_and_sigterm_stops_web_workers_and_runners(subprocess_env):
    port = free_port()
    process = start_served({**subprocess_env, "WORKFLOW_RUNNERS": "2"}, port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/", 120, process=process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/") as response:
            assert response.status == 200
        children = child_pids(process.pid)
        assert len(children) == 4, "web, workers and two workflow runners"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "stopped web and workers" in output
    assert f"http://127.0.0.1:{port}/admin/" in output
    time.sleep(0.5)
    assert not any(is_alive(pid) for pid in children)


def test_serve_refuses_busy_port_with_one_line(subprocess_env):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=BASE_DIR,
            env=subprocess_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_exits_nonzero_when_a_child_dies(subprocess_env):
    port = free_port()
    process = start_served(subprocess_env, port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/live", process=process)
        web = next(p for p in child_pids(process.pid) if b"contexten web" in cmdline(p))
        os.killpg(web, signal.SIGKILL)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    assert "exited with status" in output


def test_debug_off_still_serves_admin_static_files(subprocess_env):
    env = {**subprocess_env, "DEBUG": "false", "SECRET_KEY": "k" * 50}
    port = free_port()
    process = start_served(env, port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/live", process=process)
        url = f"http://127.0.0.1:{port}/static/admin/css/base.css"
        with urllib.request.urlopen(url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/css")
            assert b"body" in response.read()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_debug_off_with_default_secret_key_refuses_to_serve(subprocess_env):
    env = {**subprocess_env, "DEBUG": "false"}
    env.pop("SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "serve", "--port", str(free_port())],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "contexten.E001" in result.stderr


def descendants(pid: int) -> set[int]:
    found, queue = set(), [pid]
    while queue:
        children = child_pids(queue.pop())
        found |= children
        queue.extend(children)
    return found


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_kill_9_of_serve_takes_every_descendant_with_it_and_frees_the_port(subprocess_env):
    # Two uvicorn workers, so web has grandchildren too (the kernel clears the death signal
    # on fork; each level sets it again).
    env = {**subprocess_env, "WEB_CONCURRENCY": "2", "WORKFLOW_RUNNERS": "1"}
    port = free_port()
    process = start_served(env, port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health/live", 120, process=process)
        time.sleep(2)  # not a timing assertion: let qcluster fork its workers before counting
        family = descendants(process.pid)
        assert len(family) > 4, "supervisor children and their own workers"
        process.kill()
        process.wait(timeout=10)
        deadline = time.monotonic() + 30
        while any(is_alive(pid) for pid in family) and time.monotonic() < deadline:
            time.sleep(0.2)
        survivors = sorted(pid for pid in family if is_alive(pid))
        assert survivors == [], f"still running after serve was killed: {survivors}"
        assert port_is_free(port)
    finally:
        for pid in descendants(process.pid) if process.poll() is None else ():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
