"""The Python API and the invariants of the revenue metrics on a realistic demo book."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest

from retentio import UsageError, Workspace
from retentio.metrics.periods import month_label, parse_period


def test_bridge_balances_every_month_of_the_demo_book(demo_workspace):
    """start + new + reactivation + expansion - contraction - churn = end, for every month,
    and each month starts where the previous one ended (issue 4 acceptance)."""
    ws = Workspace(demo_workspace)
    series = ws.metrics_series("2023-01..2024-12")
    assert [r["period"] for r in series] == [month_label(m) for m in parse_period("2023-01..2024-12").months]
    previous_end = None
    for r in series:
        mv = r["movements"]
        # metrics.md §3 (amended): the bridge includes the signed currency effect fx
        bridge = (r["mrr_start"] + mv["new"] + mv["reactivation"] + mv["expansion"] - mv["contraction"] - mv["churn"]
                  + mv["fx"])
        assert bridge == pytest.approx(r["mrr"], abs=0.005), r["period"]
        assert r["customers_start"] + r["customers_new"] + r["customers_reactivated"] - r["customers_churned"] == r["customers"]
        if previous_end is not None:
            assert r["mrr_start"] == pytest.approx(previous_end, abs=0.005)
        previous_end = r["mrr"]
    assert series[-1]["mrr"] > 0 and series[-1]["customers"] > 0


def test_quarter_sums_its_months_and_compares_endpoints(demo_workspace):
    ws = Workspace(demo_workspace)
    q = ws.metrics("2024-Q2")
    months = ws.metrics_series("2024-04..2024-06")
    for k in ("new", "expansion", "contraction", "churn", "reactivation"):
        assert q["movements"][k] == pytest.approx(sum(m["movements"][k] for m in months), abs=0.005)
    assert q["mrr_start"] == months[0]["mrr_start"]
    assert q["mrr"] == months[-1]["mrr"]
    # Endpoint NRR of the quarter is not the product of monthly NRRs in general, but it is
    # bounded by GRR below (expansion can only add).
    assert q["grr"] <= q["nrr"]


def test_by_attribute_groups_add_up_to_the_whole(demo_workspace):
    ws = Workspace(demo_workspace)
    whole = ws.metrics("2024-06")
    grouped = ws.metrics("2024-06", by="size")
    assert grouped["by"] == "size" and grouped["period"] == "2024-06"
    groups = grouped["groups"]
    assert set(groups) <= {"micro", "SMB", "mid-market", "enterprise", "(none)"}
    assert sum(g["mrr"] for g in groups.values()) == pytest.approx(whole["mrr"], abs=0.01)
    assert sum(g["customers"] for g in groups.values()) == whole["customers"]
    for k in ("new", "churn", "expansion"):
        assert sum(g["movements"][k] for g in groups.values()) == pytest.approx(whole["movements"][k], abs=0.01)
    # Costs are company-wide: not attributed to segments.
    assert all(g["cac"] is None for g in groups.values())


def test_filter_restricts_to_the_segment(demo_workspace):
    ws = Workspace(demo_workspace)
    grouped = ws.metrics("2024-06", by="size")["groups"]
    only = ws.metrics("2024-06", filters={"size": "enterprise"})
    assert only["mrr"] == pytest.approx(grouped["enterprise"]["mrr"], abs=0.01)
    assert only["customers"] == grouped["enterprise"]["customers"]


def test_touch_tiers_follow_the_settings(demo_workspace):
    ws = Workspace(demo_workspace)
    t = ws.settings.metrics.touch_tiers
    groups = ws.metrics("2024-06", by="touch")["groups"]
    for name, g in groups.items():
        if g["customers"]:
            if name == "high":
                assert g["arpa"] >= t.high
            elif name == "tech":
                assert g["arpa"] < t.low


def test_metrics_frame_in_pandas_and_polars(demo_workspace):
    ws = Workspace(demo_workspace)
    pdf = ws.metrics_frame("2024-01..2024-03")
    assert isinstance(pdf, pd.DataFrame) and list(pdf["period"]) == ["2024-01", "2024-02", "2024-03"]
    assert "movements.new" in pdf.columns and "mrr" in pdf.columns
    plf = ws.metrics_frame("2024-01..2024-03", backend="polars")
    assert isinstance(plf, pl.DataFrame) and plf.height == 3
    assert plf["mrr"].to_list() == list(pdf["mrr"])
    with pytest.raises(UsageError):
        ws.metrics_frame("2024-01", backend="excel")


def test_explain_recomputes_its_value_from_its_inputs(demo_workspace):
    ws = Workspace(demo_workspace)
    for metric in ("nrr", "grr", "gross_mrr_churn_rate", "quick_ratio", "arpa", "customer_churn_rate"):
        e = ws.explain(metric, "2024-06")
        assert e["value"] == pytest.approx(e["recomputed_from_inputs"], rel=1e-9), metric
        assert e["formula"] and e["accounts"], metric


def test_movements_add_up_to_the_bridge(demo_workspace):
    ws = Workspace(demo_workspace)
    fig = ws.metrics("2024-06")
    mv = ws.movements("2024-06")
    for kind in ("new", "expansion", "contraction", "churn", "reactivation"):
        assert sum(m["amount"] for m in mv if m["type"] == kind) == pytest.approx(fig["movements"][kind], abs=0.01)
    for m in mv:
        # the lines behind a movement explain its start and end MRR
        assert sum(ln["mrr_end"] for ln in m["lines"]) == pytest.approx(m["mrr_end"], abs=0.01)
        assert sum(ln["mrr_start"] for ln in m["lines"]) == pytest.approx(m["mrr_start"], abs=0.01)
    churn_only = ws.movements("2024-06", type="churn")
    assert {m["type"] for m in churn_only} <= {"churn"}
    with pytest.raises(UsageError):
        ws.movements("2024-06", type="upsell")


def test_cohort_triangle_starts_at_one_and_is_a_triangle(demo_workspace):
    ws = Workspace(demo_workspace)
    c = ws.cohorts(measure="mrr", values="relative", through="2024-12")
    rows = c["rows"]
    assert rows, "the demo book has cohorts"
    lengths = [len(r["values"]) for r in rows]
    assert lengths == sorted(lengths, reverse=True)  # older cohorts have more ages
    assert all(r["values"][0] == 1.0 for r in rows if r["values"][0] is not None)
    logos = ws.cohorts(measure="logos", values="absolute", through="2024-12")["rows"]
    assert all(r["values"][0] <= r["size"] for r in logos)


def test_bad_period_is_a_usage_error(demo_workspace):
    ws = Workspace(demo_workspace)
    for bad in ("2024-13", "March", "2024-06..2024-01", ""):
        with pytest.raises(UsageError):
            ws.metrics(bad)
