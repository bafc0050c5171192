"""What a backup holds: plain data, a section label mapped to the dotted path of a `Section`.

Each section is one family of models (a workflow and its versions, a flag and its history),
dumped as rows of column values and loaded back with their primary keys, so foreign keys
between sections survive a round trip. Later components add their own with `register`.

Rows are read through the columns the table has *now*, so a backup taken just before
`migrate` (when the code's models are ahead of the schema) still works; a column the backup
lacks gets the model's default on restore.
"""

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, models
from django.utils.module_loading import import_string

MASK = "**masked**"

SECTIONS: dict[str, str] = {
    "users": "orchestrator.operations.sections.USERS",
    "workflows": "orchestrator.operations.sections.WORKFLOWS",
    "flags": "orchestrator.operations.sections.FLAGS",
    "migration_phases": "orchestrator.operations.sections.PHASES",
    "extensions": "orchestrator.operations.sections.EXTENSIONS",
    "configuration": "orchestrator.operations.sections.CONFIGURATION",
    "recovery_catalog": "orchestrator.operations.sections.RECOVERY_CATALOG",
}


def register(label: str, dotted_path: str) -> None:
    """Add a section (extensions and later components call this from `ready`)."""
    SECTIONS[label] = dotted_path
    sections.cache_clear()


@cache
def sections() -> dict[str, "Section"]:
    """The registered sections in load order (a dependency's section comes first)."""
    return {label: import_string(path) for label, path in SECTIONS.items()}


class BackupProblem(ValueError):
    """A backup that cannot be restored; the message is one line naming why."""


@dataclass(frozen=True)
class Section:
    """Models dumped and loaded together, parents first; `secrets` maps a model to the
    fields masked without --include-secrets, each with what restore puts in their place
    (None: the row is skipped, because the secret is its identity, like an API token)."""

    models: tuple[str, ...]
    secrets: dict[str, dict[str, Callable[[], Any] | None]] = field(default_factory=dict)
    after_load: str | None = None  # dotted path: resync what derives from the rows
    # Rows `migrate` itself creates (discovered extensions): they do not make a database
    # "not empty" for restore's question.
    seeded: bool = False
    # model label -> dotted path of row -> row, masking secrets inside a value (a document)
    row_masks: dict[str, str] = field(default_factory=dict)

    def model_classes(self) -> list[type[models.Model]]:
        return [apps.get_model(label) for label in self.models]

    def count(self) -> int:
        return sum(model._base_manager.count() for model in self.existing_models())

    def existing_models(self) -> list[type[models.Model]]:
        tables = set(connection.introspection.table_names())
        return [model for model in self.model_classes() if model._meta.db_table in tables]

    def dump(self, *, include_secrets: bool) -> dict[str, list[dict]]:
        dumped = {}
        for model in self.existing_models():
            label = model._meta.label
            masked = {} if include_secrets else self.secrets.get(label, {})
            mask_row = None if include_secrets else self.row_masks.get(label)
            rows = [
                {name: MASK if name in masked and value else value for name, value in row.items()}
                for row in read_rows(model)
            ]
            dumped[label] = [import_string(mask_row)(row) for row in rows] if mask_row else rows
        return dumped

    def check(self, data: Any) -> None:
        """Refuse data this section cannot load, before anything is changed."""
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            raise BackupProblem("a section must map model labels to lists of rows")
        unknown = set(data) - set(self.models)
        if unknown:
            raise BackupProblem(f"unknown models {', '.join(sorted(unknown))}")
        for label, rows in data.items():
            fields = {f.attname for f in apps.get_model(label)._meta.concrete_fields}
            for row in rows:
                if not isinstance(row, dict) or not set(row) <= fields:
                    extra = set(row) - fields if isinstance(row, dict) else {"(not a row)"}
                    raise BackupProblem(f"{label}: unknown fields {', '.join(sorted(extra))}")

    def clear(self) -> None:
        """Delete the section's rows; protected pointers between its own models (a document's
        `current` version) are cut first, or the versions could not go."""
        classes = self.model_classes()
        for model in classes:
            inward = [
                field.attname
                for field in model._meta.concrete_fields
                if field.is_relation and field.null and field.related_model in classes
                and field.remote_field.on_delete is models.PROTECT
            ]  # fmt: skip
            if inward:
                model._base_manager.update(**dict.fromkeys(inward))
        for model in reversed(classes):
            model._base_manager.all().delete()

    def load(self, data: dict[str, list[dict]], progress: Callable[[int], None]) -> int:
        loaded = 0
        for model in self.model_classes():
            replacements = self.secrets.get(model._meta.label, {})
            for row in data.get(model._meta.label, []):
                instance = build_instance(model, row, replacements)
                if instance is not None:
                    instance.save_base(raw=True, force_insert=True)
                    loaded += 1
                progress(1)
        reset_sequences(self.model_classes())
        return loaded


def read_rows(model: type[models.Model]) -> Iterable[dict]:
    """Every row as {attname: JSON value}, through the columns the table has now."""
    with connection.cursor() as cursor:
        columns = {
            c.name
            for c in connection.introspection.get_table_description(cursor, model._meta.db_table)
        }
    names = [f.attname for f in model._meta.concrete_fields if f.column in columns]
    for values in model._base_manager.order_by("pk").values_list(*names).iterator():
        yield {name: to_json(value) for name, value in zip(names, values, strict=True)}


def to_json(value: Any) -> Any:
    """Column values as JSON, losslessly (Django's encoder drops microseconds)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def build_instance(model, row: dict, replacements: dict) -> models.Model | None:
    values = {}
    for model_field in model._meta.concrete_fields:
        if model_field.attname not in row:
            continue  # a column the backup predates: the model's default
        value = row[model_field.attname]
        if value == MASK and model_field.attname in replacements:
            replace = replacements[model_field.attname]
            if replace is None:
                return None
            value = replace()
        elif value is not None and not isinstance(model_field, models.JSONField):
            value = model_field.to_python(value)
        values[model_field.attname] = value
    return model(**values)


def reset_sequences(model_classes: list[type[models.Model]]) -> None:
    """Postgres serials must continue after the restored ids (SQLite needs nothing)."""
    statements = connection.ops.sequence_reset_sql(no_style(), model_classes)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def unusable_password() -> str:
    return make_password(None)


def resync_workflows() -> None:
    """Schedules derive from the restored documents; compiled triggers and plans are stale."""
    from django_q.models import Schedule

    from orchestrator.workflows import definitions, engine, triggers
    from orchestrator.workflows.models import Workflow

    Schedule.objects.filter(name__startswith=definitions.SCHEDULE_PREFIX).delete()
    for workflow in Workflow.objects.select_related("current_version"):
        definitions.sync_schedule(workflow)
    triggers.CACHE.invalidate()
    engine.plan_for.cache_clear()


def announce_flags() -> None:
    from orchestrator.flags.cache import announce_change

    announce_change()


def mask_config_version(row: dict) -> dict:
    """A configuration version with its schema's `writeOnly` values masked."""
    from extensions.config.models import ConfigDocument
    from extensions.config.store import masked

    namespace = ConfigDocument.objects.filter(pk=row["document_id"]).values_list(
        "namespace", flat=True
    )
    return {**row, "data": masked(namespace.first() or "", row["data"])}


def announce_configuration() -> None:
    from extensions.config import store
    from extensions.registry import announce_change

    store.generations.announce(store.GENERATION, store.cache)
    announce_change()


USERS = Section(
    models=("auth.User", "authtoken.Token"),
    secrets={"auth.User": {"password": unusable_password}, "authtoken.Token": {"key": None}},
)
WORKFLOWS = Section(
    models=("workflows.Workflow", "workflows.WorkflowVersion"),
    after_load="orchestrator.operations.sections.resync_workflows",
)
FLAGS = Section(
    models=("flags.Flag", "flags.FlagVersion"),
    after_load="orchestrator.operations.sections.announce_flags",
)
PHASES = Section(models=("operations.PhaseState", "operations.PhaseChange"))
EXTENSIONS = Section(
    models=("extensions.Extension", "extensions.ExtensionVersion", "extensions.ExtensionHistory"),
    after_load="orchestrator.operations.sections.announce_configuration",
    seeded=True,
)
CONFIGURATION = Section(
    models=("config.ConfigDocument", "config.ConfigVersion"),
    row_masks={"config.ConfigVersion": "orchestrator.operations.sections.mask_config_version"},
    after_load="orchestrator.operations.sections.announce_configuration",
)
# The recovery catalog is operator data; migrations seed its defaults (so not "non-empty").
RECOVERY_CATALOG = Section(models=("health.RecoveryAction",), seeded=True)
