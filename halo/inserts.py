"""An INSERT that a unique constraint may refuse, in one statement and without a savepoint.

``insert_unless_conflict`` runs ``INSERT … ON CONFLICT (columns) WHERE condition DO NOTHING RETURNING id``
(PostgreSQL, and SQLite since 3.35), naming one of the model's ``UniqueConstraint`` (partial ones included:
the condition is the constraint's own). A row that would break the constraint is not inserted and nothing
else happens: the transaction stays usable, so the caller needs no savepoint (two statements more) to
survive losing a race, and no lookup before it to avoid one.

The writes that use it stay in their app's ``services.py``; this only builds the statement.
"""

import functools
from typing import Any

from django.db import connection, models
from django.db.models.sql.query import Query


def _constraint(model: type[models.Model], name: str) -> models.UniqueConstraint:
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and constraint.name == name:
            return constraint
    raise LookupError(f"{model.__name__} has no unique constraint {name!r}")


def _column(model: type[models.Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or field.column is None:
        raise LookupError(f"{model.__name__}.{name} is not a column")
    return field.column


def _conflict_target(model: type[models.Model], constraint: models.UniqueConstraint) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(_column(model, name)) for name in constraint.fields)
    if constraint.condition is None:
        return f"({columns})"
    # As Django writes the partial index itself: unqualified columns, values inlined (a bound parameter in
    # the predicate would not let the database match it to the index).
    query = Query(model=model, alias_cols=False)
    where = query.build_where(constraint.condition)
    sql, params = where.as_sql(query.get_compiler(connection=connection), connection)
    editor = connection.schema_editor()
    return f"({columns}) WHERE " + sql % tuple(editor.quote_value(param) for param in params)


@functools.cache
def _statement(
    model: type[models.Model], constraint: str, vendor: str
) -> tuple[str, tuple["models.Field[Any, Any]", ...]]:
    """The INSERT of ``model``'s columns (all but the primary key) refused by ``constraint``, and those fields:
    the same text for every row, built once per database kind (``vendor``: its quoting and its literals)."""
    fields = tuple(field for field in model._meta.concrete_fields if not field.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 (our table and columns)  # nosec B608
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT {_conflict_target(model, _constraint(model, constraint))} DO NOTHING "
        f"RETURNING {quote(model._meta.pk.column)}"
    )
    return sql, fields


def insert_unless_conflict(instance: models.Model, *, constraint: str) -> bool:
    """Insert ``instance`` (a new, unsaved row) unless the unique constraint named ``constraint`` already
    holds a row like it. True: inserted (its primary key set); False: nothing was written."""
    sql, fields = _statement(type(instance), constraint, connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return True
