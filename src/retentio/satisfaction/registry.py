"""The satisfaction figures (metrics.md §10, §13), each defined once: NPS classes and score,
CSAT, tickets, sentiment, NPS vs churn.  Shares and rates are fractions; NPS is a score
from -100 to 100."""

from __future__ import annotations

from retentio.figures import Band, MetricDef, Zone, register, safe_div

__all__ = ["DETRACTOR_MAX", "PROMOTER_MIN", "SATISFACTION", "is_detractor", "is_promoter", "nps_class", "nps_score"]

S = "src/retentio/satisfaction/"
PROMOTER_MIN = 9  # 9-10: promoters
DETRACTOR_MAX = 6  # 0-6: detractors (7-8: passives)


def is_promoter(score):
    """Works on a number and on an engine expression alike."""
    return score >= PROMOTER_MIN


def is_detractor(score):
    return score <= DETRACTOR_MAX


def nps_class(score: int) -> str:
    return "promoter" if is_promoter(score) else "detractor" if is_detractor(score) else "passive"


def nps_score(promoters: int, detractors: int, responses: int) -> float | None:
    """% promoters - % detractors, -100..100; None without answers."""
    return None if responses == 0 else 100.0 * (promoters - detractors) / responses


def _count(key, label, label_fr, formula, module, **kw) -> MetricDef:
    return MetricDef(key, label, label_fr, "count", "Satisfaction", formula, capability="satisfaction",
                     module=S + module, contributors="none", **kw)


def _fig(key, label, label_fr, unit, formula, inputs, compute, module, **kw) -> MetricDef:
    return MetricDef(key, label, label_fr, unit, "Satisfaction", formula, tuple(inputs), compute,
                     capability="satisfaction", module=S + module, contributors="none", **kw)


NPS_BAND = Band((Zone("alarm", hi=0), Zone("watch", hi=30), Zone("good", hi=50), Zone("best")), "nps",
                "NPS of B2B software", "seed 004")

_defs = [
    _count("responses", "Responses", "Réponses", "survey answers in the period", "surveys.py"),
    _count("promoters", "Promoters", "Promoteurs", f"NPS answers of {PROMOTER_MIN} or more", "surveys.py"),
    _count("passives", "Passives", "Passifs", f"NPS answers of {DETRACTOR_MAX + 1} to {PROMOTER_MIN - 1}", "surveys.py"),
    _count("detractors", "Detractors", "Détracteurs", f"NPS answers of {DETRACTOR_MAX} or less", "surveys.py"),
    _fig("promoters_share", "Share of promoters", "Part de promoteurs", "rate", "promoters / responses",
         ("promoters", "responses"), safe_div, "surveys.py"),
    _fig("detractors_share", "Share of detractors", "Part de détracteurs", "rate", "detractors / responses",
         ("detractors", "responses"), safe_div, "surveys.py"),
    _fig("nps", "Net Promoter Score", "Net Promoter Score", "score", "% promoters (9-10) - % detractors (0-6)",
         ("promoters", "detractors", "responses"), nps_score, "surveys.py", benchmark=NPS_BAND),
    _count("positive", "Positive", "Positifs",
           "CSAT: answers at or above the threshold of their scale; sentiment: texts labelled positive", "surveys.py",
           settings=("csat_positive_1_5", "csat_positive_0_10")),
    _fig("csat", "CSAT", "CSAT", "rate", "positive answers / answers", ("positive", "responses"), safe_div,
         "surveys.py"),
    _count("opened", "Tickets opened", "Tickets ouverts", "tickets created in the period", "tickets.py"),
    _count("resolved", "Tickets resolved", "Tickets résolus", "of those, tickets resolved", "tickets.py"),
    _fig("mean_hours", "Mean time to resolution", "Délai moyen de résolution", "hours",
         "mean of resolution time over resolved tickets, in hours", (), None, "tickets.py"),
    _fig("median_hours", "Median time to resolution", "Délai médian de résolution", "hours",
         "median of resolution time over resolved tickets, in hours", (), None, "tickets.py"),
    _count("open_backlog", "Open backlog", "Tickets en attente", "tickets created and not resolved at the date",
           "tickets.py"),
    _count("open_at_date", "Open at the date", "Ouverts à la date", "open backlog of the topic", "tickets.py"),
    _count("tickets", "Tickets", "Tickets", "tickets opened by the account in the month", "tickets.py"),
    _count("texts", "Texts scored", "Textes notés", "ticket texts and survey comments scored", "sentiment_trend.py"),
    _fig("mean_score", "Mean sentiment", "Sentiment moyen", "score", "mean of the texts' scores (-1..1)", (), None,
         "sentiment_trend.py"),
    _fig("previous_mean_score", "Mean sentiment, previous month with texts", "Sentiment moyen, mois précédent",
         "score", "the account's mean of its previous month with texts", (), None, "sentiment_trend.py"),
    _fig("drop", "Sentiment drop", "Baisse du sentiment", "score", "previous mean - mean", (), None,
         "sentiment_trend.py", settings=("sentiment_drop_threshold",)),
    _count("neutral", "Neutral", "Neutres", "texts labelled neutral", "sentiment_trend.py"),
    _count("negative", "Negative", "Négatifs", "texts labelled negative", "sentiment_trend.py"),
    _count("answers", "Answers followed", "Réponses suivies", "NPS answers of customers followed for N months",
           "nps_churn.py"),
    _count("churned", "Churned", "Perdus", "of those, accounts not a customer at some month end within N months",
           "nps_churn.py"),
    _fig("churn_rate", "Churn within N months", "Attrition sous N mois", "rate", "churned / answers",
         ("churned", "answers"), safe_div, "nps_churn.py"),
    _fig("difference", "Churn difference (detractors - promoters)", "Écart d'attrition (détracteurs - promoteurs)",
         "rate", "churn rate of detractors - churn rate of promoters", (), None, "nps_churn.py"),
    _fig("ci95_low", "95 % interval, low", "Intervalle à 95 %, bas", "rate",
         "Newcombe hybrid score interval of the difference", (), None, "nps_churn.py"),
    _fig("ci95_high", "95 % interval, high", "Intervalle à 95 %, haut", "rate",
         "Newcombe hybrid score interval of the difference", (), None, "nps_churn.py"),
    _count("not_customer_at_answer", "Answers of non-customers", "Réponses de non-clients",
           "answers whose account had no MRR at the end of the answer's month", "nps_churn.py"),
    _count("too_recent", "Answers too recent to judge", "Réponses trop récentes",
           "answers whose N-month window ends after as_of's last complete month", "nps_churn.py"),
]
register(*_defs)
SATISFACTION = {d.key: d for d in _defs}
