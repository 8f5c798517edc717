"""Satisfaction (metrics.md §10): NPS, CSAT, tickets, sentiment, NPS vs churn.
See docs/metrics-engagement.md and docs/sentiment.md."""

from retentio.satisfaction.nps_churn import nps_vs_churn
from retentio.satisfaction.sentiment import Sentiment, detect_language, score_text, score_texts
from retentio.satisfaction.sentiment_trend import sentiment_by_account
from retentio.satisfaction.surveys import csat, nps
from retentio.satisfaction.tickets import tickets

__all__ = ["Sentiment", "csat", "detect_language", "nps", "nps_vs_churn", "score_text", "score_texts", "sentiment_by_account",
           "tickets"]
