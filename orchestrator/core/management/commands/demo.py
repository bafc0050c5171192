"""`manage.py demo` (what `make run` starts): `serve`, plus the platform sandboxes and a gentle
stream of signed demo webhooks, with the demo workflows pointed at the sandboxes.

Only this command does that; `manage.py serve` (and `make serve`, production) never starts a
sandbox or changes where the platform clients point.
"""

import json
import os
import socket
import sys

from orchestrator.core.management.commands import serve
from orchestrator.core.supervisor import Supervisor

CALM = {"Q_LOG_LEVEL": "WARNING"}  # django-q2's per-task INFO lines drown the product's own


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


DEMO_PLAN = "CONTEXTEN_DEMO_PLAN"  # the ports chosen, for the demo's re-executed self


def restart_in_demo_environment() -> None:
    """Run this command again (exec) with the sandboxes' URLs in its environment.

    Settings are read once per process, and web, workers and runners are forked from this
    one with them (supervisor.py), so the URLs must be in the environment before Django
    reads it: choose the ports first, then start over with them set.
    """
    environ, _ = demo_environment_and_plan(dict(os.environ))
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], environ)  # noqa: S606 - ourselves


def demo_environment_and_plan(current: dict[str, str]) -> tuple[dict[str, str], dict]:
    """The demo's environment (sandbox URLs, tokens, secrets, a calm log) and its ports."""
    from integrations.sandbox import demo_environment

    sandbox_port = free_port("127.0.0.1")
    environ = {**current, **demo_environment(sandbox_port, current)}
    environ.update({k: v for k, v in CALM.items() if k not in current})
    extensions = extension_sandboxes(current)
    for name, (_, port) in extensions.items():
        environ[f"{name.upper()}_BASE_URL"] = f"http://127.0.0.1:{port}"
    plan = {"sandbox": sandbox_port, "extensions": extensions}
    environ[DEMO_PLAN] = json.dumps(plan)
    return environ, plan


def extension_sandboxes(current: dict[str, str]) -> dict[str, tuple[str, int]]:
    """Each discovered extension's own sandbox (its manifest's `sandbox`) on a free port,
    unless the operator set its `<NAME>_BASE_URL`: name -> (factory, port)."""
    from extensions.discovery import discovered
    from extensions.sandbox_host import dotted_path

    return {
        name: (dotted_path(manifest.sandbox), free_port("127.0.0.1"))
        for name, manifest in sorted(discovered().items())
        if manifest.sandbox is not None and f"{name.upper()}_BASE_URL" not in current
    }


class Command(serve.Command):
    help = "Serve with the platform sandboxes and a stream of demo events (make run)."
    # The checks would warn about webhook secrets this command provides to its children.
    requires_system_checks = []

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--events-every", type=float, default=2.5, metavar="SECONDS")
        parser.add_argument(
            "--no-drill", action="store_true", help="no outage drill in the sandbox"
        )

    def handle(self, *args, **options):
        if DEMO_PLAN not in os.environ:
            restart_in_demo_environment()  # an exec: it does not return
        self.plan = json.loads(os.environ[DEMO_PLAN])
        options["show_demo_login"] = True
        return super().handle(*args, **options)

    def make_supervisor(self, options) -> Supervisor:
        supervisor = super().make_supervisor(options)
        base = f"http://{supervisor.url_host}:{supervisor.port}"
        python = sys.executable
        supervisor.extra = {
            "sandbox": [python, "-m", "integrations.sandbox", "--port", str(self.plan["sandbox"]),
                        "--quiet", "--drill", "" if options["no_drill"] else "demo"],
            "demo events": [python, "-m", "integrations.demo_stream", "--url", base,
                            "--interval", str(options["events_every"])],
        }  # fmt: skip
        for name, (factory, port) in sorted(self.plan["extensions"].items()):
            supervisor.extra[f"{name} sandbox"] = [
                python, "-m", "extensions.sandbox_host", factory, "--port", str(port),
            ]  # fmt: skip
        return supervisor

    def banner_extra(self, supervisor: Supervisor) -> list[str]:
        sandbox = f"http://127.0.0.1:{self.plan['sandbox']}"
        return [
            f"  sandbox    {sandbox}  (the platforms' APIs on loopback)",
            "  demo       a signed webhook every few seconds; runs and the dashboard move",
            "  drill      now and then a sandbox platform goes down for a while (--no-drill)",
        ]
