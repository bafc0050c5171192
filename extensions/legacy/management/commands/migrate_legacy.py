"""`manage.py migrate_legacy --env FILE --handlers MODULE…`: bring an old CodegenApp over.

Reads the old .env and maps it to Contexten's settings (written to a .env file, `--write-env`),
asks for the webhook secrets the old app never needed (or takes them as flags), imports the
handler modules and registers every decorated handler. Everything is checked first: a module
that fails to import, or a handler key no platform sends, changes nothing.
"""

import getpass
import importlib
import json
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from extensions.legacy import envmap, keys, registry
from extensions.legacy.app import CodegenApp, HandlerRef


class Command(BaseCommand):
    requires_system_checks = []  # the secrets it writes are what the checks would miss
    help = "Import a legacy CodegenApp: map its .env, register its handler modules."

    def add_arguments(self, parser):
        parser.add_argument("--env", required=True, help="the old app's .env file")
        parser.add_argument(
            "--handlers",
            nargs="+",
            required=True,
            metavar="MODULE",
            help="dotted module names that define the handlers",
        )
        parser.add_argument(
            "--write-env",
            default=str(Path(settings.BASE_DIR) / ".env"),
            help="the .env file to write the settings to (default: ./.env)",
        )
        for setting, flag in envmap.WEBHOOK_SECRETS.values():
            parser.add_argument(flag, dest=setting.lower(), help=f"value for {setting}")
        parser.add_argument(
            "--allow-unknown-keys",
            action="store_true",
            help="register keys no platform is known to send (typos warn)",
        )
        parser.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **options):
        try:
            env_plan = envmap.plan(envmap.read_env_file(Path(options["env"])))
        except envmap.EnvProblem as exc:
            raise CommandError(str(exc)) from None
        apps = [self.load(name) for name in options["handlers"]]
        refs = [ref for app in apps for ref in app.handlers()]
        warnings = self.check_keys(refs, options["allow_unknown_keys"])
        providers = {ref.provider for ref in refs}
        self.collect_secrets(env_plan, providers, options)
        report = self.plan_report(env_plan, refs, warnings, options)
        if not options["dry_run"]:
            self.apply(apps, env_plan, Path(options["write_env"]), report)
        self.print_report(report, options)

    def load(self, name: str) -> CodegenApp:
        """Import a module and find its app; any failure is one line and changes nothing."""
        try:
            module = importlib.import_module(name)
        except (Exception, SystemExit) as exc:  # a module may even sys.exit at import
            raise CommandError(
                f"cannot import handler module {name}: {type(exc).__name__}: {exc}; "
                "nothing was registered"
            ) from None
        found = [value for value in vars(module).values() if isinstance(value, CodegenApp)]
        if not found:
            raise CommandError(
                f"handler module {name} defines no CodegenApp; nothing was registered"
            )
        return found[0]

    def check_keys(self, refs: list[HandlerRef], allow: bool) -> list[str]:
        problems = list(
            dict.fromkeys(
                problem for ref in refs if (problem := keys.key_problem(ref.provider, ref.key))
            )
        )
        if problems and not allow:
            raise CommandError(
                f"{problems[0]}; nothing was registered (--allow-unknown-keys registers it anyway)"
            )
        return problems

    def collect_secrets(self, env_plan: envmap.EnvPlan, providers: set[str], options) -> None:
        for setting, flag in envmap.needed_secrets(env_plan, providers):
            value = options.get(setting.lower())
            if not value and options["dry_run"]:
                continue
            if not value and not sys.stdin.isatty():
                raise CommandError(
                    f"{setting} is needed to verify the webhooks the old app accepted unsigned; "
                    f"pass {flag} (no terminal to ask on); nothing was changed"
                )
            value = value or getpass.getpass(
                f"{setting} (the webhook secret set on the platform): "
            )
            if not value:
                raise CommandError(f"{setting} cannot be empty; nothing was changed")
            env_plan.secrets[setting] = value
        env_plan.missing = [
            setting
            for setting, _ in envmap.needed_secrets(env_plan, providers)
            if setting not in env_plan.secrets
        ]

    def plan_report(self, env_plan, refs, warnings, options) -> dict:
        return {
            "dry_run": options["dry_run"],
            "env_file": options["write_env"],
            "mapped": {
                new: {"from": old, "value": envmap.masked(value)}
                for new, (old, value) in env_plan.mapped.items()
            },
            "secrets": sorted(env_plan.secrets),
            "missing": env_plan.missing,
            "warnings": warnings,
            "handlers": [
                {
                    "provider": ref.provider,
                    "key": ref.key,
                    "handler": ref.path,
                    "workflow": keys.workflow_name(ref.provider, ref.key),
                }
                for ref in refs
            ],
        }

    def apply(self, apps, env_plan, env_file: Path, report: dict) -> None:
        """Register and write the settings in one go: a failed write undoes the registration."""
        with transaction.atomic():
            outcomes = [registry.register(app.handlers(), app_name=app.name) for app in apps]
            try:
                envmap.write_env(env_file, env_plan.values())
            except OSError as exc:
                raise CommandError(f"cannot write {env_file}: {exc}; nothing was changed") from None
        new = {(ref.path, ref.key) for outcome in outcomes for ref in outcome.created}
        for row in report["handlers"]:
            fresh = (row["handler"], row["key"]) in new
            row["status"] = "registered" if fresh else "already registered"
        report["workflows"] = {k: v for outcome in outcomes for k, v in outcome.workflows.items()}

    def print_report(self, report: dict, options) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        write = self.stdout.write
        write(("plan (dry run, nothing changed)" if report["dry_run"] else "migrated") + ":")
        for new, item in report["mapped"].items():
            write(f"  mapped {item['from']} -> {new} ({item['value']})")
        for setting in report["secrets"]:
            write(f"  set {setting} (given)")
        for setting in report["missing"]:
            write(f"  missing {setting}: webhooks for it answer 503 until it is set")
        for warning in report["warnings"]:
            write(f"  warning: {warning}")
        for row in report["handlers"]:
            status = row.get("status", "would register")
            write(
                f"  {status} {row['provider']} {row['key']!r} -> {row['handler']} "
                f"(workflow {row['workflow']})"
            )
        if not report["dry_run"]:
            write(f"settings written to {report['env_file']}; restart web and workers to use them")
