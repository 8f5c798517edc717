"""The registry is the one definition of every figure (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from retentio import figures
from retentio.figures import DIMENSIONS, SECTIONS, UNITS, Band, MetricDef, Zone, all_figures, evaluate, known_path


def _keys(obj, prefix="", out=None, *, groups=False):
    """Dotted keys of a JSON result; list items and group names (``groups`` dicts) dropped."""
    out = set() if out is None else out
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "groups" and groups and isinstance(v, dict):  # {group name: figures}
                for figures in v.values():
                    _keys(figures, f"{prefix}groups.", out)
                continue
            if isinstance(v, (dict, list)):
                _keys(v, f"{prefix}{k}.", out, groups=groups)
            else:
                out.add(f"{prefix}{k}")
    elif isinstance(obj, list):
        for v in obj[:20]:
            _keys(v, prefix, out, groups=groups)
    return out


def _unknown(result, *, groups=False):
    bad = []
    for path in _keys(result, groups=groups):
        parts = path.split(".")
        if parts[0] == "benchmarks" or "benchmarks" in parts:
            continue
        if known_path(path):
            continue
        if parts[-1] in DIMENSIONS or parts[0] in DIMENSIONS - {"overall", "groups", "rows", "accounts", "features",
                                                                 "summary", "per_milestone", "topics", "excluded"}:
            continue
        bad.append(path)
    return sorted(bad)


@pytest.mark.slow
def test_every_output_key_has_a_metricdef(demo_workspace):
    from retentio.service import Workspace

    ws = Workspace(demo_workspace)
    results = [
        ("metrics", ws.metrics("2024-12").to_dict(), False),
        ("metrics by", ws.metrics("2024-Q4", by="industry").to_dict(), True),
    ]
    for m in ("usage", "adoption", "key-time", "lifecycle", "ces", "ttfv", "onboarding", "trials"):
        results.append((f"engagement {m}", ws.engagement(m, period="2024-12"), False))
    for m in ("nps", "csat", "tickets", "sentiment"):
        results.append((f"satisfaction {m}", ws.satisfaction(m, period="2024", by=["month"] if m in ("nps", "csat") else None), False))
    results.append(("nps-vs-churn", ws.nps_vs_churn(6, as_of="2024-12-31"), False))
    for name, res, grouped in results:
        assert _unknown(res, groups=grouped) == [], name


def test_every_figure_is_complete():
    defs = all_figures()
    assert len(defs) > 100
    for d in defs.values():
        assert d.unit in UNITS and d.section in SECTIONS
        assert d.label and d.label_fr and d.formula, d.key
        if d.compute is not None:
            assert d.inputs, d.key
    # every section of the revenue table is used
    used = {d.section for d in defs.values()}
    assert set(SECTIONS) <= used


def test_revenue_figures_read_only_aggregates_or_figures():
    from dataclasses import fields

    from retentio.metrics.registry import METRICS, RevenueAggregates

    names = {f.name for f in fields(RevenueAggregates)} | set(METRICS)
    for d in METRICS.values():
        assert set(d.inputs) <= names, d.key


def test_band_status_and_words():
    # NRR: alarm below 1.00, good from 1.10, watch between (1.00 is watch, 1.10 is good)
    b = Band((Zone("alarm", hi=1.0), Zone("good", lo=1.10), Zone("watch")), "nrr")
    assert [b.status(v) for v in (0.99, 1.0, 1.0999, 1.10, 1.5)] == ["alarm", "watch", "watch", "good", "good"]
    assert b.words("rate") == "alarm: < 100 %; good: >= 110 %; watch: otherwise"
    # LTV:CRC: alarm at 2 and below (closed upper bound), good above
    b = Band((Zone("alarm", hi=2.0, hi_closed=True), Zone("good")), "ltv_crc")
    assert [b.status(v) for v in (1.5, 2.0, 2.01)] == ["alarm", "alarm", "good"]
    assert b.words("ratio") == "alarm: <= 2; good: otherwise"


def test_nps_band_is_the_registry_band():
    from retentio.satisfaction.surveys import nps_benchmark

    # seed 004: < 0 alarm, 0-30 watch, 30-50 good, 50+ best
    assert [nps_benchmark(v) for v in (-1, 0, 29.9, 30, 50)] == ["alarm", "watch", "watch", "good", "best"]
    assert figures.figure("nps").benchmark.words("score") == "alarm: < 0; watch: < 30; good: < 50; best: otherwise (NPS of B2B software)"


def test_evaluate_orders_by_dependency():
    # c = a + b, d = c * 2: d is defined first yet evaluates after c
    d = MetricDef("d_test", "d", "d", "count", "Revenue", "c x 2", ("c_test",), lambda c: c * 2)
    c = MetricDef("c_test", "c", "c", "count", "Revenue", "a + b", ("a", "b"), lambda a, b: a + b)
    assert evaluate([d, c], {"a": 1, "b": 2}) == {"d_test": 6, "c_test": 3}


def test_safe_div_is_undefined_not_zero():
    assert figures.safe_div(1, 0) is None and figures.safe_div(None, 2) is None and figures.safe_div(1, 4) == 0.25


def test_metrics_doc_tables_are_current():
    doc = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
    text = doc.read_text(encoding="utf-8")
    assert figures.render_tables() in text, "docs/metrics.md is stale: run `python -m retentio.figures docs/metrics.md`"
