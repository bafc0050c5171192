"""`manage.py demo` (what `make run` starts): `serve`, plus the platform sandboxes and a gentle
stream of signed demo webhooks, with the demo workflows pointed at the sandboxes.

Only this command does that; `manage.py serve` (and `make serve`, production) never starts a
sandbox or changes where the platform clients point.
"""

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
        options["show_demo_login"] = True
        return super().handle(*args, **options)

    def make_supervisor(self, options) -> Supervisor:
        from integrations.sandbox import demo_environment

        supervisor = super().make_supervisor(options)
        self.sandbox_port = free_port("127.0.0.1")
        supervisor.env = {
            **os.environ,
            **demo_environment(self.sandbox_port, dict(os.environ)),
            **{k: v for k, v in CALM.items() if k not in os.environ},
        }
        base = f"http://{supervisor.url_host}:{supervisor.port}"
        python = sys.executable
        supervisor.extra = {
            "sandbox": [python, "-m", "integrations.sandbox", "--port", str(self.sandbox_port),
                        "--quiet", "--drill", "" if options["no_drill"] else "demo"],
            "demo events": [python, "-m", "integrations.demo_stream", "--url", base,
                            "--interval", str(options["events_every"])],
        }  # fmt: skip
        self.add_extension_sandboxes(supervisor)
        return supervisor

    def add_extension_sandboxes(self, supervisor: Supervisor) -> None:
        """Serve each discovered extension's own sandbox (its manifest's `sandbox`) and point
        `<NAME>_BASE_URL` at it, unless the operator set that variable."""
        from extensions.discovery import discovered
        from extensions.sandbox_host import dotted_path

        for name, manifest in sorted(discovered().items()):
            variable = f"{name.upper()}_BASE_URL"
            if manifest.sandbox is None or variable in os.environ:
                continue
            port = free_port("127.0.0.1")
            supervisor.env[variable] = f"http://127.0.0.1:{port}"
            supervisor.extra[f"{name} sandbox"] = [
                sys.executable, "-m", "extensions.sandbox_host", dotted_path(manifest.sandbox),
                "--port", str(port),
            ]  # fmt: skip

    def banner_extra(self, supervisor: Supervisor) -> list[str]:
        return [
            f"  sandbox    http://127.0.0.1:{self.sandbox_port}  (the platforms' APIs on loopback)",
            "  demo       a signed webhook every few seconds; runs and the dashboard move",
            "  drill      now and then a sandbox platform goes down for a while (--no-drill)",
        ]
