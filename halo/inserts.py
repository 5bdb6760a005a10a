"""INSERTs whose text is built once per model: plain ones, and ones a unique constraint may refuse.

``insert`` and ``insert_all`` write new rows as ``Model.save(force_insert=True)`` and ``bulk_create`` write
them — every concrete column, each value prepared by its field (``pre_save``, then ``get_db_prep_save``),
the primary key returned and set, the instance marked as stored — without building and compiling an
insert query for every row: the statement of a model (and of a number of rows) is built once per database
kind, and on PostgreSQL prepared once per connection (``halo.prepared``). A model with a ``save`` of its own
or receivers of its save signals, or an instance holding an expression instead of a value, is saved by the
ORM instead, so that they run and the expression is compiled.

``insert_unless_conflict`` runs ``INSERT … ON CONFLICT (columns) WHERE condition DO NOTHING RETURNING id``
(PostgreSQL, and SQLite since 3.35), naming one of the model's ``UniqueConstraint`` (partial ones included:
the condition is the constraint's own). A row that would break the constraint is not inserted and nothing
else happens: the transaction stays usable, so the caller needs no savepoint (two statements more) to
survive losing a race, and no lookup before it to avoid one.

The writes that use them stay in their app's ``services.py``; this only builds and runs the statements.
"""

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models.signals import post_save, pre_save
from django.db.models.sql.query import Query

from halo.prepared import prepared_cursor

M = TypeVar("M", bound=models.Model)


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


def _fields(model: type[models.Model]) -> tuple["models.Field[Any, Any]", ...]:
    """The columns an INSERT of ``model`` writes: every concrete one but the primary key."""
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


@functools.cache
def _insert_statement(model: type[models.Model], rows: int, vendor: str) -> str:
    """The INSERT of ``rows`` rows of ``model``, returning their primary keys (in the rows' order), built once
    per database kind (``vendor``: its quoting)."""
    quote = connection.ops.quote_name
    fields = _fields(model)
    row = f"({', '.join(['%s'] * len(fields))})"
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(field.column) for field in fields)}) "  # noqa: S608 (our table and columns)  # nosec B608
        f"VALUES {', '.join([row] * rows)} RETURNING {quote(model._meta.pk.column)}"
    )


@functools.cache
def _statement(model: type[models.Model], constraint: str, vendor: str) -> str:
    """The INSERT of ``model``'s columns (all but the primary key) refused by ``constraint``: the same text
    for every row, built once per database kind (``vendor``: its quoting and its literals)."""
    fields = _fields(model)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608 (our table and columns)  # nosec B608
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT {_conflict_target(model, _constraint(model, constraint))} DO NOTHING "
        f"RETURNING {quote(model._meta.pk.column)}"
    )


def _values(instance: models.Model) -> list[Any] | None:
    """The row's values as the ORM's INSERT binds them; None when one is an expression (the ORM compiles it)."""
    values = []
    for field in _fields(type(instance)):
        value = field.pre_save(instance, True)
        if hasattr(value, "resolve_expression"):
            return None
        values.append(field.get_db_prep_save(value, connection))
    return values


def _stored(instance: models.Model, pk: Any) -> None:
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias


def _saved_by_the_orm(model: type[models.Model]) -> bool:
    """Whether the model's own ``save`` or receivers of its save signals must run: then the ORM saves it."""
    return model.save is not models.Model.save or pre_save.has_listeners(model) or post_save.has_listeners(model)


def insert(instance: M) -> M:
    """Insert ``instance`` (a new, unsaved row) as ``save(force_insert=True)`` does; returns it, stored."""
    model = type(instance)
    values = None if _saved_by_the_orm(model) else _values(instance)
    if values is None:
        instance.save(force_insert=True)
        return instance
    with prepared_cursor() as cursor:
        cursor.execute(_insert_statement(model, 1, connection.vendor), values)
        row = cursor.fetchone()
    _stored(instance, row[0])
    return instance


def insert_all(instances: Sequence[M]) -> list[M]:
    """Insert new rows of one model in one statement, in order, as ``bulk_create`` does (no save signals,
    primary keys set in the list's order); returns them, stored."""
    if not instances:
        return []
    model = type(instances[0])
    if any(type(instance) is not model for instance in instances):
        raise TypeError("insert_all writes rows of one model")
    rows = [_values(instance) for instance in instances]
    if any(values is None for values in rows):
        return model._default_manager.bulk_create(instances)
    with prepared_cursor() as cursor:
        cursor.execute(
            _insert_statement(model, len(instances), connection.vendor),
            [value for values in rows for value in values or ()],
        )
        keys = [row[0] for row in cursor.fetchall()]
    for instance, pk in zip(instances, keys, strict=True):
        _stored(instance, pk)
    return list(instances)


def insert_unless_conflict(instance: models.Model, *, constraint: str) -> bool:
    """Insert ``instance`` (a new, unsaved row) unless the unique constraint named ``constraint`` already
    holds a row like it. True: inserted (its primary key set); False: nothing was written."""
    sql = _statement(type(instance), constraint, connection.vendor)
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in _fields(type(instance))]
    with prepared_cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    _stored(instance, row[0])
    return True
