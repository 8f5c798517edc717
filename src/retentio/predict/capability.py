"""The prediction capability's one declaration (see retentio.capabilities)."""

from retentio.capabilities import Capability

CAPABILITY = Capability(
    "predict",
    "Churn risk, survival LTV, MRR and renewal forecasts (docs/prediction.md)",
    cli="retentio.cli.predict_cmd",
    figures="retentio.predict.registry",
    commands={
        "predict": "Churn risk per account with its drivers, survival LTV, public benchmark (docs/prediction.md).",
        "forecast": "MRR forecast with an interval, renewals due with their risk (docs/prediction.md).",
    },
    service={
        "predict_train": "retentio.predict.service:predict_train",
        "predict_evaluate": "retentio.predict.service:predict_evaluate",
        "predict_score": "retentio.predict.service:predict_score",
        "predict_explain": "retentio.predict.service:predict_explain",
        "predict_benchmark": "retentio.predict.service:predict_benchmark",
        "churn_risk": "retentio.predict.service:churn_risk",
        "survival_ltv": "retentio.predict.service:survival_ltv",
        "forecast_mrr": "retentio.predict.service:forecast_mrr",
        "forecast_renewals": "retentio.predict.service:forecast_renewals",
    },
)
