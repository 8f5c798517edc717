from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import narwhals as nw
import polars as pl
import pyarrow as pa

from retentio.errors import UsageError
from retentio.model import ARROW_TYPES

ENGINE_NAMES = ("duckdb", "polars", "spark")


# A table source returns the Arrow content of a canonical table by name.  The workspace
# provides one reading its DuckDB file; tests provide in-memory ones.
TableSource = Callable[[str], pa.Table]


class Engine(ABC):
    name: str

    def __init__(self, source: TableSource):
        self._source = source

    @abstractmethod
    def table(self, name: str) -> nw.LazyFrame:
        """A canonical table of the workspace as a lazy frame of this engine."""

    @abstractmethod
    def from_arrow(self, table: pa.Table) -> nw.LazyFrame:
        """A small table built in Python (calendar, settings) as a lazy frame of this engine."""

    def from_columns(self, data: dict[str, list], types: dict[str, str]) -> nw.LazyFrame:
        """A small table from Python lists; ``types`` are logical types of retentio.model
        (int, float, string, date, bool).  Engines may build it without pyarrow."""
        return self.from_arrow(pa.table({k: pa.array(v, type=ARROW_TYPES[types[k]]) for k, v in data.items()}))

    @abstractmethod
    def materialize(self, lf: nw.LazyFrame) -> nw.LazyFrame:
        """Compute ``lf`` once and return a lazy frame reading the stored result."""

    def collect(self, lf: nw.LazyFrame) -> pl.DataFrame:
        return lf.collect(backend="polars").to_native()

    def close(self) -> None:  # overridden where there is something to close (DuckDB)
        pass


def open_engine(name: str, source: TableSource, *, spark_master: str = "local[2]", spark_data_uri: str = "") -> Engine:
    if name == "duckdb":
        from retentio.engine.duckdb_engine import DuckDBEngine

        return DuckDBEngine(source)
    if name == "polars":
        from retentio.engine.polars_engine import PolarsEngine

        return PolarsEngine(source)
    if name == "spark":
        from retentio.engine.spark_engine import SparkEngine

        return SparkEngine(source, master=spark_master, data_uri=spark_data_uri)
    raise UsageError(f"unknown engine {name!r}", hint="choose one of: " + ", ".join(ENGINE_NAMES))
