"""Run web (uvicorn, ASGI), workers (django-q2 qcluster) and the workflow runners together.

A small supervisor rather than honcho: it must refuse a busy port with one line, wait for the
web process to answer before announcing the URLs, and exit non-zero when web or workers die,
which is what operators and CI need and what a Procfile runner does not do. A runner that dies
is started again (its steps are taken over through their heartbeats), unless it keeps dying at
start-up. Every child dies with the supervisor, even after kill -9 (`lifeline`), so a restart
finds the port free.

Web, workers and runners are forked from the supervisor with Django already imported
(`prefork`); web processes share one listening socket the supervisor binds. The commands
below (`web_command` and the others) run the same roles alone, on another host.
"""

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.core import lifeline, prefork

BASE_DIR = Path(__file__).resolve().parent.parent.parent
STARTUP_TIMEOUT_S = 120  # web, workers and runners start together; slow on a busy 2-core host
STOP_GRACE_S = 10
RUNNER_PREFIX = "runner-"
EARLY_DEATH_S = 5  # a runner dying this soon after its start counts towards giving up
EARLY_DEATHS_ALLOWED = 3
LISTEN_BACKLOG = 2048  # uvicorn's own default


class StartupError(Exception):
    """The supervisor cannot start: the message is the whole explanation."""


def listen(host: str, port: int) -> socket.socket:
    """The web processes' listening socket, or a one-line reason it cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use; stop the other server or set PORT"
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def web_command(host: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "contexten_site.asgi:application",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--lifespan", "off", "--no-access-log", "--timeout-graceful-shutdown", "5",
    ]  # fmt: skip


def worker_command() -> list[str]:
    # `serve` already ran the system checks; the child would only print them again.
    return [sys.executable, str(BASE_DIR / "manage.py"), "qcluster", "--skip-checks"]


def runner_command() -> list[str]:
    return [sys.executable, str(BASE_DIR / "manage.py"), "runworkflows", "--skip-checks"]


def serve_web(sock: socket.socket) -> int:
    """A forked web process: uvicorn on the supervisor's socket, like `web_command`."""
    import uvicorn

    config = uvicorn.Config(
        "contexten_site.asgi:application", lifespan="off", access_log=False,
        timeout_graceful_shutdown=5,
    )  # fmt: skip
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0 if server.started else 3  # uvicorn's own status for a failed start-up


def run_workers() -> None:
    from django.core.management import call_command

    call_command("qcluster", skip_checks=True)


def run_runner() -> None:
    from django.core.management import call_command

    call_command("runworkflows", skip_checks=True)


@dataclass
class Supervisor:
    host: str
    port: int
    web_workers: int = 1
    runners: int = 1
    children: dict[str, subprocess.Popen | prefork.ForkedChild] = field(default_factory=dict)
    started_at: dict[str, float] = field(default_factory=dict)
    early_deaths: int = 0
    stopping: bool = False
    # Extra supervised children (name -> argv, started before web): `make run` adds its
    # sandboxes this way. Every child has the supervisor's environment (it is forked).
    extra: dict[str, list[str]] = field(default_factory=dict)

    def start(self) -> None:
        sock = listen(self.host, self.port)
        try:
            for name, command in self.extra.items():
                self.spawn(name, command)
            prefork.preload()
            for index in range(self.web_workers):
                name = "web" if self.web_workers == 1 else f"web-{index}"
                self.fork(name, f"web :{self.port}", lambda: serve_web(sock))
            self.fork("workers", "workers", run_workers)
            for index in range(self.runners):
                self.start_runner(index)
        finally:
            sock.close()  # the web processes hold it; a dead one is not replaced

    def start_runner(self, index: int) -> None:
        self.fork(f"{RUNNER_PREFIX}{index}", f"runner {index}", run_runner)

    def fork(self, name: str, title: str, target) -> None:
        self.children[name] = prefork.fork(f"contexten {title}", target)
        self.started_at[name] = time.monotonic()

    def spawn(self, name: str, command: list[str]) -> None:
        """An executed child (the demo's sandboxes): a program of its own, not Django's."""
        # A new session per child so a signal reaches the child's own workers too; the
        # lifeline ties the child (and, through the environment, its descendants) to us.
        env = {**os.environ, lifeline.ENV: "1"}
        self.children[name] = subprocess.Popen(  # noqa: S603 - our own fixed argv
            command,
            cwd=BASE_DIR,
            env=env,
            start_new_session=True,
            preexec_fn=lifeline.preexec_for(os.getpid()),  # the supervisor has one thread
        )
        self.started_at[name] = time.monotonic()

    def wait_until_ready(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Block until /health/live answers; fail if a child dies first."""
        deadline = time.monotonic() + timeout_s
        url = f"http://{self.url_host}:{self.port}/health/live"
        while time.monotonic() < deadline:
            self.raise_if_child_died()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise StartupError(f"web did not answer {url} within {timeout_s:.0f}s")

    @property
    def url_host(self) -> str:
        return "127.0.0.1" if self.host in {"0.0.0.0", ""} else self.host  # noqa: S104

    def raise_if_child_died(self) -> None:
        for name, child in self.children.items():
            code = child.poll()
            if code is not None:
                raise StartupError(f"{name} exited with status {code}")

    def restart_dead_runners(self) -> None:
        """Start a dead runner again; give up (StartupError) if runners keep dying at once."""
        for name, child in list(self.children.items()):
            if not name.startswith(RUNNER_PREFIX) or child.poll() is None:
                continue
            lived = time.monotonic() - self.started_at[name]
            self.early_deaths = self.early_deaths + 1 if lived < EARLY_DEATH_S else 0
            if self.early_deaths > EARLY_DEATHS_ALLOWED:
                raise StartupError(f"{name} keeps exiting (status {child.returncode})")
            print(
                f"warning: {name} exited with status {child.returncode}; starting it again",
                file=sys.stderr,
                flush=True,
            )
            self.start_runner(int(name.removeprefix(RUNNER_PREFIX)))

    def watch(self) -> int:
        """Wait for a signal or a child's death; return the exit status."""
        while not self.stopping:
            try:
                self.restart_dead_runners()
                self.raise_if_child_died()
            except StartupError as exc:
                print(f"error: {exc}; stopping", file=sys.stderr, flush=True)
                self.stop()
                return 1
            time.sleep(0.5)
        return 0

    def request_stop(self, signum, frame) -> None:
        self.stopping = True

    def stop(self) -> None:
        """SIGTERM every child, then SIGKILL the process group of any that outlives the grace."""
        self.stopping = True
        # SIGTERM the leaders only: uvicorn and qcluster each stop their own children in
        # order, and signalling the whole group makes django-q2's shutdown stall.
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_GRACE_S
        for child in self.children.values():
            remaining = max(0.1, deadline - time.monotonic())
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=remaining)
            # Whatever is left in the group (a hung leader, or the orphans of one that was
            # killed) goes too, so nothing outlives the supervisor.
            kill_group(child)
            child.wait()


def kill_group(child: subprocess.Popen | prefork.ForkedChild) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
