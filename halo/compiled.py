"""Reads whose SQL is compiled once per connection: a queryset of fixed shape, built and compiled by the ORM
on first use with placeholder values, then run with each call's values.

Django builds a queryset and compiles its SQL on every evaluation. For a ``select_related`` read of several
models that is most of the read's Python time (the join's lookups resolved, then one column expression
compiled per field of every model), paid again on every request although only the values change. A
``CompiledRead`` keeps what the compiler produced — the SQL, where each value goes, which columns make which
model — and turns the rows into instances with the ORM's own machinery (``Model.from_db``, the database
converters, the related objects' populators), so what it returns is what the queryset returns: the same
instances, with the same related objects cached (a missing reverse one-to-one included) and the same
annotations set.

Invariants:

- each placeholder is bound exactly once in the compiled SQL (checked when compiling), so a call's values
  take the placeholders' places; every other parameter is a constant of the queryset and stays as compiled;
- values are given as the ORM would bind them: of the field's Python type and within its range (an id that
  a parser of ``halo.params`` accepted); a lookup that rewrites its value (``__contains`` adds wildcards)
  leaves no placeholder to find and is refused when compiling;
- the compiled state belongs to one connection object, and Django gives each thread its own: each thread
  compiles once, and a different connection (another thread, another alias) compiles its own;
- one statement: a queryset that prefetches is refused (the caller prefetches on what the read returns, with
  ``prefetch_related_objects``);
- ``prepare=True`` (a read by a unique key, whose plan cannot depend on its values) also has PostgreSQL parse
  and plan it once per connection (``halo.prepared``).
"""

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]  # Django's own
from django.db.models.sql.compiler import SQLCompiler

from halo.prepared import prepared_cursor

M = TypeVar("M", bound=Model)


class _Compiled:
    """One connection's compilation of a read."""

    def __init__(self, queryset: QuerySet[Any], placeholders: tuple[Any, ...], connection: BaseDatabaseWrapper):
        compiler: SQLCompiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        self.positions = [_position(params, placeholder) for placeholder in placeholders]
        self.template = list(params)
        self.connection = connection
        self.sql = sql
        self.compiler = compiler
        klass_info = compiler.klass_info
        if klass_info is None or queryset._known_related_objects or queryset._prefetch_related_lookups:  # type: ignore[attr-defined]
            raise ValueError("a compiled read selects model instances (and their annotations) only")
        select_fields = klass_info["select_fields"]
        self.model: type[Model] = klass_info["model"]
        self.start, self.end = select_fields[0], select_fields[-1] + 1
        self.init_list = [column[0].target.attname for column in compiler.select[self.start : self.end]]
        self.populators = get_related_populators(klass_info, compiler.select, connection.alias)
        self.annotations = list((compiler.annotation_col_map or {}).items())
        columns = [column[0] for column in compiler.select[0 : compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise ValueError("a compiled read selects no composite field")
        self.converters = compiler.get_converters(columns)  # the database's and the fields' from_db_value

    def params(self, values: tuple[Any, ...]) -> list[Any]:
        params = self.template.copy()
        for position, value in zip(self.positions, values, strict=True):
            params[position] = value
        return params

    def instances(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """Rows as the ORM's iteration makes them into instances (``ModelIterable``)."""
        converted = self.compiler.apply_converters(rows, self.converters) if self.converters else rows
        alias = self.connection.alias
        instances = []
        for row in converted:
            instance = self.model.from_db(alias, self.init_list, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, instance)
            for name, position in self.annotations:
                setattr(instance, name, row[position])
            instances.append(instance)
        return instances


def _position(params: tuple[Any, ...] | list[Any], placeholder: Any) -> int:
    found = [index for index, param in enumerate(params) if type(param) is type(placeholder) and param == placeholder]
    if len(found) != 1:
        raise ValueError(f"placeholder {placeholder!r} is bound {len(found)} times in the compiled read")
    return found[0]


class CompiledRead(Generic[M]):
    """``build(*placeholders)``'s queryset, compiled once per connection, run with other values.

    ``build`` returns the queryset for the values it is given; ``placeholders`` are values of the right types
    that no real call uses, distinct from each other (they mark where each value is bound). ``prepare``: a
    read by a unique key, also prepared on PostgreSQL (see the module)."""

    def __init__(
        self,
        build: Callable[..., QuerySet[M]],
        *placeholders: Any,
        using: str = DEFAULT_DB_ALIAS,
        prepare: bool = False,
    ) -> None:
        if len(set(placeholders)) != len(placeholders):
            raise ValueError("placeholders must be distinct")
        self._build = build
        self._placeholders = placeholders
        self._using = using
        self._prepare = prepare
        self._local = threading.local()

    def _compiled(self) -> _Compiled:
        connection = connections[self._using]
        compiled: _Compiled | None = getattr(self._local, "compiled", None)
        if compiled is None or compiled.connection is not connection:
            compiled = self._local.compiled = _Compiled(
                self._build(*self._placeholders), self._placeholders, connection
            )
        return compiled

    def _rows(self, compiled: _Compiled, values: tuple[Any, ...], *, one: bool) -> list[tuple[Any, ...]]:
        with prepared_cursor(self._using) if self._prepare else compiled.connection.cursor() as cursor:
            cursor.execute(compiled.sql, compiled.params(values))
            if one:
                row = cursor.fetchone()
                return [] if row is None else [row]
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows

    def first(self, *values: Any) -> M | None:
        """The first row for ``values`` as the queryset would return it, or None."""
        compiled = self._compiled()
        found = compiled.instances(self._rows(compiled, values, one=True))
        return found[0] if found else None

    def all(self, *values: Any) -> list[M]:
        """Every row for ``values``, as ``list(queryset)`` returns them."""
        compiled = self._compiled()
        return compiled.instances(self._rows(compiled, values, one=False))
