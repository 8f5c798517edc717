"""The engagement and adoption figures (metrics.md §9), each defined once.

Counts are made by the engine; the ratios below are the one definition of each figure,
called by ``usage.py``, ``lifecycle.py`` and ``onboarding.py``.  Shares are fractions
(0.64, not 64): tables show them in %.
"""

from __future__ import annotations

from retentio.figures import MetricDef, register, safe_div

__all__ = ["ENGAGEMENT", "share"]

E = "src/retentio/engagement/"


def share(part: float | int | None, whole: float | int | None) -> float | None:
    """part / whole as a fraction; undefined (None) when whole is 0 or unknown."""
    return safe_div(part, whole)


def _count(key, label, label_fr, formula, module="usage.py", **kw) -> MetricDef:
    return MetricDef(key, label, label_fr, "count", "Engagement", formula, capability="engagement",
                     module=E + module, contributors="none", **kw)


def _fig(key, label, label_fr, unit, formula, inputs=(), compute=None, module="usage.py", **kw) -> MetricDef:
    return MetricDef(key, label, label_fr, unit, "Engagement", formula, tuple(inputs), compute,
                     capability="engagement", module=E + module, contributors="none", **kw)


_defs = [
    _count("dau", "Daily active users", "Utilisateurs actifs par jour", "users with an event on the day"),
    _count("wau", "Weekly active users", "Utilisateurs actifs par semaine",
           "users with an event in the 7 days (or calendar week) ending on the day", settings=("active_window",)),
    _count("mau", "Monthly active users", "Utilisateurs actifs par mois",
           "users with an event in the 30 days (or calendar month) ending on the day", settings=("active_window",)),
    _count("seats", "Seats", "Licences", "sum of quantity of the subscription lines active on the day"),
    _fig("stickiness_wau_mau", "Stickiness (WAU/MAU)", "Adhérence (WAU/MAU)", "rate", "WAU / MAU", ("wau", "mau"), share),
    _fig("stickiness_dau_mau", "Stickiness (DAU/MAU)", "Adhérence (DAU/MAU)", "rate", "DAU / MAU", ("dau", "mau"), share),
    _fig("mau_per_seat", "MAU per seat", "MAU par licence", "rate", "MAU / seats", ("mau", "seats"), share),
    _count("accounts_active", "Active accounts", "Comptes actifs", "accounts with at least one event in the period"),
    _count("users_active", "Active users", "Utilisateurs actifs", "users with at least one event in the period"),
    _count("accounts_using", "Accounts using the feature", "Comptes utilisant la fonctionnalité",
           "active accounts with an event on the feature"),
    _count("users_using", "Users using the feature", "Utilisateurs de la fonctionnalité",
           "active users with an event on the feature"),
    _count("events", "Events", "Événements", "usage events on the feature in the period"),
    _fig("hours", "Hours of use", "Heures d'utilisation", "hours", "sum of the events' durations, in hours"),
    _fig("account_share", "Share of active accounts", "Part des comptes actifs", "rate",
         "accounts using the feature / active accounts", ("accounts_using", "accounts_active"), share),
    _fig("user_share", "Share of active users", "Part des utilisateurs actifs", "rate",
         "users using the feature / active users", ("users_using", "users_active"), share),
    _count("active_users", "Active users", "Utilisateurs actifs", "users of the account active in the month"),
    _fig("hours_per_active_user", "Key hours per active user", "Heures clés par utilisateur actif", "hours",
         "hours on key features / active users", ("hours", "active_users"), safe_div),
    *[
        _count(f"lifecycle_{s}", f"Accounts {s.replace('_', ' ')}", f"Comptes {s.replace('_', ' ')}",
               f"accounts whose lifecycle status in the month is {s}", module="lifecycle.py", path=f"summary.{s}",
               settings=("at_risk_drop",))
        for s in ("new", "active", "at_risk", "resurrected", "dormant", "never_active")
    ],
    _count("user_days", "Active user-days", "Jours-utilisateurs actifs",
           "distinct (user, day) pairs with an event in the month", module="lifecycle.py"),
    _count("user_days_previous_month", "Active user-days, previous month", "Jours-utilisateurs actifs, mois précédent",
           "the same for the month before", module="lifecycle.py"),
    _fig("ces", "Customer Engagement Score", "Score d'engagement client", "score",
         "100 x sum over components of weight x min(x / P90 of the month, 1) (tickets: 1 - that)",
         module="lifecycle.py", settings=("ces_weights", "key_features")),
    _count("active_user_days", "Active user-days", "Jours-utilisateurs actifs",
           "CES logins component: distinct (user, day) pairs with an event", module="lifecycle.py"),
    _count("features_used", "Features used", "Fonctionnalités utilisées", "CES adoption component: distinct features used",
           module="lifecycle.py"),
    _fig("key_hours", "Hours on key features", "Heures sur les fonctionnalités clés", "hours",
         "CES key_time component, in hours", module="lifecycle.py"),
    *[
        _fig(f"{c}_part", f"CES part: {c.replace('_', ' ')}", f"Part du CES : {c.replace('_', ' ')}", "ratio",
             f"min({c} / P90 of the month, 1)" + (" subtracted from 1" if c == "tickets" else ""),
             module="lifecycle.py")
        for c in ("logins", "adoption", "key_time", "tickets")
    ],
    _count("accounts", "Accounts", "Comptes", "accounts of the group", module="onboarding.py"),
    _count("with_event", "Accounts with the value event", "Comptes avec l'événement de valeur",
           "accounts that reached engagement.value_event", module="onboarding.py", settings=("value_event",)),
    _count("without_event", "Accounts without the value event", "Comptes sans l'événement de valeur",
           "accounts that have not reached it (left out of mean and median)", module="onboarding.py"),
    _fig("ttfv_days", "Time to first value", "Délai jusqu'à la première valeur", "days",
         "days from the first paid day to the first value event (0 when it came first)", module="onboarding.py"),
    _fig("mean_days", "Mean time to first value", "Délai moyen jusqu'à la première valeur", "days",
         "mean of ttfv_days over accounts with the event", module="onboarding.py"),
    _fig("median_days", "Median time to first value", "Délai médian jusqu'à la première valeur", "days",
         "median of ttfv_days over accounts with the event", module="onboarding.py"),
    _count("completed", "Milestones completed", "Étapes franchies", "onboarding milestones completed at all",
           module="onboarding.py", settings=("onboarding_milestones",)),
    _count("on_time", "Milestones on time", "Étapes franchies à temps",
           "milestones completed by the first paid day + onboarding_window_days", module="onboarding.py",
           settings=("onboarding_window_days",)),
    _fig("onboarding_score", "Onboarding score", "Score d'onboarding", "rate",
         "milestones completed / (milestones x accounts)", ("completed", "possible"), share, module="onboarding.py"),
    _fig("on_time_share", "Onboarding on time", "Onboarding dans les temps", "rate",
         "milestones completed on time / (milestones x accounts)", ("on_time", "possible"), share,
         module="onboarding.py"),
    _count("fully_onboarded", "Fully onboarded accounts", "Comptes entièrement onboardés",
           "accounts that completed every milestone", module="onboarding.py"),
    _count("fully_onboarded_on_time", "Fully onboarded on time", "Entièrement onboardés à temps",
           "accounts that completed every milestone on time", module="onboarding.py"),
    _count("accounts_completed", "Accounts that completed the milestone", "Comptes ayant franchi l'étape",
           "accounts with the milestone event", module="onboarding.py"),
    _fig("milestone_share", "Share of accounts that completed the milestone", "Part des comptes ayant franchi l'étape",
         "rate", "accounts that completed the milestone / accounts", ("accounts_completed", "accounts"), share,
         module="onboarding.py", path="per_milestone.share"),
    _count("trials", "Trials", "Essais", "accounts whose first trial started in the cohort", module="onboarding.py"),
    _count("converted", "Converted trials", "Essais convertis",
           "trials followed by a paid line starting between the trial's start and its end + window",
           module="onboarding.py", settings=("trial_conversion_window_days",)),
    _fig("conversion_rate", "Trial-to-paid conversion (by trial cohort)", "Conversion essai → payant (par cohorte)",
         "rate", "converted / trials of the cohort", ("converted", "trials"), share, module="onboarding.py"),
    _count("left_out", "Not yet judgeable", "Pas encore jugeables",
           "accounts whose window ends after as_of, left out", module="onboarding.py"),
]
register(*_defs)
ENGAGEMENT = {d.key: d for d in _defs}
