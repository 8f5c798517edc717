from __future__ import annotations

import itertools

import duckdb
import narwhals as nw
import pyarrow as pa

from retentio.engine.base import Engine, TableSource


class DuckDBEngine(Engine):
    """Runs lazy frames as DuckDB relations.

    When the workspace's DuckDB file is given, canonical tables are read in place (no copy):
    the file is attached read-only to an in-memory database, which also holds the temporary
    tables of materialised intermediates.
    """

    name = "duckdb"
    _ids = itertools.count()

    def __init__(self, source: TableSource, database: str | None = None):
        super().__init__(source)
        self.con = duckdb.connect()
        self._attached = False
        if database is not None:
            self.con.execute(f"ATTACH '{database}' AS ws (READ_ONLY)")
            self._attached = True

    def table(self, name: str) -> nw.LazyFrame:
        if self._attached:
            return nw.from_native(self.con.table(f'ws.main."{name}"'))
        return self.from_arrow(self._source(name))

    def from_arrow(self, table: pa.Table) -> nw.LazyFrame:
        name = f"_t{next(self._ids)}"
        self.con.register(name, table)
        return nw.from_native(self.con.table(name))

    def materialize(self, lf: nw.LazyFrame) -> nw.LazyFrame:
        name = f"_m{next(self._ids)}"
        lf.to_native().create(name)
        return nw.from_native(self.con.table(name))

    def close(self) -> None:
        self.con.close()
