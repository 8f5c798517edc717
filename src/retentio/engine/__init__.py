"""Engines: where narwhals lazy frames are executed.

Metric code is written once against narwhals lazy frames.  An engine only knows how to open
the workspace's canonical tables as lazy frames, turn small Python-side tables into lazy
frames of its own kind, materialise an intermediate result that several queries reuse, and
collect a (small) result as a Polars DataFrame.  DuckDB is the default; Polars and PySpark
run the same code and must give the same numbers.
"""

import narwhals as nw

from retentio.engine.base import ENGINE_NAMES, Engine, TableSource, open_engine


def distinct(lf: nw.LazyFrame) -> nw.LazyFrame:
    """The distinct rows of ``lf``: a GROUP BY of every column (DISTINCT on every engine).
    narwhals' ``unique()`` numbers the rows of each group with a window function on DuckDB
    and Spark, which costs a sort of the rows where a hash aggregate will do."""
    return lf.group_by(*lf.columns).agg()


__all__ = ["ENGINE_NAMES", "Engine", "TableSource", "distinct", "open_engine"]
