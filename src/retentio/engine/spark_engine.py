from __future__ import annotations

import os
import shutil
import threading

import narwhals as nw
import pyarrow as pa

from retentio.engine.base import Engine, TableSource
from retentio.errors import EngineUnavailable

_lock = threading.Lock()
# Subscription lines from which shuffles are spread over every core (SparkEngine._size_shuffles).
LARGE_BOOK_LINES = 500_000
_sessions: dict[str, object] = {}


def java_available() -> bool:
    return bool(os.environ.get("JAVA_HOME") or shutil.which("java"))


def spark_session(master: str = "local[2]"):
    """One SparkSession per process and master (starting one costs seconds)."""
    with _lock:
        if master in _sessions:
            return _sessions[master]
        if not java_available():
            raise EngineUnavailable(
                "the spark engine needs Java 17, which is not installed",
                hint="install a JDK 17 (Debian: apt-get install openjdk-17-jre-headless) or use engine=duckdb",
            )
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise EngineUnavailable(
                "the spark engine needs PySpark", hint="pip install 'retentio[spark]' or use engine=duckdb"
            ) from None
        session = (
            SparkSession.builder.master(master)
            .appName("retentio")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            # Small local runs are dominated by per-task overhead: few partitions, no
            # adaptive re-planning.  Large books get more (SparkEngine.table); a cluster
            # sets its own count through RETENTIO_SPARK_PARTITIONS.
            .config("spark.sql.shuffle.partitions", os.environ.get("RETENTIO_SPARK_PARTITIONS", "1"))
            .config("spark.default.parallelism", "2")
            .config("spark.sql.adaptive.enabled", "false")
            .config("spark.sql.autoBroadcastJoinThreshold", str(64 * 1024 * 1024))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.driver.memory", os.environ.get("RETENTIO_SPARK_DRIVER_MEMORY", "2g"))
            .getOrCreate()
        )
        session.sparkContext.setLogLevel(os.environ.get("RETENTIO_SPARK_LOG_LEVEL", "WARN"))
        _sessions[master] = session
        return session


class SparkEngine(Engine):
    name = "spark"

    def __init__(self, source: TableSource, master: str = "local[2]", data_uri: str = ""):
        super().__init__(source)
        self.spark = spark_session(master)
        self.data_uri = data_uri.rstrip("/")
        self._cache: dict[str, object] = {}

    def table(self, name: str) -> nw.LazyFrame:
        if name not in self._cache:
            if self.data_uri:
                # The executors read the Parquet files themselves; nothing passes the driver.
                df = self._read_parquet(name)
                rows = df.count() if name == "subscriptions" else 0  # Parquet footers: no scan
            else:
                arrow = self._source(name)
                df, rows = self._df(arrow), arrow.num_rows
            if name == "subscriptions":
                self._size_shuffles(rows)
            self._cache[name] = df
        return nw.from_native(self._cache[name])

    def _size_shuffles(self, subscription_rows: int) -> None:
        """One shuffle partition keeps small books fast (per-task overhead dominates); from
        LARGE_BOOK_LINES subscription lines on, one partition would leave all but one core
        idle in every aggregation: 2 per core then (1 M accounts, local[2]: 182 s -> 111 s,
        docs/benchmarks.md).  An explicit RETENTIO_SPARK_PARTITIONS always wins."""
        if os.environ.get("RETENTIO_SPARK_PARTITIONS"):
            return
        n = 1 if subscription_rows < LARGE_BOOK_LINES else 2 * self.spark.sparkContext.defaultParallelism
        self.spark.conf.set("spark.sql.shuffle.partitions", str(n))

    def _read_parquet(self, name: str):
        from retentio.errors import ConfigError

        path = f"{self.data_uri}/{name}.parquet"
        try:
            return self.spark.read.parquet(path)
        except Exception as exc:  # noqa: BLE001 - Spark raises its own AnalysisException types
            raise ConfigError(
                f"spark engine: cannot read {path} ({str(exc).splitlines()[0][:200]})",
                hint="write the tables there with `retentio export --to DIR` (then copy them to the URI), "
                "or empty workspace.spark_data_uri to read the workspace itself",
            ) from None

    def _df(self, table: pa.Table):
        # Spark infers nothing from an Arrow table: its schema is used as is.
        return self.spark.createDataFrame(table)

    def from_arrow(self, table: pa.Table) -> nw.LazyFrame:
        return nw.from_native(self._df(table))

    def materialize(self, lf: nw.LazyFrame) -> nw.LazyFrame:
        # localCheckpoint computes once and cuts the lineage, so later queries reuse the result.
        df = lf.to_native().localCheckpoint(eager=True)
        self._made_one(df)
        return nw.from_native(df)

    def release(self, handles: list[object]) -> None:
        for df in handles:
            df.unpersist()


__all__ = ["LARGE_BOOK_LINES", "SparkEngine", "java_available", "spark_session"]
