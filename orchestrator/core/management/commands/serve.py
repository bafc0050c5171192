"""`manage.py serve`: web, workers and workflow runners in the foreground until Ctrl-C or
SIGTERM."""

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from orchestrator.core.supervisor import StartupError, Supervisor


class Command(BaseCommand):
    help = (
        "Start web (ASGI), workers (qcluster) and WORKFLOW_RUNNERS workflow runners; stop them "
        "all on Ctrl-C or SIGTERM."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--web-workers", type=int, default=settings.WEB_CONCURRENCY)
        parser.add_argument("--runners", type=int, default=settings.WORKFLOW_RUNNERS)
        parser.add_argument("--show-demo-login", action="store_true")

    def handle(self, *args, **options):
        if options["runners"] < 0:
            raise CommandError("--runners must be 0 or more")
        self.follow_schedule_settings()
        supervisor = self.make_supervisor(options)
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        signal.signal(signal.SIGINT, supervisor.request_stop)
        try:
            supervisor.start()
            supervisor.wait_until_ready()
        except StartupError as exc:
            supervisor.stop()
            raise CommandError(str(exc)) from None
        self.print_banner(supervisor, options["show_demo_login"])
        status = supervisor.watch()
        supervisor.stop()
        if status:
            raise CommandError("a child process died; see the log above", returncode=status)
        self.stdout.write("stopped web and workers")

    def follow_schedule_settings(self) -> None:
        """Schedules follow their settings at start-up, not only when migrate made them."""
        from orchestrator.core.schedules import follow_settings

        try:
            follow_settings()
        except DatabaseError as exc:
            self.stderr.write(f"schedules not updated ({exc}); run manage.py migrate")

    def make_supervisor(self, options) -> Supervisor:
        """The children to run; `manage.py demo` adds its own."""
        return Supervisor(
            options["host"], options["port"], options["web_workers"], options["runners"]
        )

    def banner_extra(self, supervisor: Supervisor) -> list[str]:
        return []

    def print_banner(self, supervisor: Supervisor, show_demo_login: bool) -> None:
        base = f"http://{supervisor.url_host}:{supervisor.port}"
        lines = [
            "",
            f"Contexten is running (web, workers, {supervisor.runners} workflow runners). "
            "Ctrl-C stops them all.",
            f"  admin      {base}/admin/",
            f"  dashboard  {base}/dashboard/",
            f"  API        {base}/api/   (Swagger UI: {base}/api/docs/)",
            f"  health     {base}/health/",
            *self.banner_extra(supervisor),
        ]
        if show_demo_login:
            lines.append(
                f"  login      {settings.DEMO_ADMIN_USERNAME} / {settings.DEMO_ADMIN_PASSWORD}"
            )
        self.stdout.write(self.style.SUCCESS("\n".join(lines)) + "\n")
