from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import narwhals as nw

from retentio.errors import UsageError
from retentio.model import arrow_types

if TYPE_CHECKING:  # imported where used: reading figures needs neither Arrow nor Polars
    import polars as pl
    import pyarrow as pa

__all__ = ["ENGINE_NAMES", "Engine", "TableSource", "open_engine"]

ENGINE_NAMES = ("duckdb", "polars", "spark")


# A table source returns the Arrow content of a canonical table by name.  The workspace
# provides one reading its DuckDB file; tests provide in-memory ones.
TableSource = Callable[[str], "pa.Table"]


class Engine(ABC):
    """Runs lazy frames.  Intermediates materialised inside :meth:`scratch` are released at
    its end unless kept (:meth:`keep`); the service's Book cache releases what it evicts."""

    name: str

    def __init__(self, source: TableSource):
        self._source = source
        self._made: list[list[object]] = []

    @abstractmethod
    def table(self, name: str) -> nw.LazyFrame:
        """A canonical table of the workspace as a lazy frame of this engine."""

    @abstractmethod
    def from_arrow(self, table: pa.Table) -> nw.LazyFrame:
        """A small table built in Python (calendar, settings) as a lazy frame of this engine."""

    def stored(self, name: str) -> nw.LazyFrame | None:
        """A table the workspace keeps beside its data (the change table and its meta,
        ``metrics/incremental.py``), or None when it is absent or this engine does not read
        the workspace's file in place: the caller then computes it."""
        return None

    def from_columns(self, data: dict[str, list], types: dict[str, str]) -> nw.LazyFrame:
        """A small table from Python lists; ``types`` are logical types of retentio.model
        (int, float, string, date, bool).  Engines may build it without pyarrow."""
        import pyarrow as pa

        return self.from_arrow(pa.table({k: pa.array(v, type=arrow_types()[types[k]]) for k, v in data.items()}))

    @abstractmethod
    def materialize(self, lf: nw.LazyFrame) -> nw.LazyFrame:
        """Compute ``lf`` once and return a lazy frame reading the stored result."""

    # -- lifetime of materialised intermediates ------------------------------------------
    def _made_one(self, handle: object) -> None:
        stack = getattr(self, "_made", None)
        if stack:
            stack[-1].append(handle)

    @contextmanager
    def scratch(self) -> Iterator[list[object]]:
        """Intermediates materialised inside are released at the end (the yielded list:
        what to keep can be moved out of it, see :meth:`keep`)."""
        if not hasattr(self, "_made"):
            self._made = []
        made: list[object] = []
        self._made.append(made)
        try:
            yield made
        finally:
            self._made.pop()
            self.release(made)

    @staticmethod
    def keep(made: list[object]) -> list[object]:
        """Take the intermediates out of a scratch list (the caller releases them later)."""
        kept = list(made)
        made.clear()
        return kept

    def release(self, handles: list[object]) -> None:
        """Free materialised intermediates (a no-op where the garbage collector does it)."""

    # -- a bounded cache of computed state (the metrics' Books) ---------------------------
    CACHE_SIZE = 4

    def cached(self, key: Hashable, build: Callable[[], Any], tables: Callable[[Any], list[object]]) -> Any:
        """``build()`` once per key; at most CACHE_SIZE values are kept, the least recently
        used is evicted and its materialised intermediates (``tables(value)``) released."""
        if not hasattr(self, "_cache_lru"):
            self._cache_lru: OrderedDict[Hashable, tuple[Any, Callable[[Any], list[object]]]] = OrderedDict()
        lru = self._cache_lru
        if key in lru:
            lru.move_to_end(key)
            return lru[key][0]
        value = build()
        lru[key] = (value, tables)
        while len(lru) > self.CACHE_SIZE:
            # each value is released by its own ``tables``: values of different kinds share the cache
            _k, (old, old_tables) = lru.popitem(last=False)
            self.release(old_tables(old))
        return value

    def cache_size(self) -> int:
        return len(getattr(self, "_cache_lru", ()))

    @contextmanager
    def transient_cache(self) -> Iterator[None]:
        """Values cached inside are dropped (and their intermediates released) at the end,
        those cached before stay: for work done in passes whose values no later pass reads
        (a pass of health scores at 1 M accounts cached ~0.3 GB of usage dicts)."""
        before = set(getattr(self, "_cache_lru", ()))
        try:
            yield
        finally:
            lru = getattr(self, "_cache_lru", None)
            for key in [k for k in (lru or ()) if k not in before]:
                value, tables = lru.pop(key)
                self.release(tables(value))

    def collect(self, lf: nw.LazyFrame) -> pl.DataFrame:
        return lf.collect(backend="polars").to_native()

    def rows(self, lf: nw.LazyFrame) -> list[dict[str, Any]]:
        """The result as Python rows, a dict each: for the small results figures are made
        of, which need no frame (DuckDB hands them over without importing Polars)."""
        return self.collect(lf).to_dicts()

    def columns(self, lf: nw.LazyFrame) -> dict[str, list[Any]]:
        """The result as Python lists, one per column: for results of thousands of rows read
        in a loop (a dict per row costs more than the loop)."""
        df = self.collect(lf)
        return {c: df[c].to_list() for c in df.columns}

    def close(self) -> None:  # overridden where there is something to close (DuckDB)
        pass


def open_engine(name: str, source: TableSource, *, database: str | None = None, spark_master: str = "local[2]",
                spark_data_uri: str = "", memory_limit: str = "", writable: bool = False) -> Engine:
    """The engine ``name`` over ``source``; DuckDB reads ``database`` (the workspace's
    analytics file) in place when given, within ``memory_limit`` ("" = DuckDB's default), and
    may also write to it when ``writable``."""
    if name == "duckdb":
        from retentio.engine.duckdb_engine import DuckDBEngine

        return DuckDBEngine(source, database=database, memory_limit=memory_limit, writable=writable)
    if name == "polars":
        from retentio.engine.polars_engine import PolarsEngine

        return PolarsEngine(source)
    if name == "spark":
        from retentio.engine.spark_engine import SparkEngine

        return SparkEngine(source, master=spark_master, data_uri=spark_data_uri)
    raise UsageError(f"unknown engine {name!r}", hint="choose one of: " + ", ".join(ENGINE_NAMES))
