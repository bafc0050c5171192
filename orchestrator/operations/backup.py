"""Full, versioned snapshots of what operators made (sections.py) and their restore.

A backup is one JSON document: a format name and version, when it was taken, the applied
migrations, each section's rows, and a SHA-256 checksum over all of it. `restore` reads and
checks the whole file before it touches the database (truncated, damaged, newer format or
unknown sections are refused), then replaces every section in one transaction: it either
all lands or nothing changes.
"""

import gzip
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils.module_loading import import_string

from orchestrator.operations.sections import BackupProblem, sections

logger = logging.getLogger("contexten.operations.backup")

FORMAT = "contexten-backup"
FORMAT_VERSION = 1
AUTO_PREFIX = "auto-"

Progress = Callable[[int], None]


def no_progress(_: int) -> None:
    return None


def take(*, include_secrets: bool = False, progress: Progress = no_progress) -> dict[str, Any]:
    """Dump every section, from one consistent snapshot, into a checksummed document."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            # Every section's rows from the same instant, while writers carry on.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return _take(include_secrets, progress)


def _take(include_secrets: bool, progress: Progress) -> dict[str, Any]:
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "include_secrets": include_secrets,
        "database": connection.vendor,
        "migrations": applied_migrations(),
        "sections": {},
    }
    for label, section in sections().items():
        document["sections"][label] = section.dump(include_secrets=include_secrets)
        progress(sum(len(rows) for rows in document["sections"][label].values()))
    document["checksum"] = checksum(document)
    return document


def applied_migrations() -> dict[str, list[str]]:
    """The schema the rows were read under, per app (for the operator, and for later formats)."""
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return {}
    applied: dict[str, list[str]] = {}
    for app, name in sorted(recorder.applied_migrations()):
        applied.setdefault(app, []).append(name)
    return applied


def checksum(document: dict) -> str:
    body = {key: value for key, value in document.items() if key != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def row_counts(document: dict) -> dict[str, int]:
    return {
        label: sum(len(rows) for rows in data.values())
        for label, data in document["sections"].items()
    }


def write(document: dict, path: Path) -> Path:
    """Write atomically (a crash leaves the old file or none); 0600, as it may hold secrets."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    data = gzip.compress(text) if path.suffix == ".gz" else text
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
    return path


def read(path: Path) -> dict:
    """Load and verify a backup file; BackupProblem (one line) when it cannot be restored."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BackupProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        document = json.loads(text)
    except (OSError, EOFError, ValueError) as exc:
        raise BackupProblem(f"{path} is truncated or damaged: not valid JSON ({exc})") from None
    verify(document, str(path))
    return document


def verify(document: Any, name: str = "the backup") -> None:
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BackupProblem(f"{name} is not a Contexten backup (no format {FORMAT!r})")
    version = document.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise BackupProblem(f"{name} has no valid format_version")
    if version > FORMAT_VERSION:
        raise BackupProblem(
            f"{name} has format version {version}, newer than this Contexten reads "
            f"({FORMAT_VERSION}); upgrade Contexten before restoring it"
        )
    if document.get("checksum") != checksum(document):
        raise BackupProblem(f"{name} fails its checksum: it was changed or damaged")
    check_sections(document.get("sections"), name)


def check_sections(data: Any, name: str) -> None:
    if not isinstance(data, dict):
        raise BackupProblem(f"{name} has no sections")
    unknown = set(data) - set(sections())
    if unknown:
        raise BackupProblem(
            f"{name} holds sections this Contexten does not know: {', '.join(sorted(unknown))}"
        )
    for label, section_data in data.items():
        try:
            sections()[label].check(section_data)
        except BackupProblem as exc:
            raise BackupProblem(f"{name}: section {label}: {exc}") from None


def existing_rows(*, seeded: bool = True) -> dict[str, int]:
    """Rows each section holds now (a restore replaces them); `seeded=False` leaves out the
    sections `migrate` fills by itself."""
    return {
        label: section.count()
        for label, section in sections().items()
        if seeded or not section.seeded
    }


def restore(document: dict, *, progress: Progress = no_progress) -> dict[str, int]:
    """Replace every section with the document's rows, in one transaction; answer counts."""
    verify(document)
    data = document["sections"]
    loaded = {}
    with transaction.atomic():
        for section in reversed(list(sections().values())):
            section.clear()
        for label, section in sections().items():
            loaded[label] = section.load(data.get(label, {}), progress)
        connection.check_constraints()
        hooks = [s.after_load for s in sections().values() if s.after_load]
        for hook in hooks:
            import_string(hook)()
    logger.info("operations.restored", extra={"rows": loaded})
    return loaded


def backup_dir() -> Path:
    return Path(settings.BACKUP_DIR)


def auto_backup(reason: str) -> Path:
    """Take a full backup (secrets included: it exists to undo a risky step) before `reason`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    slug = re.sub(r"[^a-z0-9]+", "-", reason.lower()).strip("-")[:60] or "backup"
    path = write(take(include_secrets=True), backup_dir() / f"{AUTO_PREFIX}{stamp}-{slug}.json")
    prune_auto_backups()
    logger.info("operations.auto-backup", extra={"path": str(path), "reason": reason})
    return path


def prune_auto_backups() -> list[Path]:
    """Keep the newest BACKUP_KEEP automatic backups; the operator's own files are never
    touched."""
    autos = sorted(backup_dir().glob(f"{AUTO_PREFIX}*.json"), reverse=True)
    removed = autos[settings.BACKUP_KEEP :]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
