"""Satisfaction (metrics.md §10): NPS, CSAT, tickets, sentiment, NPS vs churn.
See docs/metrics-engagement.md and docs/sentiment.md."""

from retentio._lazy import lazy_exports

# Computations imported on first use: the figure registry (retentio.satisfaction.registry) is
# read without them (see retentio._lazy).
lazy_exports(__name__, {
    "nps_vs_churn": "retentio.satisfaction.nps_churn:nps_vs_churn",
    "Sentiment": "retentio.satisfaction.sentiment:Sentiment",
    "detect_language": "retentio.satisfaction.sentiment:detect_language",
    "score_text": "retentio.satisfaction.sentiment:score_text",
    "score_texts": "retentio.satisfaction.sentiment:score_texts",
    "sentiment_by_account": "retentio.satisfaction.sentiment_trend:sentiment_by_account",
    "csat": "retentio.satisfaction.surveys:csat",
    "nps": "retentio.satisfaction.surveys:nps",
    "tickets": "retentio.satisfaction.tickets:tickets",
})

__all__ = ["Sentiment", "csat", "detect_language", "nps", "nps_vs_churn", "score_text", "score_texts", "sentiment_by_account",
           "tickets"]
