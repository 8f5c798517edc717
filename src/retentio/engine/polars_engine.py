from __future__ import annotations

import narwhals as nw
import polars as pl
import pyarrow as pa

from retentio.engine.base import Engine, TableSource


class PolarsEngine(Engine):
    name = "polars"

    def __init__(self, source: TableSource):
        super().__init__(source)
        self._cache: dict[str, pl.DataFrame] = {}

    def table(self, name: str) -> nw.LazyFrame:
        if name not in self._cache:
            self._cache[name] = pl.from_arrow(self._source(name))
        return nw.from_native(self._cache[name].lazy())

    def from_arrow(self, table: pa.Table) -> nw.LazyFrame:
        return nw.from_native(pl.from_arrow(table).lazy())

    def materialize(self, lf: nw.LazyFrame) -> nw.LazyFrame:
        return nw.from_native(lf.to_native().collect().lazy())


__all__ = ["PolarsEngine"]
