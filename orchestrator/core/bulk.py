"""Many rows' fields written in one `UPDATE … FROM` (a JSON recordset, or VALUES on SQLite).

Django's `bulk_update` builds one `CASE WHEN pk = … THEN …` per field per row, and compiling
those expressions is pure Python: writing 500 step outcomes (8 fields each) spent 81 % of a
runner's recording time there, holding the GIL its event loop needed (docs/performance.md,
"Mixed load"). Here the statement is a string and the values go as parameters, prepared by
each field for the connection's database. Only what `bulk_update` did for us is kept: no
signals, no `save()`.

On Postgres the rows go as one JSON parameter (`json_to_recordset`), so the statement's text
is the same for any number of rows: psycopg parses a statement of more than 50 parameters
anew on every call, and quotes each parameter in Python. 100 rows of 9 fields cost 5.8 ms
of a runner's CPU that way and 0.7 ms as one JSON text. SQLite (3.33+, UPDATE FROM) takes
the rows as a VALUES list.
"""

import json
from datetime import date, datetime

from django.db import connections, router
from django.db.models import JSONField

from orchestrator.core.lookups import ARRAY_SQL

MAX_PARAMETERS = 30_000  # per statement, under SQLite's limit of 32,766


def update_rows(objects: list, field_names: list[str]) -> int:
    """Write `field_names` of every object (all of one model) by primary key; answer how
    many rows the database changed."""
    if not objects:
        return 0
    model = type(objects[0])
    using = router.db_for_write(model)
    connection = connections[using]
    fields = [model._meta.get_field(name) for name in field_names]
    if connection.vendor == "postgresql":
        return _update_from_json(model, objects, fields, connection)
    statement = _statement(model, fields, connection)
    batch_rows = max(1, MAX_PARAMETERS // (len(fields) + 1))
    changed = 0
    with connection.cursor() as cursor:
        for start in range(0, len(objects), batch_rows):
            batch = objects[start : start + batch_rows]
            rows = ", ".join([_row_placeholder(len(fields) + 1)] * len(batch))
            params = [value for obj in batch for value in _row(obj, fields, connection)]
            cursor.execute(statement.format(rows=rows), params)
            changed += cursor.rowcount
    return changed


def _update_from_json(model, objects: list, fields: list, connection) -> int:
    """One statement whose rows are one JSON array of objects, typed by the recordset's
    column list; a JSON field's value goes as its own JSON text (its encoder's, as the ORM
    would write it), cast back to jsonb."""
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), model._meta.pk
    columns = [f"pk {pk.cast_db_type(connection)}"] + [
        f"{quote(f'f{index}')} {_recordset_type(field, connection)}"
        for index, field in enumerate(fields)
    ]
    assignments = ", ".join(
        f"{quote(field.column)} = v.{quote(f'f{index}')}"
        + ("::jsonb" if isinstance(field, JSONField) else "")
        for index, field in enumerate(fields)
    )
    rows = [_json_row(obj, fields, connection) for obj in objects]
    params = [json.dumps(rows, default=_json_scalar)]
    statement = (
        f"UPDATE {table} SET {assignments} "  # noqa: S608 - names are the model's own
        f"FROM json_to_recordset(%s::json) AS v({', '.join(columns)}) "
        f"WHERE {table}.{quote(pk.column)} = v.pk"
    )
    if all(type(row["pk"]) is int for row in rows):
        # The keys again as an array, so the planner finds the rows by primary key: it
        # estimates a JSON function's rows at 100, and hashed them against a table scan.
        statement += f" AND {table}.{quote(pk.column)} = ANY({ARRAY_SQL})"
        params.append(",".join(str(row["pk"]) for row in rows))
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _recordset_type(field, connection) -> str:
    return "text" if isinstance(field, JSONField) else field.cast_db_type(connection)


def _json_row(obj, fields, connection) -> dict:
    row = {"pk": obj.pk}
    for index, field in enumerate(fields):
        value = getattr(obj, field.attname)
        if isinstance(field, JSONField):
            row[f"f{index}"] = None if value is None else json.dumps(value, cls=field.encoder)
        else:
            row[f"f{index}"] = field.get_db_prep_save(value, connection)
    return row


def _json_scalar(value) -> str:
    """Datetimes at full precision (Postgres reads ISO 8601 with its offset); anything else
    a field prepared (a Decimal, a UUID) as its text."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _statement(model, fields, connection) -> str:
    """SQLite names a VALUES list's columns column1, column2, …: the primary key is column1,
    the fields follow. (A `WITH v(…) AS (VALUES …)` would name them, but SQLite then reports
    no row count.) No casts: SQLite needs none, and one would turn a datetime's text into a
    number (the `datetime` type name has NUMERIC affinity)."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = quote(model._meta.pk.column)
    assignments = ", ".join(
        f"{quote(field.column)} = v.column{index}" for index, field in enumerate(fields, start=2)
    )
    # Names are the model's own; every value is a parameter.
    where = f"WHERE {table}.{pk} = v.column1"
    return f"UPDATE {table} SET {assignments} FROM (VALUES {{rows}}) AS v {where}"  # noqa: S608


def _row_placeholder(width: int) -> str:
    return "(" + ", ".join(["%s"] * width) + ")"


def _row(obj, fields, connection) -> list:
    values = [obj._meta.pk.get_db_prep_value(obj.pk, connection)]
    for field in fields:
        values.append(field.get_db_prep_save(getattr(obj, field.attname), connection))
    return values
