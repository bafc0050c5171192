"""`manage.py migration_phase show|advance|rollback [PHASE]`: the four-phase rollout."""

import getpass
import json
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from orchestrator.flags import services
from orchestrator.flags.schema import FlagDocumentError
from orchestrator.operations import phases


class Command(BaseCommand):
    requires_system_checks = []  # quiet in probes and scripts; `manage.py check` reports
    help = "Show the migration phase, or advance / roll back one (a backup is taken first)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["show", "advance", "rollback"])
        parser.add_argument("phase", nargs="?", help="target phase (default: next / previous)")
        parser.add_argument("--reason", default="", help="why: recorded in the history")
        parser.add_argument(
            "--ramp",
            default=",".join(f"{p:g}" for p in phases.DEFAULT_RAMP),
            help="rollout percentages of the new phase's flags (default 10,50,100)",
        )
        parser.add_argument(
            "--step-minutes",
            type=float,
            default=phases.DEFAULT_STEP.total_seconds() / 60,
            help="minutes between ramp steps, while health holds (default 10)",
        )
        parser.add_argument("--dry-run", action="store_true", help="check and show, change nothing")
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")

    def handle(self, *args, **options):
        try:
            target = phases.parse_phase(options["phase"]) if options["phase"] else None
            if options["action"] == "show":
                return self.show(options)
            outcome = self.change(options, target)
        except (phases.PhaseProblem, FlagDocumentError, services.FlagNotFound) as exc:
            raise CommandError(str(exc)) from None
        self.report(outcome, options)

    def change(self, options, target: int | None) -> phases.Change:
        actor = services.Actor(f"cli:{getpass.getuser()}")
        common = {"actor": actor, "reason": options["reason"], "dry_run": options["dry_run"]}
        if options["action"] == "rollback":
            return phases.rollback(target, **common)
        step = timedelta(minutes=options["step_minutes"])
        return phases.advance(target, ramp=parse_ramp(options["ramp"]), step=step, **common)

    def show(self, options) -> None:
        summary = phases.summary()
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        self.stdout.write(f"phase {summary['phase']} ({summary['name']}): {summary['description']}")
        for view in summary["phases"]:
            mark = "*" if view["active"] else " "
            flags = ", ".join(describe_flag(f) for f in view["flags"])
            self.stdout.write(f" {mark} {view['number']} {view['name']}: {flags}")
        for change in summary["history"]:
            self.stdout.write(
                f"   {change['at']} {change['kind']} {change['from']} -> {change['to']}"
                f" by {change['actor']}: {change['reason']}"
            )

    def report(self, change: phases.Change, options) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(change.as_dict()))
            return
        verb = "would" if change.dry_run else "did"
        self.stdout.write(f"{verb} {change.kind}: phase {change.from_phase} -> {change.to_phase}")
        for gate in change.gates:
            self.stdout.write(f"  gate {gate.name}: {'ok' if gate.ok else 'FAIL'} ({gate.detail})")
        for key, what in change.flags.items():
            self.stdout.write(f"  flag {key}: {what}")
        if change.backup:
            self.stdout.write(f"  backup: {change.backup}")


def parse_ramp(text: str) -> tuple[float, ...]:
    try:
        ramp = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise CommandError(f"--ramp {text!r}: use percentages like 10,50,100") from None
    if not ramp or ramp[-1] != 100 or list(ramp) != sorted(ramp) or ramp[0] <= 0:
        raise CommandError(f"--ramp {text!r}: rising percentages above 0, ending at 100")
    return ramp


def describe_flag(view: dict) -> str:
    if not view["exists"]:
        return f"{view['key']} (not created yet)"
    state = f"{view['percentage']:g}%" if view["enabled"] else "off"
    return f"{view['key']} {state}"
