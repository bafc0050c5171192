"""`manage.py rollout FLAG --percent N`: ramp a flag's rollout, versioned like any change."""

from orchestrator.flags import services
from orchestrator.flags.management.commands._flagcommand import FlagCommand


class Command(FlagCommand):
    help = "Set a feature flag's rollout percentage (0..100, to 0.001)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--percent", type=float, required=True, help="0..100")

    def handle(self, *args, **options):
        key, percent = options["flag"], options["percent"]

        def step() -> dict:
            if options["dry_run"]:
                flag, diff = services.preview_ramp(key, percent)
                return {"flag": key, "dry_run": True, "version": flag.version, "diff": diff}
            reason = options["reason"] or f"ramp to {percent}% from the command line"
            flag = services.ramp(key, percent, actor=self.actor(), reason=reason)
            diff = flag.versions.get(version=flag.version).diff
            return {"flag": key, "dry_run": False, "version": flag.version, "diff": diff}

        self.report(self.run(step, options), options)
