"""A prepared Core statement run on the driver's connection, past SQLAlchemy's execution machinery.

SQLAlchemy's `Connection.execute` of a statement it has compiled before still costs some 40 µs on
SQLite (execution context, parameter processing, cursor result, events) where the driver's own
`execute` of the same SQL costs 3. On the SCIM paths that run one or two statements a request,
that is a tenth of the request. Here a statement is compiled once per dialect (and, for an INSERT
or UPDATE, per set of parameter names), with SQLAlchemy's own bind and result processors, and run
with the driver's `execute`: the same SQL, in the same transaction, on the same connection.

Only what this path reproduces exactly takes it: one set of parameters (not many), no parameter
expanded at execution (`IN` lists), no column default computed in Python, no escaped parameter
name. Everything else returns None from `form_for` and runs through SQLAlchemy as before. A driver
error is raised as SQLAlchemy raises it (`sqlalchemy.exc.DBAPIError.instance`: IntegrityError
and the rest), and a lost connection is invalidated, so the callers and the pool see no difference.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.dml import Insert, Update

_NOT_GIVEN = object()


class DriverForm:
    """One statement compiled for one dialect: its SQL, how to bind its parameters, how to read
    its rows."""

    __slots__ = ("sql", "binds", "positional", "columns", "row_type", "processors")

    def __init__(self, sql: str, binds: list[tuple[str, str, Any, Any]], positional: bool, columns: list):
        self.sql, self.binds, self.positional, self.columns = sql, binds, positional, columns
        self.row_type = _row_type([c[0] for c in columns]) if columns else None
        self.processors = None  # per column, found from the first result's description

    def parameters(self, params: dict):
        """The driver's parameters: a tuple (qmark) or a dict (pyformat), processed as SQLAlchemy would."""
        values = []
        for key, _, default, process in self.binds:
            value = params.get(key, default)
            if value is _NOT_GIVEN:
                raise KeyError(key)
            values.append(value if process is None else process(value))  # (None too: JSON's None is 'null')
        if self.positional:
            return tuple(values)
        return {name: v for (_, name, _, _), v in zip(self.binds, values, strict=True)}


class DriverResult:
    """The part of SQLAlchemy's Result the prepared statements' callers use, over fetched rows."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list, rowcount: int):
        self._rows, self.rowcount = rows, rowcount

    def all(self) -> list:
        return self._rows

    def __iter__(self):
        return iter(self._rows)

    def first(self):
        return self._rows[0] if self._rows else None

    def one_or_none(self):
        if len(self._rows) > 1:
            raise exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return self.first()

    def one(self):
        if len(self._rows) != 1:
            raise (exc.NoResultFound("No row was found when one was required") if not self._rows else
                   exc.MultipleResultsFound("Multiple rows were found when exactly one was required"))
        return self._rows[0]

    def scalar_one(self):
        return self.one()[0]

    def scalar(self):
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> DriverResult:
        return DriverResult([r[0] for r in self._rows], self.rowcount)


def form_for(stmt, dialect: Dialect, keys: tuple) -> DriverForm | None:
    """The statement compiled for the driver, or None when this path cannot run it as SQLAlchemy would."""
    dml = isinstance(stmt, (Insert, Update))
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if dml else None)
    if (compiled.post_compile_params or compiled.literal_execute_params or compiled.escaped_bind_names
            or getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None)):
        return None
    names = compiled.positiontup if dialect.positional else list(dict.fromkeys(compiled.bind_names.values()))
    processors = compiled._bind_processors
    binds = []
    for name in names:
        param = compiled.binds[name]
        if param.callable is not None:
            return None
        # Looked up by the key the caller gives (an anonymous parameter, by its name, with its value)
        key = param.key if param.key in keys else name
        default = _NOT_GIVEN if param.required else param.value
        if default is _NOT_GIVEN and key not in keys:
            return None  # (SQLAlchemy says which parameter is missing)
        binds.append((key, name, default, processors.get(name)))
    columns = [(rc[0], rc[3]) for rc in compiled._result_columns]
    return DriverForm(compiled.string, binds, dialect.positional, columns)


def execute(conn: Connection, form: DriverForm, params: dict) -> DriverResult:
    """Run `form` on the driver's connection under `conn` (already begun), as SQLAlchemy would."""
    dialect = conn.dialect
    args = form.parameters(params)
    driver = conn.connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.execute(form.sql, args)
        rows = []
        if cursor.description is not None:
            rows = _rows(form, dialect, cursor)
        return DriverResult(rows, cursor.rowcount)
    except dialect.loaded_dbapi.Error as e:
        raise as_sqlalchemy_error(conn, e, form.sql, args, driver, cursor) from e
    finally:
        cursor.close()


def execute_plain(conn: Connection, sql: str) -> None:
    """Run a statement without parameters or rows (BEGIN IMMEDIATE) on the driver's connection."""
    driver = conn.connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.execute(sql)
    except conn.dialect.loaded_dbapi.Error as e:
        raise as_sqlalchemy_error(conn, e, sql, (), driver, cursor) from e
    finally:
        cursor.close()


def _rows(form: DriverForm, dialect: Dialect, cursor) -> list:
    if form.processors is None:  # the first result: how to read its rows
        description = cursor.description
        if not form.columns:  # a textual statement: its columns as the result names them, as they come
            form.row_type = _row_type([d[0] for d in description])  # (before columns: another thread may look)
            form.columns = [(d[0], None) for d in description]
        form.processors = [None if type_ is None else type_._cached_result_processor(dialect, d[1])
                           for (_, type_), d in zip(form.columns, description, strict=True)]
    fetched, make, processors = cursor.fetchall(), form.row_type._make, form.processors
    if any(processors):
        return [make([v if p is None else p(v) for p, v in zip(processors, row, strict=True)]) for row in fetched]
    return [make(row) for row in fetched]


def as_sqlalchemy_error(conn: Connection, e: Exception, sql: str, args, driver, cursor) -> exc.DBAPIError:
    """The error SQLAlchemy would raise for the driver's `e` on `conn` (a locked or unwritable
    database: OperationalError, 503); a lost connection is invalidated first."""
    dialect = conn.dialect
    lost = dialect.is_disconnect(e, driver, cursor)
    if lost:
        conn.invalidate(e)
    return exc.DBAPIError.instance(sql, args, e, dialect.loaded_dbapi.Error, dialect=dialect,
                                   connection_invalidated=lost)


_ROW_TYPES: dict[tuple, type] = {}


def _row_type(names: list[str]) -> type:
    """A tuple with named fields and `_mapping`, as SQLAlchemy's Row has."""
    key = tuple(names)
    made = _ROW_TYPES.get(key)
    if made is None:
        base = namedtuple("Row", names, rename=True)
        made = _ROW_TYPES[key] = type("Row", (base,), {
            "__slots__": (), "_mapping": property(lambda self: dict(zip(key, self, strict=True)))})
    return made
