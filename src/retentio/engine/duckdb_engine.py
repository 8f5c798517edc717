from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING, Any

import duckdb
import narwhals as nw

from retentio.engine.base import Engine, TableSource

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa


_SQL_VALUES_MAX = 5_000
_SQL_TYPES = {"int": "BIGINT", "string": "VARCHAR", "date": "DATE", "float": "DOUBLE", "bool": "BOOLEAN"}


def _element(v: object, sql_type: str) -> str:
    """One element of a list literal of ``sql_type``; the list is cast to ``sql_type[]``."""
    if v is None:
        return "NULL"
    if sql_type == "BIGINT":
        return str(int(v))  # type: ignore[call-overload]
    if sql_type == "BOOLEAN":
        return "true" if v else "false"
    if sql_type == "DATE":
        text = v.isoformat()  # type: ignore[attr-defined]
    elif sql_type == "DOUBLE":
        # as text: DuckDB parses a string to the nearest double (as Arrow holds it), where a
        # numeric literal would go through DECIMAL first; 'nan' and 'inf' are texts too
        text = repr(float(v))  # type: ignore[arg-type]
    else:
        text = str(v)
    return "'" + text.replace("'", "''") + "'"


def _values_sql(data: dict[str, list], types: dict[str, str]) -> str:
    """A SELECT producing the columns ``data`` with the SQL ``types``: one typed list literal
    per column, unnested side by side (DuckDB binds and runs it ~2.5 x faster than the
    same rows as a VALUES list of casts, and every statement reading the table parses it)."""
    names = list(data)
    if not data[names[0]]:
        cols = ", ".join(f'CAST(NULL AS {types[n]}) AS "{n}"' for n in names)
        return f"SELECT {cols} WHERE FALSE"
    cols = ", ".join(
        f'unnest(CAST([{", ".join(_element(v, types[n]) for v in data[n])}] AS {types[n]}[])) AS "{n}"' for n in names
    )
    return f"SELECT {cols}"


__all__ = ["DuckDBEngine"]


class DuckDBEngine(Engine):
    """Runs lazy frames as DuckDB relations.

    When the workspace's DuckDB file is given, canonical tables are read in place (no copy):
    the file is attached read-only to an in-memory database, which also holds the temporary
    tables of materialised intermediates.
    """

    name = "duckdb"
    _ids = itertools.count()

    def __init__(self, source: TableSource, database: str | None = None, memory_limit: str = "",
                 writable: bool = False):
        super().__init__(source)
        self.con = duckdb.connect()
        # DuckDB draws a progress bar on stdout for statements of more than 2 s (a large book),
        # into `--format json` output: off, as on the warehouse's connections.
        self.con.execute("SET enable_progress_bar = false")
        # Memory freed by a statement goes back to the system soon, not when DuckDB's allocator
        # next needs it: a long process (health scores in passes, the web app) would otherwise
        # keep the peak of every past statement (1 M accounts: 3.4 -> 2.8 GB after a pass).
        self.con.execute("SET allocator_background_threads = true")
        self.con.execute("SET allocator_flush_threshold = '16MB'")
        if memory_limit:
            # An in-memory database spills only where it is told to: a folder of its own under
            # the system's temporary directory, removed by DuckDB when the connection closes.
            import tempfile

            self.con.execute(f"SET temp_directory = '{tempfile.gettempdir()}/retentio-duckdb-{os.getpid()}'")
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self._attached = False
        if database is not None:
            # writable: the refresh of the stored change table reads, computes and writes
            # through this one connection (Workspace.writing_engine); every other engine reads
            self.con.execute(f"ATTACH '{database}' AS ws" + ("" if writable else " (READ_ONLY)"))
            self._attached = True

    def table(self, name: str) -> nw.LazyFrame:
        if self._attached:
            return nw.from_native(self.con.table(f'ws.main."{name}"'))
        return self.from_arrow(self._source(name))

    def stored(self, name: str) -> nw.LazyFrame | None:
        if not self._attached:
            return None
        quoted = name.replace("'", "''")
        found = self.con.sql("SELECT count(*) FROM duckdb_tables() "
                             f"WHERE database_name = 'ws' AND table_name = '{quoted}'").fetchall()[0][0]
        return nw.from_native(self.con.table(f'ws.main."{name}"')) if found else None

    def from_columns(self, data: dict[str, list], types: dict[str, str]) -> nw.LazyFrame:
        n = len(next(iter(data.values()))) if data else 0
        if n > _SQL_VALUES_MAX:
            return super().from_columns(data, types)
        # Small calendars and bucket lists become a VALUES query: building them in pyarrow
        # from Python lists imports pandas (~0.4 s of every command's start-up).
        return nw.from_native(self.con.sql(_values_sql(data, {k: _SQL_TYPES[t] for k, t in types.items()})))

    def from_arrow(self, table: pa.Table) -> nw.LazyFrame:
        name = f"_t{next(self._ids)}"
        self.con.register(name, table)
        return nw.from_native(self.con.table(name))

    def collect(self, lf: nw.LazyFrame) -> pl.DataFrame:
        # Through the Arrow C stream (DuckDB's relation -> Polars, no copy in Python):
        # ``.pl()`` goes through pyarrow, whose import (with numpy) costs ~0.1 s a process.
        import polars as pl

        return pl.DataFrame(lf.to_native())

    def rows(self, lf: nw.LazyFrame) -> list[dict[str, Any]]:
        rel = lf.to_native()
        names = rel.columns
        return [dict(zip(names, r)) for r in rel.fetchall()]

    def columns(self, lf: nw.LazyFrame) -> dict[str, list[Any]]:
        # one row of lists (each column aggregated in the order of a row number), not a
        # tuple per row: thousands of row tuples alive at once set off a full garbage
        # collection of the whole process heap (~20 ms, more than reading the rows)
        rel = lf.to_native()
        names = rel.columns
        if not names:
            return {}
        quoted = ['"' + n.replace('"', '""') + '"' for n in names]
        lists = rel.project("*, row_number() OVER () AS _retentio_i").aggregate(
            ", ".join(f"coalesce(list({q} ORDER BY _retentio_i), [])" for q in quoted))
        return dict(zip(names, lists.fetchall()[0]))

    def materialize(self, lf: nw.LazyFrame) -> nw.LazyFrame:
        name = f"_m{next(self._ids)}"
        lf.to_native().create(name)
        self._made_one(name)
        return nw.from_native(self.con.table(name))

    def release(self, handles: list[object]) -> None:
        for name in handles:
            self.con.sql(f'DROP TABLE IF EXISTS "{name}"')

    def materialized_tables(self) -> int:
        """How many intermediates are held (the service's cache bound is checked with it)."""
        return int(self.con.sql(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'memory' AND table_name LIKE '\\_m%' ESCAPE '\\'"
        ).fetchall()[0][0])

    def close(self) -> None:
        self.con.close()
