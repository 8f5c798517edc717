"""Shared fixtures.

``engine_name`` parametrises a hand-computed test over DuckDB and Polars; with
``make_engine`` a test builds an engine over in-memory canonical tables.  PySpark proves
parity with DuckDB on the shared books of each capability (tests/parity), with ``local[2]``
and one session for the whole test run; tests marked ``spark`` are skipped, with one clear
reason, only when Java or PySpark is missing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from retentio.engine import Engine, open_engine
from retentio.engine.spark_engine import java_available
from retentio.model import ACCOUNT_ATTRIBUTES_TABLE, ENTITIES



def canonical_arrow(table: str, rows: list[dict]) -> pa.Table:
    """An Arrow table with the canonical schema of ``table`` (missing optional values = null)."""
    if table == ACCOUNT_ATTRIBUTES_TABLE:
        schema = pa.schema([("account_id", pa.string()), ("attribute", pa.string()), ("value", pa.string())])
    else:
        ent = next(e for e in ENTITIES.values() if e.table == table)
        schema = ent.arrow_schema
    cols = {f.name: [r.get(f.name) for r in rows] for f in schema}
    return pa.table({k: pa.array(v, type=schema.field(k).type) for k, v in cols.items()}, schema=schema)


# The test run's JVM (one Spark session for the run, many small queries on small books): the
# client JIT only (C2 compiling hot code costs more CPU than a test run of seconds-long queries
# gains from it), the serial collector (no GC threads competing for two cores), and no
# whole-stage code generation (each new query plan is otherwise compiled by Janino, which
# costs more than interpreting it on a few hundred rows).  Results are the same; a command's
# environment wins over these.  Measured together (CPU seconds of Python + JVM, interleaved
# runs on a loaded 2-core machine): session start 26 -> 15, the Spark change-point check of
# tests/metrics/test_change_points.py 231 -> 145.
os.environ.setdefault(
    "PYSPARK_SUBMIT_ARGS",
    '--driver-java-options "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC" '
    "--conf spark.sql.codegen.wholeStage=false pyspark-shell",
)


def spark_skip_reason() -> str | None:
    """The one rule for skipping Spark: only when Java or PySpark is missing."""
    if not java_available():
        return "PySpark engine skipped: Java 17 is not installed (apt-get install openjdk-17-jre-headless)"
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark engine skipped: pyspark is not installed (pip install 'retentio[spark]')"
    return None


def pytest_configure(config):
    # Declared here too, so that --strict-markers accepts it when xdist is off (-p no:xdist).
    config.addinivalue_line("markers", "xdist_group(name): run in the same xdist worker (pytest-xdist)")


def pytest_collection_modifyitems(config, items):
    # Every test marked ``spark`` is skipped with the same reason when Spark cannot run.
    # Under pytest-xdist (make test) they all go to one worker, so one Spark session serves them.
    # The Spark group is the longest unit of work: it is collected first, so that a worker
    # starts it at once and the other worker takes the rest (wall = max(Spark, rest / 2)).
    reason = spark_skip_reason()
    spark, other = [], []
    for item in items:
        if _slow_end_to_end(item.nodeid):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("spark"):
            item.add_marker(pytest.mark.xdist_group("spark"))
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))
            spark.append(item)
        else:
            other.append(item)
    items[:] = spark + other


# End-to-end tests that each took 5 s or more in `make check` (measured with --durations on
# 2026-11-30): whole CLI sessions over the demo workspace, the app's figure-parity sweeps,
# real worker processes killed mid-delivery.  They are marked slow here, in one place, so that
# `make check` (the edit loop) stays short; `make test` runs them all.
SLOW_END_TO_END = (
    "tests/app/test_api.py::test_other_figures_equal_the_cli_json",
    "tests/app/test_api.py::test_metrics_equal_the_cli_json",
    "tests/app/test_api.py::test_health_shows_in_the_portfolio_and_the_360_when_available",
    "tests/app/test_web.py::test_login_sets_a_safe_session_cookie_and_logout_ends_it",
    "tests/app/test_web.py::test_viewer_sees_no_write_forms_and_cannot_post",
    "tests/app/test_playbook_work.py::",
    "tests/app/test_cli_app.py::test_users_list_disable_and_tokens",
    "tests/engagement/test_rollups.py::test_rollup_results_equal_raw_event_results",
    "tests/cli/test_output_contract.py::test_relative_periods",
    "tests/cli/test_metrics_cmd.py::test_movements_explain_cohorts",
    "tests/cli/test_metrics_cmd.py::test_metrics_by_and_filter",
    "tests/demo/test_demo_cmd.py::test_demo_refuses_existing_data_without_force_then_replaces_with_force",
    "tests/ingest/test_ingest_atomicity.py::test_read_equals_accepted_plus_quarantined",
    "tests/playbooks/test_worker_kill.py::",
    "tests/metrics/test_incremental.py::test_incremental_equals_full_recompute_after_several_imports",
    "tests/health/test_backtest.py::test_no_future_leak",
    "tests/features/test_features.py::test_no_leakage_small_book",
)


def _slow_end_to_end(nodeid: str) -> bool:
    return any(nodeid == s or nodeid.startswith(s if s.endswith("::") else s + "[") for s in SLOW_END_TO_END)


# Hand-computed tests run on the two in-process engines; Spark proves that it agrees with
# DuckDB on the shared books of each capability (tests/parity), instead of re-running every
# hand-computed case in a JVM.
HAND_COMPUTED_ENGINES = ("duckdb", "polars")


@pytest.fixture(params=HAND_COMPUTED_ENGINES)
def engine_name(request) -> str:
    return request.param


def engine_over(engine_name: str, tables: dict[str, list[dict] | pa.Table]) -> Engine:
    """An engine of the given kind over in-memory canonical tables (rows as dicts or Arrow)."""
    arrow = {}
    all_tables = [e.table for e in ENTITIES.values()] + [ACCOUNT_ATTRIBUTES_TABLE]
    for t in all_tables:
        v = tables.get(t, [])
        arrow[t] = v if isinstance(v, pa.Table) else canonical_arrow(t, v)
    return open_engine(engine_name, arrow.__getitem__)


@pytest.fixture
def make_engine(engine_name) -> Callable[[dict[str, list[dict] | pa.Table]], Engine]:
    """Build an engine of the parametrised kind over in-memory tables.

    ``make_engine({"subscriptions": [ {...}, ... ], "accounts": [...]})``: rows are dicts with
    canonical column names; tables not given are empty.
    """
    engines: list[Engine] = []

    def factory(tables: dict[str, list[dict] | pa.Table]) -> Engine:
        eng = engine_over(engine_name, tables)
        engines.append(eng)
        return eng

    yield factory
    for e in engines:
        e.close()


@pytest.fixture
def workspace_dir(tmp_path) -> Path:
    return tmp_path / "ws"


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Path:
    """A small deterministic demo workspace (300 accounts, 24 months ending 2024-12), made
    once per test run and shared read-only by the tests that need realistic data."""
    from retentio.service import Workspace

    path = tmp_path_factory.mktemp("demo") / "ws"
    Workspace.demo(path, accounts=300, months=24, seed=7, end_month="2024-12", force=True)
    return path
