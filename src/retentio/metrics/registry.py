"""Metrics as data: each figure's name, formula in words, inputs and how to recompute it
from them.  ``explain``, ``docs/metrics.md`` and the API schema read this registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MetricDef:
    name: str
    title: str
    formula: str
    inputs: tuple[tuple[str, str], ...]  # (input name, path in the figures dict)
    recompute: Callable[[dict], float | None]
    unit: str = "ratio"  # ratio | money | count
    contributors: str = "snapshot"  # snapshot | endpoint | movements:<kinds>
    settings: tuple[str, ...] = field(default=())
    module: str = "src/retentio/metrics/kpis.py"


def _d(a, b):
    return None if a is None or b in (None, 0) else a / b


def _m(key: str) -> str:
    return f"movements.{key}"


METRICS: dict[str, MetricDef] = {}


def _add(d: MetricDef) -> None:
    METRICS[d.name] = d


_add(MetricDef("mrr", "Monthly recurring revenue", "sum over customers of the MRR of their active paid lines at the period's end snapshot",
               (("mrr", "mrr"),), lambda i: i["mrr"], "money", "snapshot", ("fx_rule",), "src/retentio/metrics/mrr.py"))
_add(MetricDef("arr", "Annual recurring revenue",
               "sum over active paid lines of amount x 12 / billing period months (= 12 x MRR up to per-line cent rounding)",
               (("arr", "arr"), ("mrr", "mrr")), lambda i: i["arr"], "money", "snapshot", ("fx_rule",),
               "src/retentio/metrics/mrr.py"))
_add(MetricDef("customers", "Customers", "accounts with MRR > 0 at the period's end snapshot", (("customers", "customers"),),
               lambda i: i["customers"], "count"))
_add(MetricDef("arpa", "Average revenue per account", "MRR / customers", (("mrr", "mrr"), ("customers", "customers")),
               lambda i: _d(i["mrr"], i["customers"]), "money"))
_add(MetricDef("customer_churn_rate", "Customer churn rate",
               "customers at the start not customers at the end / customers at the start",
               (("customers_lost", "_lost"), ("customers_start", "customers_start")),
               lambda i: _d(i["customers_lost"], i["customers_start"]), "ratio", "endpoint"))
_add(MetricDef("gross_mrr_churn_rate", "Gross MRR churn rate", "(churn + contraction) / start MRR",
               (("churn", _m("churn")), ("contraction", _m("contraction")), ("mrr_start", "mrr_start")),
               lambda i: _d(i["churn"] + i["contraction"], i["mrr_start"]), "ratio", "movements:churn,contraction",
               module="src/retentio/metrics/movements.py"))
_add(MetricDef("net_mrr_churn_rate", "Net MRR churn rate", "(churn + contraction - expansion - reactivation) / start MRR",
               (("churn", _m("churn")), ("contraction", _m("contraction")), ("expansion", _m("expansion")),
                ("reactivation", _m("reactivation")), ("mrr_start", "mrr_start")),
               lambda i: _d(i["churn"] + i["contraction"] - i["expansion"] - i["reactivation"], i["mrr_start"]), "ratio",
               "movements:churn,contraction,expansion,reactivation", module="src/retentio/metrics/movements.py"))
_add(MetricDef("nrr", "Net revenue retention",
               "end MRR of the accounts that were customers at the start / their start MRR",
               (("mrr_start", "mrr_start"), ("end_mrr_of_start_customers", "_nrr_numerator")),
               lambda i: _d(i["end_mrr_of_start_customers"], i["mrr_start"]), "ratio", "endpoint"))
_add(MetricDef("grr", "Gross revenue retention",
               "sum over start customers of min(end MRR, start MRR) / their start MRR",
               (("mrr_start", "mrr_start"), ("kept_mrr_of_start_customers", "_grr_numerator")),
               lambda i: _d(i["kept_mrr_of_start_customers"], i["mrr_start"]), "ratio", "endpoint"))
_add(MetricDef("crr", "Customer retention rate", "(customers at end - new customers at end) / customers at start",
               (("customers_start", "customers_start"), ("retained_customers", "_retained")),
               lambda i: _d(i["retained_customers"], i["customers_start"]), "ratio", "endpoint"))
_add(MetricDef("quick_ratio", "Quick ratio", "(new + expansion + reactivation) / (churn + contraction)",
               (("new", _m("new")), ("expansion", _m("expansion")), ("reactivation", _m("reactivation")),
                ("churn", _m("churn")), ("contraction", _m("contraction"))),
               lambda i: _d(i["new"] + i["expansion"] + i["reactivation"], i["churn"] + i["contraction"]), "ratio",
               "movements:new,expansion,reactivation,churn,contraction"))
_add(MetricDef("ltv", "Lifetime value", "ARPA / mean monthly customer churn rate over the last N months (setting ltv_variant)",
               (("arpa", "arpa"), ("ltv", "ltv")), lambda i: i["ltv"], "money", "snapshot",
               ("ltv_variant", "ltv_churn_window_months", "gross_margin")))
_add(MetricDef("cac", "Customer acquisition cost", "sales & marketing cost / new customers",
               (("sales_marketing", "costs.sales_marketing"), ("customers_new", "customers_new")),
               lambda i: _d(i["sales_marketing"], i["customers_new"]), "money", module="src/retentio/metrics/costs.py"))
_add(MetricDef("crc", "Customer retention cost", "(CS + support cost) / customers served in the period",
               (("cs_team", "costs.cs_team"), ("support_team", "costs.support_team"), ("customers_served", "customers_served")),
               lambda i: _d((i["cs_team"] or 0) + (i["support_team"] or 0), i["customers_served"]), "money",
               module="src/retentio/metrics/costs.py"))
_add(MetricDef("cs_magic_number", "CS Magic Number", "(MRR of renewed accounts + expansion MRR) / (CS + support cost)",
               (("renewed_mrr", "renewals.renewed_mrr"), ("expansion", _m("expansion")), ("cs_team", "costs.cs_team"),
                ("support_team", "costs.support_team")),
               lambda i: _d(i["renewed_mrr"] + i["expansion"], (i["cs_team"] or 0) + (i["support_team"] or 0)), "ratio",
               "movements:expansion", module="src/retentio/metrics/renewals.py"))
_add(MetricDef("cs_headwind", "CS Headwind", "(churned MRR + contraction MRR) / start MRR",
               (("churn", _m("churn")), ("contraction", _m("contraction")), ("mrr_start", "mrr_start")),
               lambda i: _d(i["churn"] + i["contraction"], i["mrr_start"]), "ratio", "movements:churn,contraction"))
_add(MetricDef("cs_tailwind", "CS Tailwind", "expansion MRR / start MRR",
               (("expansion", _m("expansion")), ("mrr_start", "mrr_start")),
               lambda i: _d(i["expansion"], i["mrr_start"]), "ratio", "movements:expansion"))
_add(MetricDef("renewal_rate", "Renewal rate", "renewed lines / paid lines whose end date falls in the period",
               (("renewed", "renewals.renewed"), ("renewable", "renewals.renewable")),
               lambda i: _d(i["renewed"], i["renewable"]), "ratio", "snapshot", ("renewal_window_days",),
               "src/retentio/metrics/renewals.py"))
_add(MetricDef("trial_conversion_rate", "Trial-to-paid conversion", "converted trial accounts / accounts whose trial ended in the period",
               (("converted", "trials.converted"), ("trials_ended", "trials.ended")),
               lambda i: _d(i["converted"], i["trials_ended"]), "ratio", "snapshot", ("trial_conversion_window_days",),
               "src/retentio/metrics/renewals.py"))
_add(MetricDef("expansion_share", "Expansion share of new MRR", "expansion / (new + expansion + reactivation)",
               (("expansion", _m("expansion")), ("new", _m("new")), ("reactivation", _m("reactivation"))),
               lambda i: _d(i["expansion"], i["new"] + i["expansion"] + i["reactivation"]), "ratio",
               "movements:new,expansion,reactivation"))
for _k in ("new", "expansion", "contraction", "churn", "reactivation"):
    _add(MetricDef(f"{_k}_mrr", f"{_k.capitalize()} MRR", f"sum of the {_k} movements of the period's months",
                   ((_k, _m(_k)),), lambda i, _k=_k: i[_k], "money", f"movements:{_k}",
                   module="src/retentio/metrics/movements.py"))

# -- currency effect and line kinds (metrics.md §2-§3, issue 11) ---------------------------
_add(MetricDef("fx_mrr", "Currency effect (fx)",
               "sum over accounts customers at both snapshots of end MRR - end MRR at the start snapshot's rates "
               "(signed; start + new + reactivation + expansion - contraction - churn + fx = end)",
               (("fx", _m("fx")),), lambda i: i["fx"], "money", "movements:fx",
               ("fx_rule",), "src/retentio/metrics/changes.py"))
_add(MetricDef("nrr_constant_currency", "Net revenue retention at constant currency",
               "end MRR of the start customers, their lines active at both snapshots at the start snapshot's rates "
               "/ their start MRR",
               (("mrr_start", "mrr_start"), ("end_mrr_of_start_customers_constant_currency", "_nrr_cc_numerator")),
               lambda i: _d(i["end_mrr_of_start_customers_constant_currency"], i["mrr_start"]), "ratio", "endpoint",
               ("fx_rule",), "src/retentio/metrics/changes.py"))
_add(MetricDef("grr_constant_currency", "Gross revenue retention at constant currency",
               "sum over start customers of min(end MRR at constant currency, start MRR) / their start MRR",
               (("mrr_start", "mrr_start"), ("kept_mrr_of_start_customers_constant_currency", "_grr_cc_numerator")),
               lambda i: _d(i["kept_mrr_of_start_customers_constant_currency"], i["mrr_start"]), "ratio", "endpoint",
               ("fx_rule",), "src/retentio/metrics/changes.py"))
_add(MetricDef("one_off_revenue", "One-off revenue (not MRR)",
               "sum of the one-off lines dated in the period, at the rate in force on their date",
               (("one_off_revenue", "one_off_revenue"),), lambda i: i["one_off_revenue"], "money", "snapshot",
               module="src/retentio/metrics/kpis.py"))
