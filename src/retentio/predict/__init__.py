"""Prediction (issue 14): churn risk with drivers a CSM understands, survival-based
lifetime value, MRR and renewal forecasts, and a public benchmark.  See docs/prediction.md.

Kept free of heavy imports: LightGBM, scikit-learn and lifelines are imported by the
functions that need them.
"""
