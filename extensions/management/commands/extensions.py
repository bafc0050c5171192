"""`manage.py extensions list|install|enable|disable|upgrade|uninstall` (SPEC §8, §10)."""

import json
from dataclasses import asdict

from django.core.management.base import BaseCommand, CommandError

from extensions import lifecycle
from extensions.api import ManifestError
from extensions.views import describe, described_all


class Command(BaseCommand):
    help = "List, install, enable, disable, upgrade (hot-swap) and uninstall extensions."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        sub.add_parser("list", help="installed extensions and their versions")
        install = sub.add_parser("install", help="install PATH: a wheel, an sdist or a folder")
        install.add_argument("path")
        for verb in ("enable", "disable", "uninstall"):
            sub.add_parser(verb, help=f"{verb} an extension").add_argument("name")
        upgrade = sub.add_parser("upgrade", help="switch to another installed version")
        upgrade.add_argument("name")
        upgrade.add_argument("version")
        for child in sub.choices.values():
            child.add_argument("--json", action="store_true", help="print JSON")
            child.add_argument("--dry-run", action="store_true", help="check only; change nothing")

    def handle(self, *args, verb, **options):
        try:
            answer = self.run(verb, options)
        except (lifecycle.LifecycleError, ManifestError) as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(answer, default=str))
        elif verb == "list":
            for item in answer:
                state = "enabled" if item["enabled"] else "disabled"
                versions = ", ".join(item["installed_versions"])
                self.stdout.write(
                    f"{item['name']:12} {item['active_version']:10} {state:9} {versions}"
                )
        else:
            self.stdout.write(f"{answer['name']} {answer['version']}: {answer['message']}")

    def run(self, verb: str, options: dict):
        actor, dry_run = "manage.py", options["dry_run"]
        if verb == "list":
            lifecycle.sync_discovered()
            return described_all()
        if verb == "install":
            result = lifecycle.install(options["path"], actor=actor, dry_run=dry_run)
        elif verb in ("enable", "disable"):
            result = lifecycle.set_enabled(options["name"], verb == "enable", actor=actor,
                                           dry_run=dry_run)  # fmt: skip
        elif verb == "upgrade":
            result = lifecycle.upgrade(options["name"], options["version"], actor=actor,
                                       dry_run=dry_run)  # fmt: skip
        else:
            result = lifecycle.uninstall(options["name"], actor=actor, dry_run=dry_run)
        return asdict(result)


__all__ = ["Command", "describe"]
