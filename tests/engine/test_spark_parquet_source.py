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
def test_spark_from_parquet_equals_duckdb(demo_workspace, tmp_path):
    ws = Workspace(demo_workspace)
    ws.export_parquet(tmp_path / "pq")
    expected = ws.metrics("2024-Q2")
    spark_ws = Workspace(demo_workspace, engine="spark")
    spark_ws.settings.workspace.spark_data_uri = str(tmp_path / "pq")
    assert spark_ws.metrics("2024-Q2") == expected
    # a wrong location is one clear error, not a Spark stack trace
    broken = Workspace(demo_workspace, engine="spark")
    broken.settings.workspace.spark_data_uri = str(tmp_path / "nowhere")
    from retentio.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot read"):
        broken.metrics("2024-06")


@pytest.mark.spark
def test_large_books_spread_shuffles_over_the_cores_with_the_same_figures(demo_workspace, tmp_path, monkeypatch):
    from retentio.engine import spark_engine

    monkeypatch.delenv("RETENTIO_SPARK_PARTITIONS", raising=False)
    expected = Workspace(demo_workspace).metrics("2024-Q2")
    lines = Workspace(demo_workspace).warehouse.count("subscriptions")

    def partitions_after_loading(threshold: int, uri: str = "") -> tuple[str, dict]:
        monkeypatch.setattr(spark_engine, "LARGE_BOOK_LINES", threshold)
        ws = Workspace(demo_workspace, engine="spark")
        ws.settings.workspace.spark_data_uri = uri
        figures = ws.metrics("2024-Q2")
        return ws.engine("spark").spark.conf.get("spark.sql.shuffle.partitions"), figures

    # local[2]: two partitions per core once the book has LARGE_BOOK_LINES lines, else one
    assert partitions_after_loading(lines) == ("4", expected)
    assert partitions_after_loading(lines + 1) == ("1", expected)
    Workspace(demo_workspace).export_parquet(tmp_path / "pq")
    assert partitions_after_loading(lines, str(tmp_path / "pq")) == ("4", expected)
    # an explicit setting wins
    monkeypatch.setenv("RETENTIO_SPARK_PARTITIONS", "3")
    spark_engine.spark_session().conf.set("spark.sql.shuffle.partitions", "3")
    assert partitions_after_loading(lines)[0] == "3"
    spark_engine.spark_session().conf.set("spark.sql.shuffle.partitions", "1")
