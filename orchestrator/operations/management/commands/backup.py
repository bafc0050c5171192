"""`manage.py backup [PATH]`: a full, versioned, checksummed snapshot of the operator's state."""

import json
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from tqdm import tqdm

from orchestrator.operations import backup


class Command(BaseCommand):
    requires_system_checks = []  # quiet in probes and scripts; `manage.py check` reports
    help = "Write a backup of workflows, flags, users, tokens and every registered section."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", help="file to write (.json or .json.gz)")
        parser.add_argument(
            "--include-secrets",
            action="store_true",
            help="keep password hashes and API tokens (masked otherwise)",
        )
        parser.add_argument(
            "--if-migrations-pending",
            action="store_true",
            help="only when `migrate` has work to do (make run/serve); silent otherwise",
        )
        parser.add_argument("--dry-run", action="store_true", help="count rows, write nothing")
        parser.add_argument("--json", action="store_true", help="print the outcome as JSON")

    def handle(self, *args, **options):
        if options["if_migrations_pending"]:
            return self.before_migrate(options)
        if options["dry_run"]:
            return self.report({"dry_run": True, "rows": backup.existing_rows()}, options)
        path = Path(options["path"] or backup.backup_dir() / default_name())
        document = self.take(options["include_secrets"])
        try:
            backup.write(document, path)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
        outcome = {"dry_run": False, "path": str(path), "rows": backup.row_counts(document)}
        outcome["include_secrets"] = options["include_secrets"]
        outcome["checksum"] = document["checksum"]
        self.report(outcome, options)

    def take(self, include_secrets: bool) -> dict:
        total = sum(backup.existing_rows().values())
        with tqdm(total=total, unit="rows", desc="backup", disable=None, leave=False) as bar:
            return backup.take(include_secrets=include_secrets, progress=bar.update)

    def before_migrate(self, options) -> None:
        """Back up only an installed database that `migrate` is about to change."""
        if not pending_migrations():
            return
        path = backup.auto_backup("before migrate")
        self.stdout.write(f"backup before migrate: {path}")

    def report(self, outcome: dict, options) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(outcome))
            return
        rows = ", ".join(f"{label} {count}" for label, count in outcome["rows"].items())
        if outcome["dry_run"]:
            self.stdout.write(f"would back up: {rows}")
            return
        secrets = "secrets included" if outcome["include_secrets"] else "secrets masked"
        self.stdout.write(f"wrote {outcome['path']} ({rows}; {secrets})")


def default_name() -> str:
    return f"backup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"


def pending_migrations() -> bool:
    """True when the database has applied migrations and `migrate` would apply more.
    A fresh database (nothing applied yet) has nothing to lose, so it needs no backup."""
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        executor = MigrationExecutor(connection)
        if not executor.loader.applied_migrations:
            return False
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except DatabaseError:
        return False
