"""Children forked from the supervisor with Django already loaded, as gunicorn's `--preload`.

Started as new interpreters, web, workers and each runner imported Django, the URLconf, DRF,
Channels and the extensions again: about 3.5 s of CPU each, so `make serve` took 8 s and
12 s of CPU before it answered, and more on a loaded machine (docs/performance.md, "Start-up").
The supervisor imports all of that once and forks each child from it. A fork copies the
imported modules (copy-on-write), so a child is ready in a fraction of a second.

What a fork must not carry over, and how it is dropped:
- database connections and pools: closed here before each fork, and `forksafe` forgets any
  the child still sees;
- threads: the supervisor starts none (the metrics flush thread starts in each child, when
  it imports its entry point);
- signal handlers: the supervisor's are reset, so each child's own (uvicorn's, django-q2's,
  the runner's) are the only ones;
- the session and the death signal: each child leads its own session and dies with the
  supervisor (`lifeline`), as before.

`ForkedChild` answers the part of `subprocess.Popen`'s interface the supervisor uses, so a
forked child and an executed one (the demo's sandboxes) are supervised the same way.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable

from orchestrator.core import lifeline


class ForkedChild:
    """A forked child's handle: pid, poll, wait, terminate, kill, as Popen's."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: it is gone either way
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def preload() -> None:
    """Import what every child needs, once, in the supervisor."""
    import django_q.cluster  # noqa: F401 - the workers' cluster
    import uvicorn  # noqa: F401
    from django.urls import get_resolver

    import orchestrator.workflows.runner_process  # noqa: F401 - the runners' loop

    get_resolver().url_patterns  # noqa: B018 - imports every view, DRF and the extensions


def fork(title: str, target: Callable[[], int | None]) -> ForkedChild:
    """Run `target` in a forked child titled `title`; its return value is the exit status."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
        if hasattr(connection, "close_pool"):
            connection.close_pool()
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return ForkedChild(pid)
    code = run_child(parent, title, target)
    atexit._run_exitfuncs()  # the child's own (the metrics' last flush), as a normal exit would
    os._exit(code)  # never unwinds into the supervisor's code


def run_child(parent: int, title: str, target: Callable[[], int | None]) -> int:
    """In the child: detach, tie to the parent, run, and answer the exit status."""
    try:
        os.setsid()  # its own group, so a signal reaches the child's own workers too
        lifeline.die_with_parent(parent)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        os.environ[lifeline.ENV] = "1"
        lifeline.install()  # the processes it forks die with it in turn
        set_title(title)
        return target() or 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def set_title(title: str) -> None:
    """`ps` and /proc/<pid>/cmdline show the role ("contexten web :8000") after a fork."""
    import setproctitle

    setproctitle.setproctitle(title)
