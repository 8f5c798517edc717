"""The prediction figures, each defined once (docs/prediction.md): what ``predict score``,
``forecast renewals`` and the playbooks' risk trigger report per account.  Registered so that
JSON and CSV round them by their unit as every other figure (a risk to 4 significant digits,
money to the cent)."""

from __future__ import annotations

from retentio.figures import MetricDef, register

__all__ = ["PREDICTION"]

P = "src/retentio/predict/"

_defs = [
    MetricDef("risk", "Churn risk", "Risque de churn", "rate", "Prediction",
              "calibrated probability that the account churns within the horizon (a customer at the month end)",
              capability="predict", module=P + "churn.py", contributors="none"),
    MetricDef("mrr_at_risk", "MRR at risk", "MRR à risque", "money", "Prediction",
              "the account's MRR x its churn risk (renewals due in the forecast)",
              capability="predict", module=P + "forecast.py", contributors="none"),
]
register(*_defs)
PREDICTION = {d.key: d for d in _defs}
