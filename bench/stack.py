"""Start `manage.py serve` for a benchmark, and measure the RSS of everything it runs.

Processes are named by what they run: the supervisor (`serve`), `web` (uvicorn and its
workers), `workers` (qcluster: its sentinel, monitor, pusher and worker processes),
`runner` (`runworkflows`) and `runner cluster` (a runner qcluster, a measured alternative).
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(env: dict, *extra: str) -> tuple[subprocess.Popen, str]:
    """`manage.py serve` on a free port; answer it and its base URL once /health/live answers."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), *extra],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health/live", timeout=2):  # noqa: S310
                time.sleep(5)  # let qcluster and the runners finish starting
                return server, url
        except OSError:
            time.sleep(0.3)
    stop_server(server)
    raise SystemExit("error: manage.py serve did not answer within 90 s")


def start_process(env: dict, *argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *argv],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )


class SandboxProcess:
    """The platform sandbox (integrations/sandbox.py) in a process of its own: in the
    benchmark's process it shared a GIL with the load generator, whose work then slowed the
    answers the stack waits on. Only its settings are read (`env()`); a phase that programs
    faults or delays uses the in-process sandbox instead."""

    def __init__(self):
        self.process: subprocess.Popen | None = None
        self.settings: dict[str, str] = {}

    def start(self) -> "SandboxProcess":
        argv = [sys.executable, "-m", "integrations.sandbox"]
        self.process = subprocess.Popen(argv, cwd=BASE_DIR, stdout=subprocess.PIPE, text=True)
        self.settings = json.loads(self.process.stdout.readline())
        return self

    def env(self) -> dict[str, str]:
        return dict(self.settings)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def descendants(roots: list[int]) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
    found, queue = [], list(roots)
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def role(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return "gone"
    text = b" ".join(argv)
    if b"runworkflows" in text or b"contexten runner" in text:
        return "runner"
    if b"qcluster" in text:
        return "runner cluster" if b"Q_CLUSTER_NAME=" in environ else "workers"
    if b"serve" in text:
        return "serve"
    return "web"  # "contexten web" (forked by serve), or uvicorn run alone


def snapshot(roots: list[int]) -> dict[int, tuple[str, int]]:
    """pid -> (role, RSS kB) for the roots and all their descendants."""
    return {pid: (role(pid), rss_kb(pid)) for pid in descendants(roots)}


class RssSampler(threading.Thread):
    """Every 100 ms: the summed RSS; keeps the peak sum and each process's own peak."""

    def __init__(self, roots: list[int]):
        super().__init__(daemon=True)
        self.roots = roots
        self.peak_kb, self.peak_processes = 0, 0
        self.per_process: dict[int, tuple[str, int]] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            now = snapshot(self.roots)
            total = sum(kb for _, kb in now.values())
            if total > self.peak_kb:
                self.peak_kb, self.peak_processes = total, len(now)
            for pid, (name, kb) in now.items():
                if kb > self.per_process.get(pid, ("", 0))[1]:
                    self.per_process[pid] = (name, kb)
            self.done.wait(0.1)

    def stop(self) -> None:
        self.done.set()
        self.join()


def by_role(processes: dict[int, tuple[str, int]]) -> dict[str, tuple[int, float, float]]:
    """role -> (processes, summed MB, largest process MB)."""
    grouped: dict[str, list[int]] = defaultdict(list)
    for name, kb in processes.values():
        if name != "gone" and kb:
            grouped[name].append(kb)
    return {
        name: (len(kbs), sum(kbs) / 1024, max(kbs) / 1024) for name, kbs in sorted(grouped.items())
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_pids() -> list[int]:
    """Every process of the Postgres server on this machine (backends and its own)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{entry}/comm").read_text().strip() == "postgres":
                found.append(int(entry))
    return found


def cpu_by_process(roots: list[int], fakes: list[int]) -> dict[int, tuple[str, float]]:
    """pid -> (role, CPU seconds) for the stack, the fakes and Postgres."""
    found = {pid: (role(pid), cpu_s(pid)) for pid in descendants(roots)}
    found |= {pid: ("fakes", cpu_s(pid)) for pid in fakes}
    return found | {pid: ("postgres", cpu_s(pid)) for pid in postgres_pids()}


def cpu_per_role(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds used between two `cpu_by_process` readings, by role; a process started
    in between counts from zero, one gone in between is left out."""
    used: dict[str, float] = defaultdict(float)
    for pid, (name, seconds) in after.items():
        if name != "gone":
            used[name] += seconds - before.get(pid, (name, 0.0))[1]
    return dict(used)
