"""What `rollout` and `rollback` share: options, the actor, and one-line output.

Both take configuration too (SPEC §10): `rollback config NAMESPACE --version N` and
`rollout config NAMESPACE --set path=value`, through the configuration store's commands.
"""

import getpass
import json

from django.core.management.base import BaseCommand, CommandError

from orchestrator.flags import services
from orchestrator.flags.schema import FlagDocumentError


class FlagCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        # `rollback --version N` must win over Django's own `--version` (print Django's).
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("flag", help="the flag's key, or `config` for configuration")
        parser.add_argument("namespace", nargs="?", help="after `config`: the namespace")
        parser.add_argument("--reason", default="", help="why: recorded in the history")
        parser.add_argument("--dry-run", action="store_true", help="show the change, make none")
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")

    def config_namespace(self, options) -> str | None:
        """The namespace when the command is about configuration, else None (a flag)."""
        if options["flag"] != "config":
            if options["namespace"]:
                raise CommandError(f"unexpected {options['namespace']!r} after the flag's key")
            return None
        if not options["namespace"]:
            raise CommandError("name the namespace: config NAMESPACE (core, or an extension)")
        return options["namespace"]

    def actor(self) -> services.Actor:
        return services.Actor(f"cli:{getpass.getuser()}")

    def run(self, step, options) -> dict:
        """Run `step()`; a refused change becomes a one-line CommandError (exit 1)."""
        try:
            return step()
        except (services.FlagNotFound, FlagDocumentError) as exc:
            raise CommandError(str(exc)) from None

    def report(self, outcome: dict, options) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(outcome, default=str))
            return
        prefix = "would change" if outcome["dry_run"] else "changed"
        changes = ", ".join(
            f"{path} {old} -> {new}" for path, (old, new) in outcome["diff"].items()
        )
        self.stdout.write(f"{prefix} {outcome['flag']}: {changes or 'nothing'}")
        if not outcome["dry_run"]:
            self.stdout.write(f"now version {outcome['version']}")
