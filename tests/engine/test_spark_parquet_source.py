"""Spark reading the canonical tables from Parquet files (the cluster set-up of
docs/scaling.md) gives the same figures as DuckDB reading the workspace itself."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from retentio import Workspace
from retentio.cli import main as cli_main
from retentio.model import ACCOUNT_ATTRIBUTES_TABLE, ENTITIES


def test_export_writes_every_table(demo_workspace, tmp_path):
    ws = Workspace(demo_workspace)
    written = ws.export_parquet(tmp_path / "pq")
    tables = [e.table for e in ENTITIES.values()] + [ACCOUNT_ATTRIBUTES_TABLE]
    assert sorted(written) == sorted(tables)
    for t in tables:
        assert pq.read_metadata(tmp_path / "pq" / f"{t}.parquet").num_rows == written[t] == ws.warehouse.count(t)
    cli_main._load_commands()
    r = CliRunner().invoke(cli_main.app, ["export", "-w", str(demo_workspace), "--to", str(tmp_path / "cli"), "--format", "json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["rows"] == written


@pytest.mark.spark
def test_spark_from_parquet_equals_duckdb_and_large_books_spread_shuffles(demo_workspace, tmp_path, monkeypatch):
    """Spark reading Parquet (the cluster set-up) gives DuckDB's figures; a book of
    LARGE_BOOK_LINES lines or more gets two shuffle partitions per core (local[2]: 4), from
    either source, and a smaller one gets one.  The demo book stands in for a large one by
    moving the threshold (its size proves nothing); one Spark computation proves the figures,
    at 4 partitions from Parquet, since the figures at one partition are those of every other
    Spark test."""
    from retentio.engine import spark_engine
    from retentio.errors import ConfigError

    monkeypatch.delenv("RETENTIO_SPARK_PARTITIONS", raising=False)
    ws = Workspace(demo_workspace)
    expected = ws.metrics("2024-Q2")
    lines = ws.warehouse.count("subscriptions")
    ws.export_parquet(tmp_path / "pq")

    def spark_ws(threshold: int, uri: str = "") -> Workspace:
        monkeypatch.setattr(spark_engine, "LARGE_BOOK_LINES", threshold)
        w = Workspace(demo_workspace, engine="spark")
        w.settings.workspace.spark_data_uri = uri
        return w

    def partitions_after_loading(w: Workspace) -> str:
        eng = w.engine("spark")
        eng.table("subscriptions")  # the shuffle partitions are sized when the lines are loaded
        return eng.spark.conf.get("spark.sql.shuffle.partitions")

    # from Parquet, at the threshold: 4 partitions, and exactly DuckDB's figures
    from_parquet = spark_ws(lines, str(tmp_path / "pq"))
    assert partitions_after_loading(from_parquet) == "4"
    assert from_parquet.metrics("2024-Q2") == expected
    # from the workspace itself: the same rule
    assert partitions_after_loading(spark_ws(lines)) == "4"
    assert partitions_after_loading(spark_ws(lines + 1)) == "1"
    # an explicit setting wins
    monkeypatch.setenv("RETENTIO_SPARK_PARTITIONS", "3")
    spark_engine.spark_session().conf.set("spark.sql.shuffle.partitions", "3")
    assert partitions_after_loading(spark_ws(lines)) == "3"
    spark_engine.spark_session().conf.set("spark.sql.shuffle.partitions", "1")
    # a wrong location is one clear error, not a Spark stack trace
    with pytest.raises(ConfigError, match="cannot read"):
        spark_ws(lines, str(tmp_path / "nowhere")).metrics("2024-06")
