"""`manage.py restore PATH`: replace the state with a backup's, in one transaction."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from orchestrator.operations import backup
from orchestrator.operations.sections import BackupProblem

MASKED_NOTE = (
    "secrets were masked in this backup: users have unusable passwords (set them with "
    "`manage.py changepassword USER`) and API tokens were not restored (issue new ones with "
    "`manage.py drf_create_token USER`)"
)


class Command(BaseCommand):
    requires_system_checks = []  # quiet in probes and scripts; `manage.py check` reports
    help = "Restore a backup written by `manage.py backup`; refuses damaged or newer files."

    def add_arguments(self, parser):
        parser.add_argument("path", help="the backup file")
        parser.add_argument(
            "--force", action="store_true", help="replace a non-empty database without asking"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check the file and show what would change"
        )
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")

    def handle(self, *args, **options):
        try:
            document = backup.read(Path(options["path"]))
        except BackupProblem as exc:
            raise CommandError(f"{exc}; nothing was changed") from None
        existing = backup.existing_rows()
        outcome = {"path": options["path"], "replaces": existing, "dry_run": options["dry_run"]}
        outcome["masked"] = not document.get("include_secrets", False)
        if options["dry_run"]:
            outcome["would_restore"] = backup.row_counts(document)
            return self.report(outcome, options)
        if any(backup.existing_rows(seeded=False).values()) and not options["force"]:
            self.confirm(backup.existing_rows(seeded=False))
        outcome["restored"] = self.restore(document)
        self.report(outcome, options)

    def confirm(self, existing: dict[str, int]) -> None:
        held = ", ".join(f"{label}: {count} rows" for label, count in existing.items() if count)
        if not sys.stdin.isatty():
            raise CommandError(f"the database is not empty ({held}); pass --force to replace it")
        answer = input(f"The database holds {held}. Replace all of it with the backup? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            raise CommandError("restore cancelled; nothing was changed")

    def restore(self, document: dict) -> dict[str, int]:
        total = sum(backup.row_counts(document).values())
        with tqdm(total=total, unit="rows", desc="restore", disable=None, leave=False) as bar:
            try:
                return backup.restore(document, progress=bar.update)
            except BackupProblem as exc:
                raise CommandError(f"{exc}; nothing was changed") from None

    def report(self, outcome: dict, options) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(outcome))
            return
        if outcome["dry_run"]:
            rows = ", ".join(f"{k} {v}" for k, v in outcome["would_restore"].items())
            self.stdout.write(f"{outcome['path']} is valid; would restore: {rows}")
        else:
            rows = ", ".join(f"{k} {v}" for k, v in outcome["restored"].items())
            self.stdout.write(f"restored {outcome['path']}: {rows}")
        if outcome["masked"]:
            self.stdout.write(MASKED_NOTE)
