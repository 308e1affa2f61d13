"""Statements over a batch of rows in one go, for the grouper's and the journal loader's batches.

SQLAlchemy's executemany builds and processes every row's parameters in Python, and on
PostgreSQL a long `IN (...)` or a multi-row `VALUES` is a new statement text for every row
count, parsed again by the driver and by the server. So, through the driver:
- on PostgreSQL, one statement carries one array per column (`unnest`), or one array for a
  list of keys (`= ANY`): a batch is one round trip and one statement text whatever its size;
- on SQLite, the statement is one row's and sqlite3 loops over the rows in C (there is no
  round trip to save).
Every value goes through its column's own SQLAlchemy bind processor, so what is stored is
exactly what SQLAlchemy stores elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ARRAY, Column, ColumnElement, Connection, Table, any_, bindparam, cast


@lru_cache(maxsize=32)
def of(dialect: Any) -> Bulk:
    """The Bulk of a connection's dialect (one per engine)."""
    return Bulk(dialect)


class Bulk:
    """The batch statements for one database dialect; their texts are made once and kept."""

    def __init__(self, dialect: Any) -> None:
        self.dialect = dialect
        self.arrays = dialect.name == "postgresql"
        self._mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self._quote = dialect.identifier_preparer.quote
        self._texts: dict[tuple, str] = {}
        self._processors: dict[Column, Any] = {}

    # ------------------------------------------------------------ for SQLAlchemy statements

    def among(self, column: Column, values: Iterable[Any]) -> ColumnElement[bool]:
        """`column` is one of `values`: on PostgreSQL `= ANY(<one array>)`, one statement text
        for any number of values; elsewhere `IN (...)`."""
        values = list(values)
        if self.arrays:
            return column == any_(cast(bindparam(None, values, type_=ARRAY(column.type)), ARRAY(column.type)))
        return column.in_(values)

    def among_text(self, count: int, array_type: str) -> str:
        """The same for a statement written by hand, with among_params(values) as its
        parameters: `IN (?, ...)`, or on PostgreSQL `= ANY(<one array of array_type>)`."""
        if self.arrays:
            return f"= ANY(%b::{array_type}[])"
        return f"IN ({', '.join([self._mark] * count)})"

    def among_params(self, values: Sequence[Any]) -> list:
        return [list(values)] if self.arrays else list(values)

    # ------------------------------------------------------------ through the driver

    def insert(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]],
               *, skip_existing: bool = False) -> None:
        """Insert the rows; with skip_existing, a row whose unique key is stored already is left
        out (ON CONFLICT DO NOTHING)."""
        if not rows:
            return
        key = ("insert", table.name, tuple(columns), skip_existing)
        text = self._texts.get(key)
        if text is None:
            names = ", ".join(self._quote(c) for c in columns)
            source = f"SELECT * FROM unnest({self._arrays(table, columns)})" if self.arrays \
                else f"VALUES ({', '.join([self._mark] * len(columns))})"
            text = self._texts[key] = (f"INSERT INTO {self._quote(table.name)} ({names}) {source}"
                                       + (" ON CONFLICT DO NOTHING" if skip_existing else ""))
        self._send(conn, text, table, columns, rows)

    def insert_new(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]],
                   key: Sequence[str]) -> list[bool]:
        """Insert the rows (whose `key`s are distinct), leaving out those stored already; for
        each row, whether it was new. On SQLite the statement has one VALUES tuple per row (a
        looped statement cannot say which rows went in), so its text is made per row count."""
        if not rows:
            return []
        q = self._quote
        head = f"INSERT INTO {q(table.name)} ({', '.join(q(c) for c in columns)}) "
        tail = f" ON CONFLICT DO NOTHING RETURNING {', '.join(q(c) for c in key)}"
        values = self._values(table, columns, rows)
        if self.arrays:
            cache = ("insert_new", table.name, tuple(columns), tuple(key))
            text = self._texts.get(cache)
            if text is None:
                text = self._texts[cache] = head + f"SELECT * FROM unnest({self._arrays(table, columns)})" + tail
            params: Any = tuple(values)
            sent = [tuple(comparable(values[columns.index(c)][i]) for c in key) for i in range(len(rows))]
        else:
            cache = ("insert_new", table.name, tuple(columns), tuple(key), len(rows))
            text = self._texts.get(cache)
            if text is None:
                one = "(" + ", ".join([self._mark] * len(columns)) + ")"
                text = self._texts[cache] = head + "VALUES " + ", ".join([one] * len(rows)) + tail
            params = tuple(v for row in values for v in row)
            at = [columns.index(c) for c in key]
            sent = [tuple(comparable(row[i]) for i in at) for row in values]
        stored = {tuple(comparable(v) for v in r) for r in conn.exec_driver_sql(text, params)}
        return [k in stored for k in sent]

    def update(self, conn: Connection, table: Table, key: Sequence[str], columns: Sequence[str],
               rows: Sequence[dict[str, Any]]) -> None:
        """Set `columns` of each row found by `key` to the row's values."""
        if not rows:
            return
        cache = ("update", table.name, tuple(key), tuple(columns))
        text = self._texts.get(cache)
        if text is None:
            q, name = self._quote, self._quote(table.name)
            if self.arrays:
                every = [*key, *columns]
                sets = ", ".join(f"{q(c)} = v.{q(c)}" for c in columns)
                match = " AND ".join(f"{name}.{q(c)} = v.{q(c)}" for c in key)
                text = (f"UPDATE {name} SET {sets} FROM unnest({self._arrays(table, every)}) "
                        f"AS v({', '.join(q(c) for c in every)}) WHERE {match}")
            else:
                sets = ", ".join(f"{q(c)} = {self._mark}" for c in columns)
                match = " AND ".join(f"{q(c)} = {self._mark}" for c in key)
                text = f"UPDATE {name} SET {sets} WHERE {match}"
            self._texts[cache] = text
        self._send(conn, text, table, [*columns, *key] if not self.arrays else [*key, *columns], rows)

    def _arrays(self, table: Table, columns: Sequence[str]) -> str:
        # %b: psycopg sends the array in binary, several times cheaper to make than its text form
        return ", ".join(f"%b::{table.c[c].type.compile(dialect=self.dialect)}[]" for c in columns)

    def processor(self, column: Column) -> Any:
        """The column's SQLAlchemy bind processor for this dialect (None when values go as they are)."""
        if column not in self._processors:
            self._processors[column] = column.type.dialect_impl(self.dialect).bind_processor(self.dialect)
        return self._processors[column]

    def _values(self, table: Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> list:
        """The rows' values, each through its column's processor: on PostgreSQL one list per
        column (an array each), elsewhere one tuple per row."""
        processors = [(c, self.processor(table.c[c])) for c in columns]
        if self.arrays:
            return [[row[c] for row in rows] if p is None else [p(row[c]) for row in rows] for c, p in processors]
        return [tuple(row[c] if p is None else p(row[c]) for c, p in processors) for row in rows]

    def _send(self, conn: Connection, text: str, table: Table, columns: Sequence[str],
              rows: Sequence[dict[str, Any]]) -> None:
        values = self._values(table, columns, rows)
        conn.exec_driver_sql(text, tuple(values) if self.arrays else values)


def comparable(value: Any) -> Any:
    """A stored value as it compares with the one sent: PostgreSQL hands back an aware datetime
    for what went in as one (in its session's zone), SQLite the same text."""
    return value.astimezone(UTC) if isinstance(value, datetime) else value
