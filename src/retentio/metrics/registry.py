"""The revenue and retention figures (metrics.md §1-§8, §13), each defined once.

The compute pass (``kpis.py``) produces one :class:`RevenueAggregates` per period (and
group): integer cents and counts summed by the engine.  Every figure below is a formula on
those aggregates (or on other figures), evaluated by :func:`retentio.figures.evaluate`;
``retentio metrics``, ``explain``, the table formatting and ``docs/metrics.md`` all read
these definitions.  Money aggregates are in cents and named ``*_cents``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from retentio.figures import ABSENT, Band, MetricDef, Zone, register, safe_div

# The kinds of MRR movement, in the order of the output (retentio.metrics.movements classifies them).
MOVEMENT_TYPES = ("new", "expansion", "contraction", "churn", "reactivation", "fx")

__all__ = ["AGGREGATE_LABELS", "COST_CATEGORIES", "METRICS", "MOVEMENT_TYPES", "RevenueAggregates", "annualise"]

COST_CATEGORIES = ("cost_of_revenue", "cs_team", "other", "sales_marketing", "support_team")
CS_COSTS = ("cs_team", "support_team")
ANNUALISED = ("customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "cs_headwind", "cs_tailwind")


@dataclass(frozen=True)
class RevenueAggregates:
    """What the engine sums for one period (and group): the inputs of every revenue figure."""

    n_months: int
    mrr_cents: int
    arr_cents: int
    customers: int
    mrr_start_cents: int
    customers_start: int
    new_cents: int
    expansion_cents: int
    contraction_cents: int
    churn_cents: int
    reactivation_cents: int
    fx_cents: int  # the currency effect (signed): expansion and contraction are at constant currency
    n_new: int
    n_churn: int
    n_reactivation: int
    # endpoint comparison: S = customers at the period's start snapshot
    s_customers: int
    s_mrr_cents: int
    s_end_mrr_cents: int
    s_kept_mrr_cents: int
    s_end_mrr_cc_cents: int  # s_end_mrr with the end MRR at constant currency (metrics.md §3)
    s_kept_mrr_cc_cents: int  # s_kept_mrr likewise
    s_retained: int
    s_lost: int  # of S, accounts that are not customers at the end
    end_customers: int
    end_not_in_s: int
    t12_s_mrr_cents: int
    t12_s_end_mrr_cents: int
    t12_s_kept_mrr_cents: int
    # monthly customer churn: mean over the LTV window, and of the period's last month
    window_churn: float | None
    last_month_churn: float | None
    revenue_cents: int  # sum of the months' end MRR (for a derived gross margin)
    retained_cents: int  # sum over months of start MRR - churn - contraction (CS ROI)
    customers_served: int
    one_off_cents: int  # one-off lines dated in the period's months (metrics.md §2: never MRR)
    renewable: int
    renewed: int
    renewed_mrr_cents: int
    trials_ended: int
    trials_converted: int
    costs_cents: Mapping[str, int] | None  # None: costs not attributed (groups, filters)
    # settings the formulas read
    ltv_variant: str
    gross_margin_setting: float | None
    annualisation: str
    cs_attribution: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# What each aggregate is, in words: `explain` shows these beside the inputs' names, so a user
# redoing a figure by hand reads "end MRR of the accounts in S" rather than `s_end_mrr`.
AGGREGATE_LABELS: dict[str, str] = {
    "n_months": "months in the period",
    "mrr_cents": "MRR at the period's end",
    "arr_cents": "ARR at the period's end",
    "customers": "customers at the period's end",
    "mrr_start_cents": "MRR at the period's start",
    "customers_start": "customers at the period's start",
    "new_cents": "new MRR",
    "expansion_cents": "expansion MRR (constant currency)",
    "contraction_cents": "contraction MRR (constant currency)",
    "churn_cents": "churned MRR",
    "reactivation_cents": "reactivation MRR",
    "fx_cents": "currency effect (signed)",
    "n_new": "new customers",
    "n_churn": "churned customers",
    "n_reactivation": "reactivated customers",
    "s_customers": "S: customers at the start",
    "s_mrr_cents": "start MRR of S",
    "s_end_mrr_cents": "end MRR of S",
    "s_kept_mrr_cents": "end MRR of S, each account capped at its start MRR",
    "s_end_mrr_cc_cents": "end MRR of S at constant currency",
    "s_kept_mrr_cc_cents": "end MRR of S at constant currency, capped at start MRR",
    "s_retained": "accounts of S still customers at the end",
    "s_lost": "accounts of S no longer customers at the end",
    "end_customers": "customers at the end",
    "end_not_in_s": "customers at the end who were not in S",
    "t12_s_mrr_cents": "MRR 12 months before the end of the accounts then customers (T)",
    "t12_s_end_mrr_cents": "end MRR of T",
    "t12_s_kept_mrr_cents": "end MRR of T, each account capped at its MRR 12 months before",
    "window_churn": "mean monthly customer churn over the LTV window",
    "last_month_churn": "customer churn of the period's last month",
    "revenue_cents": "revenue: sum of the months' end MRR",
    "retained_cents": "retained MRR: start MRR - churn - contraction, summed over months",
    "customers_served": "customers served in the period",
    "one_off_cents": "one-off revenue dated in the period",
    "renewable": "contracts up for renewal",
    "renewed": "contracts renewed",
    "renewed_mrr_cents": "MRR of the renewed contracts",
    "trials_ended": "trials ended",
    "trials_converted": "trials converted",
    "costs_cents": "costs by category",
    "ltv_variant": "setting: LTV variant",
    "gross_margin_setting": "setting: gross margin",
    "annualisation": "setting: annualisation",
    "cs_attribution": "setting: share of expansion attributed to CS",
}


def _eur(cents: int) -> float:
    return cents / 100


def _same(n):
    return n


def _arpa(mrr_cents: int, customers: int) -> float | None:
    a = safe_div(mrr_cents, customers)
    return None if a is None else a / 100


def _cost(costs: Mapping[str, int] | None, *cats: str) -> float | None:
    if costs is None or not any(c in costs for c in cats):
        return None
    return sum(costs.get(c, 0) for c in cats) / 100


def _ltv_of(arpa: float | None, churn: float | None) -> float | None:
    if arpa is None or churn is None or churn == 0:
        return None
    return arpa / churn


def annualise(rate: float | None, n_months: int, rule: str) -> float | None:
    """A rate over n months as a yearly rate: compound 1 - (1 - monthly)^12, or linear 12 x monthly."""
    if rate is None:
        return None
    if n_months == 1:
        monthly = rate
    else:
        if rate >= 1:
            return 1.0
        monthly = 1 - (1 - rate) ** (1 / n_months)
    if rule == "linear":
        return 12 * monthly
    if monthly >= 1:
        return 1.0
    return 1 - (1 - monthly) ** 12


def _churn_for_ltv(variant: str, window: float | None, last: float | None) -> float | None:
    return last if variant == "current_month" else window


def _ltv_crc(ltv, crc, n_months, variant, window, last):
    churn = _churn_for_ltv(variant, window, last)
    if ltv is None or crc in (None, 0) or not churn:
        return None
    return ltv / (crc / n_months * (1 / churn))


def _gross_margin(setting, costs, revenue_cents):
    if setting is None and costs is not None and "cost_of_revenue" in costs:
        return None if revenue_cents == 0 else 1 - costs["cost_of_revenue"] / revenue_cents
    return setting


def _cs_roi(costs, attribution, retained_cents, expansion_cents):
    cs_team = _cost(costs, "cs_team")
    if cs_team in (None, 0):
        return None
    return (attribution * (retained_cents + expansion_cents) / 100 - cs_team) / cs_team


def _cs_magic(costs, renewed_mrr_cents, expansion_cents):
    support = _cost(costs, *CS_COSTS)
    return safe_div(None if support is None else (renewed_mrr_cents + expansion_cents) / 100, support)


M = "src/retentio/metrics/"
LOST = ("churn_cents", "contraction_cents")
GAINED = ("new_cents", "expansion_cents", "reactivation_cents")


def _def(key, label, label_fr, unit, section, formula, inputs, compute, **kw) -> MetricDef:
    kw.setdefault("module", M + "kpis.py")
    return MetricDef(key, label, label_fr, unit, section, formula, tuple(inputs), compute, **kw)


def _higher(alarm_below: float, good_from: float, judged: str, note: str, source: str) -> Band:
    return Band((Zone("alarm", hi=alarm_below), Zone("good", lo=good_from), Zone("watch")), judged, note, source)


def _lower(alarm_above: float, good_below: float, judged: str, note: str, source: str) -> Band:
    return Band((Zone("alarm", lo=alarm_above, lo_open=True), Zone("good", hi=good_below), Zone("watch")),
                judged, note, source)


_defs: list[MetricDef] = [
    _def("mrr", "MRR", "MRR", "money", "Revenue",
         "sum over customers of the MRR of their active paid lines at the period's end snapshot",
         ["mrr_cents"], _eur, settings=("fx_rule",), module=M + "mrr.py",
         doc="Monthly recurring revenue at the last day of the period."),
    _def("arr", "ARR", "ARR", "money", "Revenue",
         "sum over active paid lines of amount x 12 / billing period months (= 12 x MRR up to per-line cent rounding)",
         ["arr_cents"], _eur, settings=("fx_rule",), module=M + "mrr.py",
         doc="Annual recurring revenue, annualised per line before rounding."),
    _def("customers", "Customers", "Clients", "count", "Revenue", "accounts with MRR > 0 at the period's end snapshot",
         ["customers"], _same),
    _def("arpa", "ARPA", "Revenu moyen par compte", "money", "Revenue", "MRR / customers",
         ["mrr_cents", "customers"], _arpa, doc="Average revenue per account at the period's end."),
    _def("arpa_change", "ARPA change", "Évolution de l'ARPA", "rate", "Revenue",
         "(ARPA at the end - ARPA at the start) / ARPA at the start",
         ["mrr_cents", "customers", "mrr_start_cents", "customers_start"],
         lambda m, c, ms, cs: (lambda a, a0: None if a is None or not a0 else (a - a0) / a0)(_arpa(m, c), _arpa(ms, cs))),
    _def("mrr_start", "MRR at the start", "MRR au début", "money", "Revenue",
         "MRR at the start snapshot (end of the month before the period)", ["mrr_start_cents"], _eur),
    _def("customers_start", "Customers at the start", "Clients au début", "count", "Revenue",
         "customers at the start snapshot", ["customers_start"], _same),
    *[
        _def(f"{t}_mrr", f"{t.capitalize()} MRR", {"new": "MRR nouveau", "expansion": "MRR d'expansion",
             "contraction": "MRR de contraction", "churn": "MRR perdu (churn)", "reactivation": "MRR réactivé"}[t],
             "money", "Movements", f"sum of the {t} movements of the period's months"
             + (" (at constant currency: end lines at the start snapshot's rates)" if t in ("expansion", "contraction")
                else ""), [f"{t}_cents"], _eur,
             path=f"movements.{t}", contributors=f"movements:{t}", module=M + "changes.py")
        for t in MOVEMENT_TYPES if t != "fx"
    ],
    _def("fx_mrr", "Currency effect (fx)", "Effet de change", "money", "Movements",
         "sum over accounts customers at both snapshots of end MRR - end MRR at the start snapshot's rates "
         "(signed; start + new + reactivation + expansion - contraction - churn + fx = end)",
         ["fx_cents"], _eur, path="movements.fx", contributors="movements:fx", settings=("fx_rule",),
         module=M + "changes.py"),
    _def("customers_new", "New customers", "Nouveaux clients", "count", "Movements",
         "accounts with a new movement in the period's months", ["n_new"], _same),
    _def("customers_churned", "Churned customers", "Clients perdus", "count", "Movements",
         "accounts with a churn movement in the period's months", ["n_churn"], _same),
    _def("customers_reactivated", "Reactivated customers", "Clients réactivés", "count", "Movements",
         "accounts with a reactivation movement in the period's months", ["n_reactivation"], _same),
    _def("customer_churn_rate", "Customer churn rate", "Taux d'attrition clients", "rate", "Retention",
         "customers at the start not customers at the end / customers at the start",
         ["s_lost", "s_customers"], safe_div, contributors="endpoint",
         benchmark=_lower(0.20, 0.10, "customer_churn_rate_annualised", "annual customer churn, SMB band", "seed 004")),
    _def("gross_mrr_churn_rate", "Gross MRR churn rate", "Taux d'attrition brut du MRR", "rate", "Retention",
         "(churn + contraction) / start MRR", [*LOST, "mrr_start_cents"], lambda ch, co, s: safe_div(ch + co, s),
         contributors="movements:churn,contraction", module=M + "movements.py"),
    _def("net_mrr_churn_rate", "Net MRR churn rate", "Taux d'attrition net du MRR", "rate", "Retention",
         "(churn + contraction - expansion - reactivation) / start MRR",
         [*LOST, "expansion_cents", "reactivation_cents", "mrr_start_cents"],
         lambda ch, co, ex, re, s: safe_div(ch + co - ex - re, s),
         contributors="movements:churn,contraction,expansion,reactivation", module=M + "movements.py"),
    _def("nrr", "Net revenue retention", "Rétention nette du revenu (NRR)", "rate", "Retention",
         "end MRR of the accounts that were customers at the start / their start MRR",
         ["s_end_mrr_cents", "s_mrr_cents"], safe_div, contributors="endpoint",
         benchmark=_higher(1.0, 1.10, "nrr", "below 100 % the base shrinks; 110 % and more is best in class", "seed 001")),
    _def("grr", "Gross revenue retention", "Rétention brute du revenu (GRR)", "rate", "Retention",
         "sum over start customers of min(end MRR, start MRR) / their start MRR",
         ["s_kept_mrr_cents", "s_mrr_cents"], safe_div, contributors="endpoint"),
    _def("nrr_constant_currency", "NRR at constant currency", "NRR à taux de change constant", "rate", "Retention",
         "end MRR of the start customers, their lines active at both snapshots at the start snapshot's rates "
         "/ their start MRR", ["s_end_mrr_cc_cents", "s_mrr_cents"], safe_div, contributors="endpoint",
         settings=("fx_rule",), module=M + "changes.py"),
    _def("grr_constant_currency", "GRR at constant currency", "GRR à taux de change constant", "rate", "Retention",
         "sum over start customers of min(end MRR at constant currency, start MRR) / their start MRR",
         ["s_kept_mrr_cc_cents", "s_mrr_cents"], safe_div, contributors="endpoint", settings=("fx_rule",),
         module=M + "changes.py"),
    _def("crr", "Customer retention rate", "Taux de rétention clients", "rate", "Retention",
         "(customers at end - new customers at end) / customers at start",
         ["end_customers", "end_not_in_s", "s_customers"], lambda e, n, s: safe_div(e - n, s), contributors="endpoint"),
    _def("quick_ratio", "Quick ratio", "Quick ratio", "ratio", "Movements",
         "(new + expansion + reactivation) / (churn + contraction)", [*GAINED, *LOST],
         lambda n, e, r, ch, co: safe_div(n + e + r, ch + co),
         contributors="movements:new,expansion,reactivation,churn,contraction"),
    _def("ltv", "Lifetime value", "Valeur vie client (LTV)", "money", "Unit economics",
         "ARPA / mean monthly customer churn rate over the last N months (setting ltv_variant)",
         ["ltv_variant", "ltv_six_month_average", "ltv_current_month", "ltv_gross_margin"],
         lambda v, six, cur, gm: {"six_month_average": six, "current_month": cur, "gross_margin": gm}[v],
         settings=("ltv_variant", "ltv_churn_window_months", "gross_margin")),
    _def("ltv_six_month_average", "LTV (mean churn of the window)", "LTV (attrition moyenne de la fenêtre)", "money",
         "Unit economics", "ARPA / mean monthly customer churn over the last ltv_churn_window_months months",
         ["arpa", "window_churn"], _ltv_of, path="ltv_variants.six_month_average", settings=("ltv_churn_window_months",)),
    _def("ltv_current_month", "LTV (churn of the last month)", "LTV (attrition du dernier mois)", "money",
         "Unit economics", "ARPA / customer churn of the period's last month", ["arpa", "last_month_churn"], _ltv_of,
         path="ltv_variants.current_month"),
    _def("ltv_gross_margin", "LTV x gross margin", "LTV x marge brute", "money", "Unit economics",
         "LTV (mean churn of the window) x gross margin", ["ltv_six_month_average", "gross_margin"],
         lambda ltv, m: ltv * m if ltv is not None and m is not None else None, path="ltv_variants.gross_margin",
         settings=("gross_margin",)),
    _def("cac", "Customer acquisition cost", "Coût d'acquisition client (CAC)", "money", "Unit economics",
         "sales & marketing cost / new customers", ["costs_cents", "n_new"],
         lambda c, n: safe_div(_cost(c, "sales_marketing"), n), module=M + "costs.py"),
    _def("ltv_cac", "LTV:CAC", "LTV:CAC", "ratio", "Unit economics", "LTV / CAC", ["ltv", "cac"], safe_div,
         benchmark=Band((Zone("alarm", hi=1.0), Zone("good", lo=3.0, hi=5.0), Zone("watch")), "ltv_cac",
                        "3 is ideal, 5 or more is under-investing", "seed 004")),
    _def("crc", "Customer retention cost", "Coût de rétention client (CRC)", "money", "Customer Success efficiency",
         "(CS + support cost) / customers served in the period", ["costs_cents", "customers_served"],
         lambda c, n: safe_div(_cost(c, *CS_COSTS), n), module=M + "costs.py"),
    _def("ltv_crc", "LTV:CRC", "LTV:CRC", "ratio", "Customer Success efficiency",
         "LTV / (CRC per month x expected lifetime in months = 1 / monthly churn)",
         ["ltv", "crc", "n_months", "ltv_variant", "window_churn", "last_month_churn"], _ltv_crc,
         benchmark=Band((Zone("alarm", hi=2.0, hi_closed=True), Zone("good")), "ltv_crc",
                        "2:1 or below: too much spent on retention", "seed 002")),
    _def("cs_magic_number", "CS Magic Number", "CS Magic Number", "ratio", "Customer Success efficiency",
         "(MRR of renewed accounts + expansion MRR) / (CS + support cost)",
         ["costs_cents", "renewed_mrr_cents", "expansion_cents"], _cs_magic, contributors="movements:expansion",
         module=M + "renewals.py",
         benchmark=Band((Zone("alarm", hi=1.0), Zone("good", lo=5.0, lo_open=True), Zone("watch")), "cs_magic_number",
                        "above 5: strong return on CS", "seed 000")),
    _def("cs_headwind", "CS Headwind", "CS Headwind", "rate", "Customer Success efficiency",
         "(churned MRR + contraction MRR) / start MRR", [*LOST, "mrr_start_cents"],
         lambda ch, co, s: safe_div(ch + co, s), contributors="movements:churn,contraction",
         benchmark=_lower(0.30, 0.20, "cs_headwind_annualised", "a year; above 20-30 % is a priority", "seed 000")),
    _def("cs_tailwind", "CS Tailwind", "CS Tailwind", "rate", "Customer Success efficiency",
         "expansion MRR / start MRR", ["expansion_cents", "mrr_start_cents"], safe_div,
         contributors="movements:expansion",
         benchmark=Band((Zone("good", lo=0.10, lo_open=True), Zone("watch")), "cs_tailwind_annualised",
                        "a year; leaders aim above 10 %", "seed 000")),
    _def("cs_roi", "CS ROI", "ROI du Customer Success", "ratio", "Customer Success efficiency",
         "(cs_attribution x (retained MRR + expansion MRR) - CS team cost) / CS team cost",
         ["costs_cents", "cs_attribution", "retained_cents", "expansion_cents"], _cs_roi, settings=("cs_attribution",)),
    _def("renewal_rate", "Renewal rate", "Taux de renouvellement", "rate", "Retention",
         "renewed lines / paid lines whose end date falls in the period", ["renewed", "renewable"], safe_div,
         settings=("renewal_window_days",), module=M + "renewals.py"),
    _def("trial_conversion_rate", "Trial-to-paid conversion", "Conversion essai → payant", "rate", "Revenue",
         "converted trial accounts / accounts whose trial ended in the period", ["trials_converted", "trials_ended"],
         safe_div, settings=("trial_conversion_window_days",), module=M + "renewals.py"),
    _def("expansion_share", "Expansion share of new MRR", "Part de l'expansion dans le MRR gagné", "rate", "Movements",
         "expansion / (new + expansion + reactivation)", ["expansion_cents", *GAINED],
         lambda e, n, e2, r: safe_div(e, n + e2 + r), contributors="movements:new,expansion,reactivation"),
    _def("nrr_trailing_12m", "NRR, trailing 12 months", "NRR sur 12 mois glissants", "rate", "Retention",
         "NRR between the snapshot 12 months before the period's end and its end",
         ["t12_s_end_mrr_cents", "t12_s_mrr_cents"], safe_div, contributors="none"),
    _def("grr_trailing_12m", "GRR, trailing 12 months", "GRR sur 12 mois glissants", "rate", "Retention",
         "GRR between the snapshot 12 months before the period's end and its end",
         ["t12_s_kept_mrr_cents", "t12_s_mrr_cents"], safe_div, contributors="none"),
    *[
        _def(key, label, label_fr, unit, section, formula, [agg], _eur if unit == "money" else _same, path=path,
             module=M + "renewals.py")
        for key, label, label_fr, unit, section, formula, agg, path in (
            ("renewable_lines", "Renewable lines", "Lignes à renouveler", "count", "Retention",
             "paid lines whose end date falls in the period", "renewable", "renewals.renewable"),
            ("renewed_lines", "Renewed lines", "Lignes renouvelées", "count", "Retention",
             "renewable lines followed by another paid line of the account within renewal_window_days", "renewed",
             "renewals.renewed"),
            ("renewed_mrr", "MRR of renewed accounts", "MRR des comptes renouvelés", "money", "Retention",
             "end MRR of the accounts with a renewed line", "renewed_mrr_cents", "renewals.renewed_mrr"),
            ("trials_ended", "Trials ended", "Essais terminés", "count", "Revenue",
             "accounts whose trial line ended in the period", "trials_ended", "trials.ended"),
            ("trials_converted", "Trials converted", "Essais convertis", "count", "Revenue",
             "of those, accounts with a paid line starting between the trial's start and its end + window",
             "trials_converted", "trials.converted"),
        )
    ],
    _def("one_off_revenue", "One-off revenue (not MRR)", "Revenu ponctuel (hors MRR)", "money", "Revenue",
         "sum of the one-off lines dated in the period's months, at the rate in force on their date",
         ["one_off_cents"], _eur, contributors="none"),
    _def("customers_served", "Customers served", "Clients servis", "count", "Customer Success efficiency",
         "distinct accounts that were customers at some snapshot of the period (its start included)",
         ["customers_served"], _same),
    *[
        _def(f"cost_{c}", f"Cost: {c.replace('_', ' ')}", f"Coût : {c.replace('_', ' ')}", "money",
             "Customer Success efficiency", f"{c} costs of the period's months, in the base currency",
             ["costs_cents"], lambda costs, c=c: ABSENT if costs is None or c not in costs else costs[c] / 100,
             path=f"costs.{c}", module=M + "costs.py", contributors="none")
        for c in COST_CATEGORIES
    ],
    _def("gross_margin", "Gross margin", "Marge brute", "rate", "Unit economics",
         "setting gross_margin, else 1 - cost of revenue / revenue of the period's months",
         ["gross_margin_setting", "costs_cents", "revenue_cents"], _gross_margin, settings=("gross_margin",),
         contributors="none"),
]
_label = {d.key: (d.label, d.label_fr) for d in _defs}
_defs += [
    _def(f"{k}_annualised", f"{_label[k][0]}, annualised", f"{_label[k][1]}, annualisé(e)", "rate", "Benchmarks",
         "the period's rate as a yearly rate: compound 1 - (1 - monthly)^12 (or linear 12 x monthly, setting annualisation)",
         [k, "n_months", "annualisation"], annualise, path=f"annualised.{k}", settings=("annualisation",),
         contributors="none")
    for k in ANNUALISED
]
register(*_defs)

METRICS: dict[str, MetricDef] = {d.key: d for d in _defs}
