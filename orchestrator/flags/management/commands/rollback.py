"""`manage.py rollback FLAG [--version N]`: restore an earlier version as a new version.

`manage.py rollback config NAMESPACE --version N` does the same for configuration.
"""

from extensions.config import cli as config_cli
from orchestrator.flags import services
from orchestrator.flags.management.commands._flagcommand import FlagCommand


class Command(FlagCommand):
    help = (
        "Restore a feature flag to its previous version, or to --version N; "
        "`rollback config NAMESPACE --version N` restores configuration."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--version", dest="to_version", type=int, help="the version to restore")

    def handle(self, *args, **options):
        key, version = options["flag"], options["to_version"]
        if namespace := self.config_namespace(options):
            reason, dry_run = options["reason"], options["dry_run"]
            result = config_cli.rollback(namespace, version, reason=reason, dry_run=dry_run)
            config_cli.write(self, result, as_json=options["json"])
            return

        def step() -> dict:
            flag, row = services.preview_rollback(key, version)
            diff = services.diff(flag.document(), row.snapshot)
            if options["dry_run"]:
                return {"flag": key, "dry_run": True, "version": flag.version, "diff": diff}
            reason = (
                options["reason"] or f"roll back to version {row.version} from the command line"
            )
            flag = services.rollback(key, row.version, actor=self.actor(), reason=reason)
            return {"flag": key, "dry_run": False, "version": flag.version, "diff": diff}

        self.report(self.run(step, options), options)
