"""`manage.py rollout FLAG --percent N`: ramp a flag's rollout, versioned like any change.

`manage.py rollout config NAMESPACE --set path=value` (or `--file`, `--data`) rolls out a new
configuration version.
"""

from django.core.management.base import CommandError

from extensions.config import cli as config_cli
from orchestrator.flags import services
from orchestrator.flags.management.commands._flagcommand import FlagCommand


class Command(FlagCommand):
    help = (
        "Set a feature flag's rollout percentage (0..100, to 0.001); "
        "`rollout config NAMESPACE --set path=value` rolls out configuration."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--percent", type=float, help="0..100 (flags)")
        parser.add_argument("--file", help="configuration: a JSON file with the whole document")
        parser.add_argument("--data", help="configuration: the whole document as JSON text")
        parser.add_argument("--set", dest="sets", action="append", default=[], metavar="PATH=VALUE")

    def handle(self, *args, **options):
        key, percent = options["flag"], options["percent"]
        if namespace := self.config_namespace(options):
            self.roll_out_config(namespace, options)
            return
        if percent is None:
            raise CommandError("--percent is required to ramp a flag")

        def step() -> dict:
            if options["dry_run"]:
                flag, diff = services.preview_ramp(key, percent)
                return {"flag": key, "dry_run": True, "version": flag.version, "diff": diff}
            reason = options["reason"] or f"ramp to {percent}% from the command line"
            flag = services.ramp(key, percent, actor=self.actor(), reason=reason)
            diff = flag.versions.get(version=flag.version).diff
            return {"flag": key, "dry_run": False, "version": flag.version, "diff": diff}

        self.report(self.run(step, options), options)

    def roll_out_config(self, namespace: str, options) -> None:
        document = config_cli.document_from(
            namespace, file=options["file"], data=options["data"], sets=options["sets"]
        )
        result = config_cli.set_document(
            namespace, document, reason=options["reason"], dry_run=options["dry_run"]
        )
        config_cli.write(self, result, as_json=options["json"])
