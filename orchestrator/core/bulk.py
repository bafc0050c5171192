"""Many rows' fields written in one `UPDATE … FROM (VALUES …)`.

Django's `bulk_update` builds one `CASE WHEN pk = … THEN …` per field per row, and compiling
those expressions is pure Python: writing 500 step outcomes (8 fields each) spent 81 % of a
runner's recording time there, holding the GIL its event loop needed (docs/performance.md,
"Mixed load"). Here the statement is a string and the values go as parameters, prepared by
each field for the connection's database, so Postgres and SQLite (3.33+, UPDATE FROM) take
the same statement. Only what `bulk_update` did for us is kept: no signals, no `save()`.
"""

from django.db import connections, router

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


def _statement(model, fields, connection) -> str:
    """Both databases name a VALUES list's columns column1, column2, …: the primary key is
    column1, the fields follow. (A `WITH v(…) AS (VALUES …)` would name them, but SQLite then
    reports no row count.)"""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = quote(model._meta.pk.column)
    assignments = ", ".join(
        f"{quote(field.column)} = {_typed(f'v.column{index}', field, connection)}"
        for index, field in enumerate(fields, start=2)
    )
    # Names are the model's own; every value is a parameter.
    where = f"WHERE {table}.{pk} = {_typed('v.column1', model._meta.pk, connection)}"
    return f"UPDATE {table} SET {assignments} FROM (VALUES {{rows}}) AS v {where}"  # noqa: S608


def _typed(expression: str, field, connection) -> str:
    """Postgres types a VALUES column from its literals (text for strings and NULLs), so
    each is cast to its field's column type. SQLite needs no cast, and a cast there would
    turn a datetime's text into a number (the `datetime` type name has NUMERIC affinity)."""
    if connection.vendor != "postgresql":
        return expression
    return f"CAST({expression} AS {field.cast_db_type(connection)})"


def _row_placeholder(width: int) -> str:
    return "(" + ", ".join(["%s"] * width) + ")"


def _row(obj, fields, connection) -> list:
    values = [obj._meta.pk.get_db_prep_value(obj.pk, connection)]
    for field in fields:
        values.append(field.get_db_prep_save(getattr(obj, field.attname), connection))
    return values
