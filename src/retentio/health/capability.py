"""The health capability: scorecards, scores, explanation, history, backtest, fit, CSM pulse."""

from retentio.capabilities import Capability

_S = "retentio.health.service:"

CAPABILITY = Capability(
    "health",
    "Health scores: configurable scorecards, backtested against churn (metrics.md §11)",
    cli="retentio.cli.health_cmd",
    commands={"health": "Health scores: configurable scorecards, backtested against churn."},
    service={
        "health_scores": _S + "health_scores",
        "health_summary": _S + "health_summary",
        "health_explain": _S + "health_explain",
        "health_history": _S + "health_history",
        "health_refresh": _S + "health_refresh",
        "health_backtest": _S + "health_backtest",
        "health_fit": _S + "health_fit",
        "health_pulse": _S + "health_pulse",
        "health_init": _S + "health_init",
        "health_cards": _S + "health_cards",
        "import_csm_pulse": _S + "import_csm_pulse",
    },
)
