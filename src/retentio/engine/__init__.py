"""Engines: where narwhals lazy frames are executed.

Metric code is written once against narwhals lazy frames.  An engine only knows how to open
the workspace's canonical tables as lazy frames, turn small Python-side tables into lazy
frames of its own kind, materialise an intermediate result that several queries reuse, and
collect a (small) result as a Polars DataFrame.  DuckDB is the default; Polars and PySpark
run the same code and must give the same numbers.
"""

from retentio.engine.base import ENGINE_NAMES, Engine, TableSource, open_engine

__all__ = ["ENGINE_NAMES", "Engine", "TableSource", "open_engine"]
