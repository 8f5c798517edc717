"""Spark gives exactly DuckDB's answers, capability by capability, on shared books.

The hand-computed tests run on DuckDB and Polars (tests/conftest.py); here the PySpark
engine (``local[2]``, one session for the run) computes the same questions on the books
those tests use — the metric books of tests/metrics and the demo workspace for engagement
and satisfaction — and every result must equal DuckDB's, to the cent and to the count.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "metrics"))

from metrics_books import own_book, public_book  # noqa: E402
from test_metrics_cohorts import cohort_book  # noqa: E402
from test_metrics_seed_examples import seed_book  # noqa: E402

from retentio.config import Settings  # noqa: E402
from retentio.metrics import cohorts, explain, metrics, metrics_series, movements  # noqa: E402
from tests.conftest import engine_over  # noqa: E402

pytestmark = pytest.mark.spark


def _both(book: dict):
    return engine_over("duckdb", book), engine_over("spark", book)


def test_revenue_metrics_own_book():
    # The richest book: FX, trials, reactivation, annual lines, costs, a region attribute.
    duck, spark = _both(own_book())
    s = Settings()
    try:
        period = "2023-11..2024-04"
        assert metrics_series(spark, s, period) == metrics_series(duck, s, period)
        assert metrics(spark, s, "2024-Q1", by="region") == metrics(duck, s, "2024-Q1", by="region")
        assert movements(spark, s, period) == movements(duck, s, period)
        assert explain(spark, s, "nrr", "2024-Q1") == explain(duck, s, "nrr", "2024-Q1")
    finally:
        duck.close()


def test_revenue_metrics_public_and_seed_books():
    s = Settings()
    for book, period, by in ((public_book, "2023-01..2024-02", None), (seed_book, "2024-02", "example")):
        duck, spark = _both(book())
        try:
            if by:
                assert metrics(spark, s, period, by=by) == metrics(duck, s, period, by=by)
            else:
                assert metrics_series(spark, s, period) == metrics_series(duck, s, period)
        finally:
            duck.close()


def test_cohorts():
    duck, spark = _both(cohort_book())
    s = Settings()
    try:
        for grain, measure in (("month", "mrr"), ("quarter", "logos")):
            assert (cohorts(spark, s, grain=grain, measure=measure, segment="seg")
                    == cohorts(duck, s, grain=grain, measure=measure, segment="seg"))
    finally:
        duck.close()


@pytest.fixture(scope="module")
def demo_pair(demo_workspace):
    from retentio import Workspace

    duck, spark = Workspace(demo_workspace, engine="duckdb"), Workspace(demo_workspace, engine="spark")
    yield duck, spark
    duck.close()
    spark.close()


@pytest.mark.parametrize("metric", ["usage", "adoption", "key-time", "lifecycle", "ces", "ttfv", "onboarding", "trials"])
def test_engagement_on_the_demo_book(demo_pair, metric):
    duck, spark = demo_pair
    assert spark.engagement(metric, period="2024-Q4") == duck.engagement(metric, period="2024-Q4")
    if metric == "usage":  # the base's rows alone are summed in the engine (usage._base_row)
        assert (spark.engagement("usage", period="2024-12", per_account=False)
                == duck.engagement("usage", period="2024-12", per_account=False))


@pytest.mark.parametrize("metric", ["nps", "csat", "tickets", "sentiment"])
def test_satisfaction_on_the_demo_book(demo_pair, metric):
    duck, spark = demo_pair
    assert spark.satisfaction(metric, period="2024-Q4") == duck.satisfaction(metric, period="2024-Q4")


def test_nps_vs_churn_on_the_demo_book(demo_pair):
    duck, spark = demo_pair
    assert spark.nps_vs_churn(months=6, as_of="2024-12") == duck.nps_vs_churn(months=6, as_of="2024-12")
