"""The deterministic demo book: a simulated B2B SaaS company, month by month.

Every account carries a latent *health* ``h = b + z`` (a fixed baseline ``b`` plus an AR(1)
drift ``z``).  Health drives, with noise, everything observable: how many of its users are
active and how often they log in and use features, how many tickets it opens and in which
tone, its NPS and CSAT answers, and the monthly hazards of churn, downgrade, upgrade, add-on
purchase and cancellation.  Metrics and predictions computed later therefore have a real but
not deterministic signal to find.  ``docs/demo-data.md`` documents every assumption.

The simulation is vectorised over accounts with numpy (one loop iteration per month) and
draws from one ``numpy.random.default_rng(seed)`` stream in a fixed order: the same
arguments always give the same tables.  Nothing depends on the clock except the default
``end_month`` (the last complete month before today), which callers wanting reproducible
data pass explicitly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retentio.demo import texts
from retentio.errors import UsageError
from retentio.model import ENTITIES

ProgressCallback = Callable[[int, int | None], None]

# --------------------------------------------------------------------------------------
# Catalogue (fixed, ordered)
# --------------------------------------------------------------------------------------
SIZES = ("micro", "SMB", "mid-market", "enterprise")
SIZE_P = (0.35, 0.40, 0.18, 0.07)
VERTICALS = ("B2B", "B2C", "non-profit", "public")
VERTICAL_P = (0.70, 0.15, 0.08, 0.07)
INDUSTRIES_COMMERCIAL = ("software", "retail", "manufacturing", "healthcare", "finance", "media",
                         "professional services", "logistics", "hospitality", "real estate")
INDUSTRIES_PUBLIC = ("public administration", "education", "healthcare")
INDUSTRIES_NONPROFIT = ("non-profit services", "education", "healthcare")
CHANNELS = ("direct", "inbound", "paid ads", "referral")
CHANNEL_P_BY_SIZE = ((0.05, 0.45, 0.35, 0.15), (0.15, 0.40, 0.30, 0.15), (0.45, 0.30, 0.10, 0.15),
                     (0.70, 0.15, 0.02, 0.13))
CHANNEL_HEALTH = (0.10, 0.0, -0.25, 0.25)
COUNTRIES = ("FR", "DE", "BE", "NL", "ES", "IT", "CH", "GB", "US", "CA")
COUNTRY_P = (0.32, 0.10, 0.06, 0.05, 0.06, 0.05, 0.06, 0.12, 0.13, 0.05)
COUNTRY_FRENCH_P = (1.0, 0.0, 0.6, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.25)
CURRENCIES = ("EUR", "USD", "GBP", "CHF")
COUNTRY_CURRENCY = (0, 0, 0, 0, 0, 0, 3, 2, 1, 1)
FX_CENTRE = (1.0, 0.92, 1.17, 1.04)  # EUR per unit
FX_DAILY_SD = (0.0, 0.0040, 0.0032, 0.0025)
LEGAL_FORMS = ("SAS", "GmbH", "SRL", "BV", "SL", "Srl", "AG", "Ltd", "Inc.", "Inc.")
NAME_PREFIXES = ("Alpine", "Atlas", "Azur", "Blue", "Bright", "Cedar", "Civic", "Coral", "Delta", "Echo",
                 "Ember", "Fjord", "Golden", "Granite", "Harbor", "Helix", "Iris", "Juniper", "Kite", "Lumen",
                 "Maple", "Meridian", "Nova", "Oak", "Orbit", "Pacific", "Pine", "Prism", "Quartz", "River",
                 "Sable", "Sierra", "Solar", "Summit", "Terra", "Tidal", "Urban", "Vertex", "Willow", "Zenith")
NAME_NOUNS = ("Analytics", "Bakery", "Builders", "Capital", "Clinic", "Consulting", "Design", "Dynamics",
              "Energy", "Foods", "Foundation", "Freight", "Health", "Hotels", "Industries", "Labs", "Learning",
              "Logistics", "Media", "Motors", "Partners", "Pharma", "Retail", "Robotics", "Services", "Studio",
              "Systems", "Technologies", "Travel", "Works")
CSMS_SENIOR = ("Camille Durand", "Sarah Johnson", "Thomas Bernard", "Olivia Brown")
CSMS_POOL = ("Lucas Martin", "Emma Wilson", "Hugo Petit", "Nina Moreau")

TIERS = ("starter", "growth", "business", "enterprise")
TIER_P_BY_SIZE = ((0.8, 0.2, 0.0, 0.0), (0.3, 0.6, 0.1, 0.0), (0.0, 0.3, 0.6, 0.1), (0.0, 0.0, 0.3, 0.7))
# Monthly list price per seat, by currency (rows) and tier (columns).
SEAT_PRICE = ((15, 29, 45, 60), (16, 32, 49, 65), (13, 25, 39, 52), (16, 31, 48, 64))
SEATS_BY_SIZE = ((1, 3), (3, 15), (15, 60), (60, 250))  # log-uniform, inclusive
TERMS = (1, 12, 24, 36)
TERM_NAMES = {1: "monthly", 12: "annual", 24: "2y", 36: "3y"}
TERM_P_BY_SIZE = ((0.8, 0.2, 0.0, 0.0), (0.6, 0.35, 0.04, 0.01), (0.25, 0.55, 0.12, 0.08), (0.05, 0.55, 0.2, 0.2))
LIST_PRICE_GROWTH = 1.04  # list prices rise 4 % every 12 months of the book
ADDONS = ("addon-analytics", "addon-api", "addon-premium-support")
TRIAL_DAYS = 14
TRIAL_P_BY_SIZE = (0.7, 0.6, 0.3, 0.08)

# Monthly hazards at neutral health (h = 0), as probabilities; health shifts their logit.
CHURN_BASE = (0.040, 0.022, 0.011, 0.005)
CHURN_H = 0.9
UPGRADE_BASE, UPGRADE_H = 0.013, 0.8
DOWNGRADE_BASE, DOWNGRADE_H = 0.010, 0.8
ADDON_BASE, ADDON_H = 0.012, 0.7
ADDON_CANCEL_BASE, ADDON_CANCEL_H = 0.04, 0.7
REACTIVATION_BASE, REACTIVATION_H = 0.02, 0.6
TRIAL_CONVERSION_LOGIT, TRIAL_CONVERSION_H = -1.35, 1.1

CHURN_REASONS = ("budget", "changing needs", "product dissatisfaction", "competitor", "freemium",
                 "closed business", "seasonality")
CHURN_REASON_BASE = (0.22, 0.18, 0.15, 0.15, 0.08, 0.12, 0.10)

# Usage
FEATURES = ("dashboards", "reports", "automations", "integrations", "api", "forecasting", "exports", "collaboration")
COMPLEX_FEATURES = ("automations", "api", "forecasting")
KEY_FEATURES = ("reports", "automations", "forecasting")
FEATURE_WEIGHT = (0.24, 0.20, 0.10, 0.08, 0.05, 0.06, 0.14, 0.13)
VALUE_EVENT = "report_shared"
MILESTONES = ("create_project", "invite_user", "connect_integration")
MILESTONE_FEATURE = ("collaboration", "collaboration", "integrations")
MILESTONE_P = (0.92, 0.75, 0.55)  # completion probability at neutral health (logit shifted by health)
EVENTS = ("login", "feature_used", VALUE_EVENT) + MILESTONES
MAX_NAMED_USERS = 40  # < 64: user indices are packed in 6 bits of the usage sort key

# Tickets per account-month at neutral health, by size; health lowers the rate.
TICKET_RATE = (0.08, 0.20, 0.45, 0.90)
PRIORITIES = ("low", "normal", "high", "urgent")
COST_CATEGORIES = ("cs_team", "support_team", "sales_marketing", "cost_of_revenue", "other")
ACQUISITION_COST_BY_SIZE = (1500.0, 6000.0, 20000.0, 60000.0)  # EUR per new paying customer

DAY = 86_400
INF_DAY = 10**7


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _choice(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows need not be normalised)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return (cum < u[:, None]).sum(axis=1).clip(0, probs.shape[1] - 1)


def _month_index(ym: str) -> int:
    try:
        y, m = ym.split("-")
        y, m = int(y), int(m)
        if not (1 <= m <= 12 and 1900 <= y <= 2999) or len(ym) != 7:
            raise ValueError
    except ValueError:
        raise UsageError(f"end month {ym!r} is not a month", hint="write it as YYYY-MM, e.g. 2024-12") from None
    return y * 12 + (m - 1)


def default_end_month(today: date | None = None) -> str:
    """The last complete calendar month on ``today``, as the clock counts it (a month is
    complete on its last day), so that "last" figures and the demo data end together."""
    from retentio.clock import last_complete_month
    from retentio.clock import today as real_today

    y, m = last_complete_month(today or real_today())
    return f"{y:04d}-{m:02d}"


def check_arguments(*, accounts: int, months: int, end_month: str | None, events_per_user_month: float = 8.0) -> None:
    """Raise UsageError on arguments the generator cannot honour (before anything is written)."""
    if accounts < 1:
        raise UsageError(f"accounts {accounts}: need at least 1 account", hint="accounts=2000 gives the default book",
                         details={"parameter": "accounts"})
    if months < 1 or months > 240:
        raise UsageError(f"months {months}: need 1 to 240 months", hint="months=36 gives the default book",
                         details={"parameter": "months"})
    if events_per_user_month < 0:
        raise UsageError("events_per_user_month must be >= 0", hint="use 0 (or usage=False) to skip usage events")
    if end_month is not None:
        _month_index(end_month)


@dataclass
class DemoSummary:
    accounts: int
    months: int
    seed: int
    start_month: str
    end_month: str
    rows: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    workspace: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "accounts": self.accounts,
            "months": self.months,
            "seed": self.seed,
            "start_month": self.start_month,
            "end_month": self.end_month,
            "rows": dict(self.rows),
            "events": dict(self.events),
            "seconds": round(self.seconds, 2),
        }


# --------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------
class _Book:
    """Mutable simulation state and the records it accumulates."""

    def __init__(self, n: int, months: int, end_month: str, seed: int, usage: bool, events_per_user_month: float):
        check_arguments(accounts=n, months=months, end_month=end_month, events_per_user_month=events_per_user_month)
        self.n, self.M, self.seed = n, months, seed
        self.usage, self.epum = usage and events_per_user_month > 0, float(events_per_user_month)
        self.rng = np.random.default_rng(seed)
        # Usage has its own stream: skipping or thinning usage leaves every other table unchanged.
        self.rng_usage = np.random.default_rng([seed, 1])
        end_idx = _month_index(end_month)
        self.first_idx = end_idx - months + 1
        self.start_month = f"{self.first_idx // 12:04d}-{self.first_idx % 12 + 1:02d}"
        self.end_month = end_month
        # Calendar: first day (days since 1970-01-01) of book months -2 .. M + 40.
        self.cal_off = 2
        idxs = np.arange(self.first_idx - self.cal_off, end_idx + 42)
        self.cal = np.array(
            [np.datetime64(f"{i // 12:04d}-{i % 12 + 1:02d}-01", "D").astype(np.int64) for i in idxs], dtype=np.int64
        )
        self.window_start = int(self.ms(0))
        self.window_end = int(self.ms(months))  # exclusive
        self.events: dict[str, int] = {k: 0 for k in (
            "signups", "trials", "trial_conversions", "direct_paid", "churns", "reactivations", "renewals",
            "upgrades", "downgrades", "addons_started", "addons_cancelled")}
        self.lines: list[dict[str, np.ndarray]] = []
        self.usage_chunks: list[dict[str, np.ndarray]] = []
        self.ticket_chunks: list[dict[str, np.ndarray]] = []
        self.nps_chunks: list[dict[str, np.ndarray]] = []
        self.costs: list[tuple[int, np.ndarray]] = []
        self._closing_churn = False

    def ms(self, k):
        """First day of book month k (k may be an array)."""
        return self.cal[np.asarray(k) + self.cal_off]

    def month_of(self, day: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.cal, day, side="right") - 1 - self.cal_off

    # -- static attributes -------------------------------------------------------------
    def draw_accounts(self) -> None:
        rng, n, M = self.rng, self.n, self.M
        self.size = rng.choice(4, size=n, p=SIZE_P)
        self.vertical = rng.choice(4, size=n, p=VERTICAL_P)
        ind_c = rng.integers(0, len(INDUSTRIES_COMMERCIAL), n)
        ind_o = rng.integers(0, 3, n)
        industries = list(INDUSTRIES_COMMERCIAL) + list(INDUSTRIES_PUBLIC) + list(INDUSTRIES_NONPROFIT)
        self.industry_names = tuple(dict.fromkeys(industries))  # ordered, de-duplicated
        pos = {name: i for i, name in enumerate(self.industry_names)}
        map_c = np.array([pos[x] for x in INDUSTRIES_COMMERCIAL])
        map_p = np.array([pos[x] for x in INDUSTRIES_PUBLIC])
        map_n = np.array([pos[x] for x in INDUSTRIES_NONPROFIT])
        self.industry = np.where(self.vertical == 3, map_p[ind_o], np.where(self.vertical == 2, map_n[ind_o], map_c[ind_c]))
        self.channel = _choice(rng, np.array(CHANNEL_P_BY_SIZE)[self.size])
        self.country = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_P)
        self.french = rng.random(n) < np.array(COUNTRY_FRENCH_P)[self.country]
        self.currency = np.array(COUNTRY_CURRENCY)[self.country]
        senior = self.size >= 2
        self.csm = np.where(senior, rng.integers(0, 4, n), 4 + rng.integers(0, 4, n))
        self.tier0 = _choice(rng, np.array(TIER_P_BY_SIZE)[self.size])
        lo = np.array([s[0] for s in SEATS_BY_SIZE])[self.size]
        hi = np.array([s[1] for s in SEATS_BY_SIZE])[self.size]
        self.seats0 = np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi + 1)))).astype(np.int64).clip(lo, hi)
        self.term0 = np.array(TERMS)[_choice(rng, np.array(TERM_P_BY_SIZE)[self.size])]
        self.util = rng.uniform(0.45, 0.95, n)
        self.baseline = (rng.normal(0.0, 0.6, n) + np.array(CHANNEL_HEALTH)[self.channel]
                         + np.array([-0.10, 0.0, 0.05, 0.15])[self.size])
        self.wants_trial = rng.random(n) < np.array(TRIAL_P_BY_SIZE)[self.size]
        self.name_parts = (rng.integers(0, len(NAME_PREFIXES), n), rng.integers(0, len(NAME_NOUNS), n))
        # Signups grow over the book (weight 1 at the start, 2 at the end) with a January and
        # September bump; account ids follow signup order.
        t = np.arange(M)
        month_of_year = (self.first_idx + t) % 12
        w = (1.0 + t / max(M - 1, 1)) * np.where(np.isin(month_of_year, (0, 8)), 1.25, 1.0)
        self.signup_month = np.sort(rng.choice(M, size=n, p=w / w.sum()))
        self.signup_day = self.ms(self.signup_month) + rng.integers(0, 28, n)
        order = np.lexsort((np.arange(n), self.signup_day))
        self.signup_day = self.signup_day[order]
        self.signup_month = self.signup_month[order]

    # -- lines -------------------------------------------------------------------------
    def price(self, idx: np.ndarray, tier: np.ndarray, seats: np.ndarray, term: np.ndarray, start: np.ndarray) -> np.ndarray:
        per_seat = np.array(SEAT_PRICE, dtype=float)[self.currency[idx], tier]
        disc = np.select([term == 1, term == 12, term == 24], [1.0, 0.85, 0.80], 0.75)
        growth = LIST_PRICE_GROWTH ** np.maximum(self.month_of(start) // 12, 0)
        return np.round(per_seat * seats * term * disc * growth, 2)

    def record(self, idx, kind, start, end, plan_tier, term, seats, amount, addon=None) -> None:
        if len(idx) == 0:
            return
        k = len(idx)
        self.lines.append({
            "acct": np.asarray(idx, dtype=np.int64),
            "kind": np.full(k, kind, dtype=np.int8),  # 0 base, 1 trial, 2 add-on
            "start": np.asarray(start, dtype=np.int64),
            "end": np.asarray(end, dtype=np.int64),  # INF_DAY = ongoing
            "tier": np.asarray(plan_tier, dtype=np.int64),
            "term": np.asarray(term, dtype=np.int64),
            "seats": np.asarray(seats, dtype=np.int64),
            "amount": np.asarray(amount, dtype=float),
            "addon": np.full(k, -1, dtype=np.int64) if addon is None else np.asarray(addon, dtype=np.int64),
            "churn": np.full(k, self._closing_churn, dtype=bool),  # ended by the account's churn
        })

    def open_base(self, idx, start, tier, seats, term) -> None:
        self.tier[idx], self.seats[idx], self.term[idx] = tier, seats, term
        self.line_start[idx] = start
        self.amount[idx] = self.price(idx, tier, seats, term, start)
        dom = np.minimum(start - self.ms(self.month_of(start)), 27)
        self.term_end[idx] = np.where(term > 1, self.ms(self.month_of(start) + term) + dom, INF_DAY)

    def close_base(self, idx, end) -> None:
        self.record(idx, 0, self.line_start[idx], end, self.tier[idx], self.term[idx], self.seats[idx], self.amount[idx])

    def close_addon(self, idx, end) -> None:
        """End the add-on lines of ``idx`` (accounts without one are skipped) on ``end`` (aligned with idx)."""
        end = np.broadcast_to(np.asarray(end, dtype=np.int64), np.shape(idx))
        has = self.addon[idx] >= 0
        idx, end = idx[has], end[has]
        self.record(idx, 2, self.addon_start[idx], end, self.tier[idx],
                    np.ones(len(idx), dtype=np.int64), np.zeros(len(idx), dtype=np.int64), self.addon_amount[idx],
                    self.addon[idx])
        self.addon[idx] = -1

    def churn_reason(self, idx: np.ndarray) -> np.ndarray:
        w = np.tile(np.array(CHURN_REASON_BASE), (len(idx), 1))
        h = self.h[idx]
        size, vert = self.size[idx], self.vertical[idx]
        w[:, 2] *= np.where(h < -0.5, 2.5, 1.0)
        w[:, 3] *= np.where(h < -0.5, 1.8, 1.0)
        w[:, 0] *= np.where(vert >= 2, 2.0, 1.0)
        w[:, 4] *= np.select([size == 0, size == 3], [2.0, 0.2], 1.0)
        w[:, 5] *= np.select([size == 0, size == 3], [2.0, 0.2], 1.0)
        w[:, 6] *= np.where(vert == 1, 3.0, 0.6)
        return _choice(self.rng, w)

    # -- the month loop ----------------------------------------------------------------
    def simulate(self, progress: Callable[[int], None]) -> None:
        rng, n, M = self.rng, self.n, self.M
        self.status = np.zeros(n, dtype=np.int8)  # 0 prospect, 1 trial, 2 paying, 3 churned, 4 trial lost
        self.tier = self.tier0.copy()
        self.seats = self.seats0.copy()
        self.term = self.term0.copy()
        self.line_start = np.zeros(n, dtype=np.int64)
        self.term_end = np.full(n, INF_DAY, dtype=np.int64)
        self.amount = np.zeros(n)
        self.addon = np.full(n, -1, dtype=np.int64)
        self.addon_start = np.zeros(n, dtype=np.int64)
        self.addon_amount = np.zeros(n)
        self.trial_end = np.full(n, INF_DAY, dtype=np.int64)
        self.svc_start = np.full(n, INF_DAY, dtype=np.int64)
        self.svc_end = np.full(n, INF_DAY, dtype=np.int64)
        self.first_end = np.full(n, INF_DAY, dtype=np.int64)
        self.churn_day = np.full(n, INF_DAY, dtype=np.int64)
        self.reason = np.full(n, -1, dtype=np.int64)
        self.ever_paid = np.zeros(n, dtype=bool)
        self.first_paid_month = np.full(n, -1, dtype=np.int64)
        self.h0 = np.zeros(n)
        self.z = np.zeros(n)
        self.h = self.baseline.copy()
        self.users = np.clip(np.round(self.seats0 * self.util), 1, MAX_NAMED_USERS).astype(np.int64)
        self.base_churn_logit = np.array([_logit(p) for p in CHURN_BASE])[self.size]

        for t in range(M):
            ms, me = int(self.ms(t)), int(self.ms(t + 1))
            days = me - ms
            # 1. signups ------------------------------------------------------------------
            new = np.flatnonzero(self.signup_month == t)
            self.events["signups"] += len(new)
            self.z[new] = rng.normal(0.0, 0.6, len(new))
            self.h[new] = self.baseline[new] + self.z[new]
            self.h0[new] = self.h[new]
            self.svc_start[new] = self.signup_day[new]
            trial = new[self.wants_trial[new]]
            direct = new[~self.wants_trial[new]]
            self.status[trial] = 1
            self.trial_end[trial] = self.signup_day[trial] + TRIAL_DAYS
            self.record(trial, 1, self.signup_day[trial], self.trial_end[trial], self.tier0[trial],
                        np.ones(len(trial), dtype=np.int64), self.seats0[trial], np.zeros(len(trial)))
            self.events["trials"] += len(trial)
            self.status[direct] = 2
            self.open_base(direct, self.signup_day[direct], self.tier0[direct], self.seats0[direct], self.term0[direct])
            self.events["direct_paid"] += len(direct)
            new_paid = list(direct)

            # 2. trials ending this month convert or not ------------------------------------
            ending = np.flatnonzero((self.status == 1) & (self.trial_end < me))
            conv = rng.random(len(ending)) < _sigmoid(TRIAL_CONVERSION_LOGIT + TRIAL_CONVERSION_H * self.h[ending])
            won, lost = ending[conv], ending[~conv]
            self.status[won] = 2
            # Trial converts mostly to monthly plans.
            term = np.where(rng.random(len(won)) < 0.75, 1, self.term0[won])
            self.open_base(won, self.trial_end[won], self.tier0[won], self.seats0[won], term)
            self.events["trial_conversions"] += len(won)
            new_paid.extend(won)
            self.status[lost] = 4
            self.svc_end[lost] = self.trial_end[lost]
            self.first_end[lost] = np.minimum(self.first_end[lost], self.trial_end[lost])
            new_paid = np.array(sorted(new_paid), dtype=np.int64)
            self.ever_paid[new_paid] = True
            self.first_paid_month[new_paid] = t

            # 3. paying accounts already paying before this month ---------------------------
            paying = np.flatnonzero((self.status == 2) & (self.line_start < ms))
            h = self.h[paying]
            p_churn = _sigmoid(self.base_churn_logit[paying] - CHURN_H * h)
            u = rng.random((len(paying), 6))
            busy = np.zeros(len(paying), dtype=bool)
            # 3a. renewals of fixed-term lines ending this month
            renew_due = (self.term[paying] > 1) & (self.term_end[paying] < me)
            churn_at_renewal = renew_due & (u[:, 0] < 1 - (1 - p_churn) ** 12)
            # 3b. monthly lines churn on their billing anniversary
            dom = np.minimum((self.line_start[paying] - self.ms(self.month_of(self.line_start[paying]))), 27)
            churn_monthly = (self.term[paying] == 1) & (u[:, 0] < p_churn)
            churning = paying[churn_at_renewal | churn_monthly]
            cday = np.where(churn_at_renewal, self.term_end[paying], ms + dom)[churn_at_renewal | churn_monthly]
            self._closing_churn = True
            self.close_base(churning, cday)
            self.close_addon(churning, cday)
            self._closing_churn = False
            self.status[churning] = 3
            self.churn_day[churning] = cday
            self.svc_end[churning] = cday
            self.first_end[churning] = np.minimum(self.first_end[churning], cday)
            self.reason[churning] = self.churn_reason(churning)
            self.events["churns"] += len(churning)
            busy |= churn_at_renewal | churn_monthly
            # renewals: same, upgraded or downgraded terms, new line from the term end date
            renewing_m = renew_due & ~busy
            renewing = paying[renewing_m]
            hr = h[renewing_m]
            ur = u[renewing_m]
            up = ur[:, 1] < _sigmoid(_logit(0.12) + UPGRADE_H * hr)
            down = ~up & (ur[:, 2] < _sigmoid(_logit(0.10) - DOWNGRADE_H * hr))
            rday = self.term_end[renewing]
            tier, seats = self.changed_plan(renewing, up, down)
            self.close_base(renewing, rday)
            self.open_base(renewing, rday, tier, seats, self.term[renewing])
            self.events["renewals"] += len(renewing)
            self.events["upgrades"] += int(up.sum())
            self.events["downgrades"] += int(down.sum())
            busy |= renew_due
            # 3c. mid-line upgrades (any term), 3d. downgrades of monthly lines
            p_up = _sigmoid(_logit(UPGRADE_BASE) + UPGRADE_H * h)
            p_down = _sigmoid(_logit(DOWNGRADE_BASE) - DOWNGRADE_H * h)
            upm = ~busy & (u[:, 1] < p_up)
            downm = ~busy & ~upm & (self.term[paying] == 1) & (u[:, 2] < p_down)
            changing = paying[upm | downm]
            is_up = upm[upm | downm]
            cday = ms + rng.integers(0, days, len(changing))
            cday = np.where(is_up, cday, ms + dom[upm | downm])  # downgrades take effect at the billing date
            tier, seats = self.changed_plan(changing, is_up, ~is_up)
            self.close_base(changing, cday)
            self.open_base(changing, cday, tier, seats, self.term[changing])
            self.events["upgrades"] += int(is_up.sum())
            self.events["downgrades"] += int((~is_up).sum())
            busy |= upm | downm
            # 3e. add-ons: cross-sell and cancellation
            still = ~(churn_at_renewal | churn_monthly)
            has = self.addon[paying] >= 0
            start_addon = still & ~has & (u[:, 3] < _sigmoid(_logit(ADDON_BASE) + ADDON_H * h))
            cancel_addon = still & has & (self.addon_start[paying] < ms) & (
                u[:, 4] < _sigmoid(_logit(ADDON_CANCEL_BASE) - ADDON_CANCEL_H * h))
            cidx = paying[cancel_addon]
            self.close_addon(cidx, ms + rng.integers(0, days, len(cidx)))
            self.events["addons_cancelled"] += len(cidx)
            sidx = paying[start_addon]
            self.addon[sidx] = rng.integers(0, len(ADDONS), len(sidx))
            self.addon_start[sidx] = ms + rng.integers(0, days, len(sidx))
            base_mrr = self.amount[sidx] / self.term[sidx]
            self.addon_amount[sidx] = np.maximum(np.round(base_mrr * rng.uniform(0.12, 0.3, len(sidx))), 10.0)
            self.events["addons_started"] += len(sidx)

            # 4. reactivations: churned accounts coming back months later -------------------
            back = np.flatnonzero((self.status == 3) & (self.churn_day < ms - 45) & (self.reason != 5))
            react = back[rng.random(len(back)) < _sigmoid(_logit(REACTIVATION_BASE) + REACTIVATION_H * self.h[back])]
            rday = ms + rng.integers(0, 28, len(react))
            self.z[react] += 0.5
            self.h[react] = self.baseline[react] + self.z[react]
            term = np.where(rng.random(len(react)) < 0.8, 1, 12)
            self.open_base(react, rday, self.tier[react], self.seats[react], term)
            self.status[react] = 2
            self.svc_start[react] = rday
            self.svc_end[react] = INF_DAY
            self.churn_day[react] = INF_DAY
            self.events["reactivations"] += len(react)

            # 5. observable behaviour of the month ------------------------------------------
            self.users = np.clip(np.round(self.seats * self.util), 1, MAX_NAMED_USERS).astype(np.int64)
            active = np.flatnonzero((self.svc_start < me) & (self.svc_end > ms) & (self.status > 0))
            a_from = np.maximum(self.svc_start[active], ms)
            a_to = np.minimum(self.svc_end[active], me)
            keep = a_to > a_from
            active, a_from, a_to = active[keep], a_from[keep], a_to[keep]
            if self.usage:
                self.month_usage(active, a_from, a_to, days)
            self.month_tickets(active, a_from, a_to, days, t)
            self.month_nps(active, a_from, a_to)
            self.month_costs(t, new_paid, active)

            # 6. health drifts --------------------------------------------------------------
            live = np.flatnonzero(self.status > 0)
            self.z[live] = 0.8 * self.z[live] + rng.normal(0.0, 0.45, len(live))
            self.h[live] = self.baseline[live] + self.z[live]
            progress(t + 1)

        # Lines still open at the end of the book.
        paying = np.flatnonzero(self.status == 2)
        self.record(paying, 0, self.line_start[paying], np.where(self.term[paying] > 1, self.term_end[paying], INF_DAY),
                    self.tier[paying], self.term[paying], self.seats[paying], self.amount[paying])
        with_addon = paying[self.addon[paying] >= 0]
        self.record(with_addon, 2, self.addon_start[with_addon], np.full(len(with_addon), INF_DAY), self.tier[with_addon],
                    np.ones(len(with_addon), dtype=np.int64), np.zeros(len(with_addon), dtype=np.int64),
                    self.addon_amount[with_addon], self.addon[with_addon])

    def changed_plan(self, idx: np.ndarray, up: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New (tier, seats) after an upgrade (more seats or a higher tier) or a downgrade."""
        rng = self.rng
        tier, seats = self.tier[idx].copy(), self.seats[idx].copy()
        coin = rng.random(len(idx))
        factor = rng.uniform(1.1, 1.5, len(idx))
        cut = rng.uniform(0.6, 0.9, len(idx))
        tier_up = up & (coin < 0.35) & (tier < 3)
        seats_up = up & ~tier_up
        tier[tier_up] += 1
        seats[seats_up] = np.maximum(np.ceil(seats[seats_up] * factor[seats_up]).astype(np.int64), seats[seats_up] + 1)
        tier_down = down & (coin < 0.3) & (tier > 0)
        seats_down = down & ~tier_down & (seats > 1)
        tier[tier_down] -= 1
        seats[seats_down] = np.maximum(np.floor(seats[seats_down] * cut[seats_down]).astype(np.int64), 1)
        return tier, seats

    # -- observable behaviour ----------------------------------------------------------
    def _times(self, day_from: np.ndarray, day_to: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Random seconds-since-epoch in [day_from, day_to), during working hours (UTC)."""
        rng = rng or self.rng
        d = day_from + np.floor(rng.random(len(day_from)) * (day_to - day_from)).astype(np.int64)
        secs = 7 * 3600 + rng.integers(0, 12 * 3600, len(d))
        return d * DAY + secs

    def month_usage(self, active: np.ndarray, a_from: np.ndarray, a_to: np.ndarray, days: int) -> None:
        rng = self.rng_usage
        h = self.h[active]
        frac = (a_to - a_from) / days
        n_users = self.users[active]
        n_act = rng.binomial(n_users, _sigmoid(0.6 + 1.3 * h))
        # Active users: a rotating window of the account's named users.
        acct = np.repeat(active, n_act)
        rep = np.repeat(np.arange(len(active)), n_act)
        first = np.cumsum(n_act) - n_act
        offset = rng.integers(0, 1 << 30, len(active))
        k = ((np.arange(len(acct)) - first[rep]) + offset[rep]) % n_users[rep]
        hu, fu = h[rep], frac[rep]
        n_login = rng.poisson(self.epum * 0.55 * np.exp(0.45 * hu) * fu)
        n_feat = rng.poisson(self.epum * 0.42 * np.exp(0.55 * hu) * fu)
        n_value = rng.poisson(self.epum * 0.03 * np.exp(0.8 * hu) * fu)
        counts = np.stack([n_login, n_feat, n_value], axis=1)
        per_user = counts.sum(axis=1)
        urep = np.repeat(np.arange(len(acct)), per_user)
        kind_of = np.repeat(np.tile(np.array([0, 1, 2], dtype=np.int8), len(acct)), counts.ravel())
        rrep = rep[urep]
        ts = self._times(a_from[rrep], a_to[rrep], rng)
        ne = len(kind_of)
        feature = np.full(ne, -1, dtype=np.int8)
        dur = np.full(ne, np.nan)
        fm = kind_of == 1
        nf = int(fm.sum())
        if nf:
            hf = h[rrep[fm]]
            big = (self.size[acct[urep[fm]]] >= 2).astype(float)
            w = np.tile(np.array(FEATURE_WEIGHT), (nf, 1))
            cplx = np.array([f in COMPLEX_FEATURES for f in FEATURES])
            w[:, cplx] *= np.exp(0.7 * hf)[:, None]
            w[:, 4] *= 1.0 + big  # the API is used more by larger accounts
            feature[fm] = _choice(rng, w)
            mean = np.where(cplx[feature[fm]], 540.0, 240.0) * np.exp(0.2 * hf)
            dur[fm] = np.round(rng.lognormal(np.log(mean) - 0.5 * 0.8**2, 0.8))
        feature[kind_of == 2] = FEATURES.index("reports")
        self.usage_chunks.append({
            "acct": acct[urep].astype(np.int32), "user": k[urep].astype(np.int8), "ts": ts, "event": kind_of,
            "feature": feature, "dur": dur.astype(np.float32),
        })

    def month_tickets(self, active, a_from, a_to, days, t) -> None:
        rng = self.rng
        h = self.h[active]
        frac = (a_to - a_from) / days
        onboarding = (a_from - self.svc_start[active]) < 60
        lam = np.array(TICKET_RATE)[self.size[active]] * np.exp(-0.5 * h) * frac * np.where(onboarding, 1.8, 1.0)
        n = rng.poisson(lam)
        rep = np.repeat(np.arange(len(active)), n)
        self.tickets_this_month = len(rep)
        if len(rep) == 0:
            return
        acct, hr = active[rep], h[rep]
        created = self._times(a_from[rep], a_to[rep]) + rng.integers(0, 3600, len(rep))
        p_angry = _sigmoid(-1.6 - 1.3 * hr)
        p_happy = _sigmoid(-1.4 + 1.0 * hr)
        u = rng.random(len(rep))
        tone = np.where(u < p_angry, 0, np.where(u < p_angry + p_happy, 2, 1))
        topic_w = np.tile(np.array([0.18, 0.20, 0.22, 0.28, 0.12]), (len(rep), 1))
        topic_w[:, 1] *= np.exp(-0.4 * hr)
        topic_w[:, 2] *= np.exp(-0.4 * hr)
        topic_w[:, 3] *= np.where(onboarding[rep], 2.0, 1.0)
        topic = _choice(rng, topic_w)
        pr_w = np.tile(np.array([0.25, 0.50, 0.18, 0.07]), (len(rep), 1))
        pr_w[:, 2:] *= np.where(tone == 0, 3.0, 1.0)[:, None] * np.where(self.size[acct] >= 2, 1.5, 1.0)[:, None]
        pr_w[:, 2:] *= np.where(topic == 2, 1.5, 1.0)[:, None]
        priority = _choice(rng, pr_w)
        hours = rng.lognormal(np.log(18.0), 1.1, len(rep)) * np.select([priority == 3, priority == 2], [0.25, 0.6], 1.0)
        hours *= np.where(topic == 2, 1.8, 1.0)
        resolved = created + np.round(hours * 3600).astype(np.int64)
        never = rng.random(len(rep)) < 0.02
        resolved = np.where(never | (resolved >= self.window_end * DAY), -1, resolved)
        self.ticket_chunks.append({
            "acct": acct, "created": created, "resolved": resolved, "tone": tone, "topic": topic,
            "priority": priority, "h": hr, "subject": rng.integers(0, 4, len(rep)),
            "opener": rng.integers(0, 3, len(rep)), "core": rng.integers(0, 3, len(rep)),
            "closer": rng.integers(0, 3, len(rep)), "csat_u": rng.random(len(rep)), "csat_noise": rng.normal(0, 0.8, len(rep)),
            "csat_delay": rng.integers(600, 48 * 3600, len(rep)),
            "csat_comment": rng.random(len(rep)), "csat_pick": rng.integers(0, 6, len(rep)),
            "user": rng.integers(0, 1 << 30, len(rep)) % self.users[acct],
        })

    def month_nps(self, active, a_from, a_to) -> None:
        rng = self.rng
        paying = self.status[active] != 1
        paying &= self.ever_paid[active]
        idx = np.flatnonzero(paying & (rng.random(len(active)) < 0.075))
        if len(idx) == 0:
            return
        acct, h = active[idx], self.h[active[idx]]
        score = np.clip(np.round(8.1 + 1.5 * h + rng.normal(0, 1.4, len(idx))), 0, 10).astype(np.int64)
        self.nps_chunks.append({
            "acct": acct, "ts": self._times(a_from[idx], a_to[idx]), "score": score,
            "user": rng.integers(0, 1 << 30, len(idx)) % self.users[acct],
            "comment": rng.random(len(idx)), "pick": rng.integers(0, 6, len(idx)),
        })

    def month_costs(self, t: int, new_paid: np.ndarray, active: np.ndarray) -> None:
        paying = np.flatnonzero(self.status == 2)
        fx = np.array(FX_CENTRE)[self.currency[paying]]
        mrr = float(np.sum((self.amount[paying] / self.term[paying] + np.where(self.addon[paying] >= 0, self.addon_amount[paying], 0.0)) * fx))
        tickets = self.tickets_this_month
        n_customers = len(paying)
        csms = max(2, int(np.ceil(n_customers / 150)))
        acq = float(np.sum(np.array(ACQUISITION_COST_BY_SIZE)[self.size[new_paid]]))
        amounts = np.array([
            csms * 6500.0 + 1500.0,  # cs_team: salaries + tooling
            3000.0 + 45.0 * tickets,  # support_team
            20000.0 + acq,  # sales_marketing
            0.18 * mrr + 2000.0,  # cost_of_revenue (hosting, payment fees): ~80 % gross margin
            12000.0 + 0.07 * mrr,  # other (G&A)
        ])
        noise = self.rng.normal(1.0, 0.03, 5)
        self.costs.append((t, np.round(amounts * noise, 2)))


# --------------------------------------------------------------------------------------
# Assembly into canonical Arrow tables
# --------------------------------------------------------------------------------------
def canonical_schema(entity_name: str) -> pa.Schema:
    return ENTITIES[entity_name].arrow_schema


def _table(entity_name: str, cols: dict[str, Any]) -> pa.Table:
    schema = canonical_schema(entity_name)
    arrays = []
    for f in schema:
        v = cols[f.name]
        arr = v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v, type=f.type)
        if arr.type != f.type:
            arr = arr.cast(f.type)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=schema)


def _take(values: tuple[str, ...] | list[str], idx: np.ndarray) -> pa.Array:
    return pa.array(list(values), type=pa.string()).take(pa.array(np.asarray(idx, dtype=np.int64)))


def _ts(seconds: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64) * 1_000_000, type=pa.timestamp("us"), mask=null)


def _cat(chunks: list[dict[str, np.ndarray]], key: str, dtype=None) -> np.ndarray:
    if not chunks:
        return np.zeros(0, dtype=dtype or np.int64)
    return np.concatenate([c[key] for c in chunks])


class _Assembler:
    def __init__(self, book: _Book):
        self.b = book
        width = max(5, len(str(book.n)))
        self.num = pa.array([f"{i + 1:0{width}d}" for i in range(book.n)], type=pa.string())
        self.account_ids = pc.binary_join_element_wise("acc", self.num, "_")

    def acct(self, idx: np.ndarray) -> pa.Array:
        return self.account_ids.take(pa.array(np.asarray(idx, dtype=np.int64)))

    def accounts(self) -> tuple[pa.Table, pa.Table]:
        b = self.b
        legal = np.array([0, 1, 0, 3, 4, 5, 6, 7, 8, 8])[b.country]
        legal = np.where((b.country == 2) & ~b.french, 3, legal)  # Flemish Belgium: BV
        names = pc.binary_join_element_wise(_take(NAME_PREFIXES, b.name_parts[0]), _take(NAME_NOUNS, b.name_parts[1]),
                                            _take(LEGAL_FORMS, legal), " ")
        accounts = _table("accounts", {"account_id": self.account_ids, "name": names})
        # Last plan each account had (paid plan, or the trial plan of never-converted trials).
        tier_term = b.tier * 4 + np.searchsorted(np.array(TERMS), b.term)
        plan_names = [f"{TIERS[t]}-{TERM_NAMES[m]}" for t in range(4) for m in TERMS]
        plan_idx = np.where(b.ever_paid, tier_term, 16 + b.tier0)
        plan_names += [f"{TIERS[t]}-trial" for t in range(4)]
        signup = pa.array(b.signup_day.astype(np.int32), type=pa.date32()).cast(pa.string())
        attrs: list[tuple[str, pa.Array, np.ndarray | None]] = [
            ("industry", _take(b.industry_names, b.industry), None),
            ("vertical", _take(VERTICALS, b.vertical), None),
            ("size", _take(SIZES, b.size), None),
            ("channel", _take(CHANNELS, b.channel), None),
            ("country", _take(COUNTRIES, b.country), None),
            ("language", _take(("en", "fr"), b.french.astype(np.int64)), None),
            ("currency", _take(CURRENCIES, b.currency), None),
            ("csm", _take(CSMS_SENIOR + CSMS_POOL, b.csm), None),
            ("plan", _take(plan_names, plan_idx), None),
            ("signup_date", signup, None),
            ("churn_reason", _take(CHURN_REASONS, np.maximum(b.reason, 0)), b.reason >= 0),
            # The customer contact the playbooks' e-mails go to (``to: contact`` reads
            # playbooks.contact_email_attribute = "contact_email"): one per account at the
            # reserved domain example.com (RFC 2606), so a demo can never mail a real person.
            # Made from the account number, not drawn: every other table stays the same.
            ("contact_email", pc.binary_join_element_wise("contact-", self.num, "@example.com", ""), None),
        ]
        ids, names_, values = [], [], []
        for name, arr, mask in attrs:
            if mask is None:
                ids.append(self.account_ids)
                values.append(arr)
                k = b.n
            else:
                sel = pa.array(np.flatnonzero(mask))
                ids.append(self.account_ids.take(sel))
                values.append(arr.take(sel))
                k = int(mask.sum())
            names_.append(pa.array([name] * k, type=pa.string()) if k else pa.array([], type=pa.string()))
        attributes = pa.table({
            "account_id": pa.concat_arrays(ids), "attribute": pa.concat_arrays(names_), "value": pa.concat_arrays(values),
        })
        return accounts, attributes

    def subscriptions(self) -> pa.Table:
        b = self.b
        L = {k: _cat(b.lines, k) for k in ("acct", "kind", "start", "end", "tier", "term", "seats", "amount", "addon",
                                           "churn")}
        order = np.lexsort((L["addon"], L["kind"], L["start"], L["acct"]))
        L = {k: v[order] for k, v in L.items()}
        # Sequence number within each account, in start order.
        n = len(order)
        first = np.r_[True, L["acct"][1:] != L["acct"][:-1]] if n else np.zeros(0, bool)
        group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0)) if n else np.zeros(0, np.int64)
        seq = np.arange(n) - group_start + 1
        sub_ids = pc.binary_join_element_wise("sub", self.num.take(pa.array(L["acct"])),
                                              pa.array(seq).cast(pa.string()), "_")
        term_idx = np.searchsorted(np.array(TERMS), L["term"])
        base_names = [f"{TIERS[t]}-{TERM_NAMES[m]}" for t in range(4) for m in TERMS]
        all_names = base_names + [f"{TIERS[t]}-trial" for t in range(4)] + list(ADDONS)
        plan_idx = np.select([L["kind"] == 0, L["kind"] == 1], [L["tier"] * 4 + term_idx, 16 + L["tier"]],
                             20 + np.maximum(L["addon"], 0))
        is_trial = L["kind"] == 1
        billing = np.where(L["kind"] == 0, L["term"], 1)
        quantity = np.where(L["kind"] == 2, np.nan, L["seats"].astype(float))
        # canceled_at: a churned line's cancellation is recorded before its end — within the
        # last billing month for monthly lines (1-28 days), 7-60 days before the term end for
        # longer terms — never before its start; renewed and open lines have none.  Drawn from
        # its own stream so that every other value of the book is unchanged.
        rng_c = np.random.default_rng([b.seed, 2])
        lead = np.where(L["term"] > 1, rng_c.integers(7, 61, n), rng_c.integers(1, 29, n))
        churned = L["churn"].astype(bool) & (L["end"] < INF_DAY)
        cancel = np.maximum(L["end"] - lead, L["start"])
        return _table("subscriptions", {
            "subscription_id": sub_ids,
            "account_id": self.acct(L["acct"]),
            "plan": _take(all_names, plan_idx),
            "start_date": pa.array(L["start"].astype(np.int32), type=pa.date32()),
            "end_date": pa.array(L["end"].astype(np.int32), type=pa.date32(), mask=L["end"] >= INF_DAY),
            "amount": pa.array(L["amount"], type=pa.float64()),
            "billing_period_months": pa.array(billing.astype(np.int64)),
            "currency": _take(CURRENCIES, b.currency[L["acct"]]),
            "is_trial": pa.array(is_trial),
            "quantity": pa.array(quantity, type=pa.float64(), from_pandas=True),
            "kind": pa.array(["recurring"] * n, type=pa.string()),
            "canceled_at": pa.array(cancel.astype(np.int32), type=pa.date32(), mask=~churned),
        })

    def usage_batches(self, batch_rows: int | None) -> Iterator[pa.Table]:
        """The usage events sorted by (account, time, user, event), as tables of at most
        ``batch_rows`` rows (None: one table).  The rows and their order do not depend on
        ``batch_rows``; a large book (hundreds of millions of events) is written batch by
        batch, so the event strings of the whole book are never in memory at once."""
        b = self.b
        ch = b.usage_chunks
        # Onboarding milestones, once per account, in the first weeks of its first spell.
        rng = b.rng_usage
        signed = np.flatnonzero(b.status > 0) if b.usage else np.zeros(0, np.int64)
        m_acct, m_ts, m_ev, m_feat = [], [], [], []
        for j, _ in enumerate(MILESTONES):
            p = _sigmoid(_logit(MILESTONE_P[j]) + 1.2 * b.h0[signed])
            done = rng.random(len(signed)) < p
            delay = rng.exponential(4.0 * (j + 1) * np.exp(-0.6 * b.h0[signed]))
            when = b.signup_day[signed] * DAY + np.round(delay * DAY).astype(np.int64)
            ok = done & (when < np.minimum(b.first_end[signed], b.window_end) * DAY)
            k = int(ok.sum())
            m_acct.append(signed[ok].astype(np.int32))
            m_ts.append(when[ok])
            m_ev.append(np.full(k, 3 + j, dtype=np.int8))
            m_feat.append(np.full(k, FEATURES.index(MILESTONE_FEATURE[j]), dtype=np.int8))
        n_m = sum(len(a) for a in m_acct)
        acct = np.concatenate([c["acct"] for c in ch] + m_acct) if b.usage else np.zeros(0, np.int32)
        ts = np.concatenate([c["ts"] for c in ch] + m_ts) if b.usage else np.zeros(0, np.int64)
        # One int64 sort key (account, time, user, event) instead of a slow multi-key lexsort;
        # the stable sort keeps generation order for exact ties, so the result is deterministic.
        ts_rel = ts - b.window_start * DAY
        ts_bits = max(int(b.M * 31 * DAY).bit_length(), 1)
        acct_bits = max(int(b.n).bit_length(), 1)
        if acct_bits + ts_bits + 6 + 3 <= 63 and len(ts):
            user0 = np.concatenate([c["user"] for c in ch] + [np.zeros(n_m, np.int8)])
            ev0 = np.concatenate([c["event"] for c in ch] + m_ev)
            key = (((acct.astype(np.int64) << ts_bits | ts_rel) << 6 | user0.astype(np.int64)) << 3) | ev0.astype(np.int64)
            del user0, ev0, ts_rel
            order = np.argsort(key, kind="stable")
            del key
        else:
            order = np.lexsort((ts, acct))
        acct, ts = acct[order], ts[order]

        def gather(name: str, extra: list[np.ndarray]) -> np.ndarray:
            if not b.usage:
                return np.zeros(0, np.int8)
            return np.concatenate([c[name] for c in ch] + extra)[order]

        user = gather("user", [np.zeros(n_m, np.int8)])
        event = gather("event", m_ev)
        feature = gather("feature", m_feat)
        dur = gather("dur", [np.full(n_m, np.nan, np.float32)])
        del order
        b.usage_chunks = []  # free the per-month chunks
        n = len(acct)
        step = n if not batch_rows else batch_rows
        for lo in range(0, max(n, 1), max(step, 1)):
            hi = min(n, lo + step) if n else 0
            a, u = acct[lo:hi], user[lo:hi]
            # user_id strings are built once per distinct (account, user), then gathered.
            pair = a.astype(np.int64) * 64 + u.astype(np.int64)
            uniq, inverse = np.unique(pair, return_inverse=True)
            names = pc.binary_join_element_wise("u", self.num.take(pa.array(uniq // 64)),
                                                pa.array(uniq % 64 + 1).cast(pa.string()), "_")
            user_ids = names.take(pa.array(inverse.astype(np.int64)))
            del pair, inverse
            f = feature[lo:hi]
            yield _table("usage", {
                "account_id": self.acct(a),
                "user_id": user_ids,
                "timestamp": _ts(ts[lo:hi]),
                "event": _take(EVENTS, event[lo:hi]),
                "feature": pc.if_else(pa.array(f >= 0), _take(FEATURES, np.maximum(f, 0)),
                                      pa.scalar(None, pa.string())),
                "duration_seconds": pa.array(dur[lo:hi].astype(np.float64), type=pa.float64(), from_pandas=True),
            })
            if not n:
                break

    def tickets_and_csat(self) -> tuple[pa.Table, dict[str, Any]]:
        b = self.b
        ch = b.ticket_chunks
        keys = ("acct", "created", "resolved", "tone", "topic", "priority", "h", "subject", "opener", "core", "closer",
                "csat_u", "csat_noise", "csat_delay", "csat_comment", "csat_pick", "user")
        T = {k: _cat(ch, k, float if k in ("h", "csat_u", "csat_noise", "csat_comment") else None) for k in keys}
        order = np.lexsort((T["acct"], T["created"]))
        T = {k: v[order] for k, v in T.items()}
        n = len(order)
        lang = b.french[T["acct"]].astype(np.int64)
        # Subjects: index into the flattened (language, topic, variant) list.
        subj_list = [s for lg in texts.LANGUAGES for tp in texts.TOPICS for s in texts.SUBJECTS[lg][tp]]
        subj_idx = (lang * len(texts.TOPICS) + T["topic"]) * 4 + T["subject"]
        # Bodies: every (language, tone, opener, topic, core, closer) combination, flattened.
        body_list = [
            f"{texts.OPENERS[lg][tn][o]} {texts.CORES[lg][tp][c]} {texts.CLOSERS[lg][tn][e]}"
            for lg in texts.LANGUAGES for tn in texts.TONES for o in range(3) for tp in texts.TOPICS
            for c in range(3) for e in range(3)
        ]
        body_idx = ((((lang * 3 + T["tone"]) * 3 + T["opener"]) * len(texts.TOPICS) + T["topic"]) * 3 + T["core"]) * 3 + T["closer"]
        now = b.window_end * DAY
        unresolved = T["resolved"] < 0
        age = now - T["created"]
        status = np.where(unresolved, np.where(age < 3 * DAY, 0, 1), np.where(now - T["resolved"] > 7 * DAY, 3, 2))
        tickets = _table("tickets", {
            "ticket_id": pc.binary_join_element_wise("T", pa.array(np.arange(1, n + 1)).cast(pa.string()), "-"),
            "account_id": self.acct(T["acct"]),
            "created_at": _ts(T["created"]),
            "resolved_at": _ts(np.where(unresolved, 0, T["resolved"]), null=unresolved),
            "status": _take(("open", "pending", "resolved", "closed"), status),
            "priority": _take(PRIORITIES, T["priority"]),
            "topic": _take(texts.TOPICS, T["topic"]),
            "subject": _take(subj_list, subj_idx),
            "body": _take(body_list, body_idx),
        })
        # CSAT: about a third of resolved tickets get an answer a few hours later.
        hours = np.where(unresolved, 0, (T["resolved"] - T["created"]) / 3600)
        answered = T["resolved"] + T["csat_delay"]
        sel = ~unresolved & (T["csat_u"] < 0.35) & (answered < now)
        raw = (4.2 + 0.7 * T["h"] - 0.6 * (T["tone"] == 0) + 0.4 * (T["tone"] == 2)
               - 0.25 * np.log(np.maximum(hours, 0.1) / 18.0) + T["csat_noise"])
        score = np.clip(np.round(raw), 1, 5).astype(np.int64)
        csat = {"acct": T["acct"][sel], "ts": answered[sel], "score": score[sel], "user": T["user"][sel],
                "comment": T["csat_comment"][sel], "pick": T["csat_pick"][sel]}
        return tickets, csat

    def surveys(self, csat: dict[str, Any]) -> pa.Table:
        b = self.b
        nps = {k: _cat(b.nps_chunks, k, float if k == "comment" else None) for k in ("acct", "ts", "score", "user", "comment", "pick")}
        kind = np.r_[np.zeros(len(nps["acct"]), np.int64), np.ones(len(csat["acct"]), np.int64)]
        S = {k: np.concatenate([nps[k], csat[k]]) for k in nps}
        order = np.lexsort((kind, S["acct"], S["ts"]))
        S = {k: v[order] for k, v in S.items()}
        kind = kind[order]
        n = len(order)
        # Sentiment class of the comment follows the score.
        cls = np.where(kind == 0, np.select([S["score"] <= 6, S["score"] <= 8], [0, 1], 2),
                       np.select([S["score"] <= 2, S["score"] == 3], [0, 1], 2))
        lang = b.french[S["acct"]].astype(np.int64)
        classes = ("negative", "neutral", "positive")
        comment_list = [c for lg in texts.LANGUAGES for cl in classes for c in texts.COMMENTS[lg][cl]]
        cidx = (lang * 3 + cls) * 6 + S["pick"]
        has_comment = S["comment"] < np.where(kind == 0, 0.55, 0.4)
        comments = pc.if_else(pa.array(has_comment), _take(comment_list, cidx), pa.scalar(None, pa.string()))
        user_ids = pc.binary_join_element_wise("u", self.num.take(pa.array(S["acct"])),
                                               pa.array(S["user"] + 1).cast(pa.string()), "_")
        return _table("surveys", {
            "response_id": pc.binary_join_element_wise("r", pa.array(np.arange(1, n + 1)).cast(pa.string()), "_"),
            "account_id": self.acct(S["acct"]),
            "user_id": user_ids,
            "answered_at": _ts(S["ts"]),
            "kind": _take(("nps", "csat"), kind),
            "score": pa.array(S["score"].astype(np.int64)),
            "scale": pa.array(np.where(kind == 0, 10, 5).astype(np.int64)),
            "comment": comments,
        })

    def costs(self) -> pa.Table:
        b = self.b
        periods, cats, amounts = [], [], []
        for t, a in b.costs:
            idx = b.first_idx + t
            for j, c in enumerate(COST_CATEGORIES):
                periods.append(f"{idx // 12:04d}-{idx % 12 + 1:02d}")
                cats.append(c)
                amounts.append(float(a[j]))
        return _table("costs", {"period": periods, "category": cats, "amount": amounts, "currency": ["EUR"] * len(cats)})

    def fx_rates(self) -> pa.Table:
        """Business-day rates from 35 days before the book to its last day, as random walks."""
        b = self.b
        rng = b.rng
        days = np.arange(b.window_start - 35, b.window_end, dtype=np.int64)
        days = days[((days + 3) % 7) < 5]  # 1970-01-01 was a Thursday: keep Monday..Friday
        dates, curs, rates = [], [], []
        for c in range(1, len(CURRENCIES)):
            centre = np.log(FX_CENTRE[c])
            x = np.empty(len(days))
            cur = centre + rng.normal(0, 0.02)
            shocks = rng.normal(0, FX_DAILY_SD[c], len(days))
            for i in range(len(days)):  # mean-reverting walk (a few thousand steps at most)
                cur = cur + 0.01 * (centre - cur) + shocks[i]
                x[i] = cur
            dates.append(days)
            curs.append(np.full(len(days), c))
            rates.append(np.round(np.exp(x), 6))
        return _table("fx-rates", {
            "date": pa.array(np.concatenate(dates).astype(np.int32), type=pa.date32()),
            "currency": _take(CURRENCIES, np.concatenate(curs)),
            "rate": pa.array(np.concatenate(rates), type=pa.float64()),
        })


def build_tables(
    *,
    accounts: int = 2000,
    months: int = 36,
    seed: int = 42,
    end_month: str | None = None,
    usage: bool = True,
    events_per_user_month: float = 8.0,
    progress: ProgressCallback | None = None,
) -> tuple[dict[str, pa.Table], pa.Table, DemoSummary]:
    """Simulate the book and return (tables by entity name, account attributes, summary)."""
    tables, attributes, summary, usage_batches = _assemble(
        accounts=accounts, months=months, seed=seed, end_month=end_month, usage=usage,
        events_per_user_month=events_per_user_month, progress=progress, usage_batch_rows=None)
    tables["usage"] = next(usage_batches)  # one batch: every event
    return {k: tables[k] for k in WRITE_ORDER}, attributes, summary


def _assemble(*, accounts: int, months: int, seed: int, end_month: str | None, usage: bool,
              events_per_user_month: float, progress: ProgressCallback | None, usage_batch_rows: int | None,
              ) -> tuple[dict[str, pa.Table], pa.Table, DemoSummary, Iterator[pa.Table]]:
    """Simulate the book: (every table but usage, account attributes, summary, the usage
    events in batches of ``usage_batch_rows``).  Usage has its own random stream, so
    assembling it last leaves every table as :func:`build_tables` gives it."""
    started = time.perf_counter()
    end_month = end_month or default_end_month()
    book = _Book(accounts, months, end_month, seed, usage, events_per_user_month)
    total = months + 8
    report = progress or (lambda done, total=None: None)
    report(0, total)
    book.draw_accounts()
    book.simulate(lambda done: report(done, total))
    asm = _Assembler(book)
    tables: dict[str, pa.Table] = {}
    tables["accounts"], attributes = asm.accounts()
    tables["subscriptions"] = asm.subscriptions()
    report(months + 1, total)
    usage_batches = asm.usage_batches(usage_batch_rows)
    tables["usage"] = next(usage_batches)  # the sort and the first batch: consumes the usage stream
    report(months + 2, total)
    tables["tickets"], csat = asm.tickets_and_csat()
    tables["surveys"] = asm.surveys(csat)
    tables["costs"] = asm.costs()
    tables["fx-rates"] = asm.fx_rates()
    report(months + 3, total)
    summary = DemoSummary(accounts=accounts, months=months, seed=seed, start_month=book.start_month,
                          end_month=end_month, rows={k: v.num_rows for k, v in tables.items()},
                          events=dict(book.events))  # rows["usage"]: the first batch's (generate counts them all)
    summary.rows["account_attributes"] = attributes.num_rows
    summary.seconds = time.perf_counter() - started
    first = tables.pop("usage")

    def all_batches() -> Iterator[pa.Table]:
        yield first
        yield from usage_batches

    return tables, attributes, summary, all_batches()


WRITE_ORDER = ("accounts", "subscriptions", "usage", "tickets", "surveys", "costs", "fx-rates")
# Usage events are written in batches of this many rows (a book of 200 M events included).
USAGE_BATCH_ROWS = 5_000_000


def generate(
    warehouse,
    settings=None,
    *,
    accounts: int = 2000,
    months: int = 36,
    seed: int = 42,
    end_month: str | None = None,
    usage: bool = True,
    events_per_user_month: float = 8.0,
    progress: ProgressCallback | None = None,
) -> DemoSummary:
    """Generate the demo book and write all seven entities into ``warehouse`` (replacing them).

    ``settings`` is accepted for symmetry with the importers (the book is always priced in
    EUR, USD, GBP and CHF with EUR as base); see :func:`retentio.demo.apply_demo_settings`
    for the engagement settings that match the book.
    """
    started = time.perf_counter()
    if settings is not None and settings.workspace.base_currency != "EUR":
        raise UsageError(
            f"the demo book is in EUR but this workspace's base currency is {settings.workspace.base_currency}",
            hint="create the demo in a workspace with base currency EUR (the default)",
        )
    total = months + 3 + len(WRITE_ORDER)
    report = progress or (lambda done, total=None: None)
    tables, attributes, summary, usage_batches = _assemble(
        accounts=accounts, months=months, seed=seed, end_month=end_month, usage=usage,
        events_per_user_month=events_per_user_month, progress=lambda done, _t=None: report(done, total),
        usage_batch_rows=USAGE_BATCH_ROWS,
    )
    from retentio.model import ENTITIES as ents

    for i, name in enumerate(WRITE_ORDER):
        if name == "usage":
            with warehouse.import_writer(ents[name], file=f"demo:{name}", kind="demo", replace=True) as writer:
                n = 0
                for batch in usage_batches:
                    writer.append(batch, [])
                    n += batch.num_rows
                writer.finish(n)
            summary.rows["usage"] = n
        else:
            tbl = tables[name]
            warehouse.write_import(
                ents[name], tbl, [], file=f"demo:{name}", kind="demo", rows_read=tbl.num_rows, replace=True,
                attributes=attributes if name == "accounts" else None,
            )
        report(months + 4 + i, total)
    summary.seconds = time.perf_counter() - started
    return summary


__all__ = ["ACQUISITION_COST_BY_SIZE", "ADDONS", "CHANNELS", "CHANNEL_HEALTH", "CHANNEL_P_BY_SIZE",
    "CHURN_BASE", "CHURN_H", "CHURN_REASONS", "CHURN_REASON_BASE", "COMPLEX_FEATURES", "COST_CATEGORIES",
    "COUNTRIES", "COUNTRY_CURRENCY", "COUNTRY_FRENCH_P", "COUNTRY_P", "CSMS_POOL", "CSMS_SENIOR",
    "CURRENCIES", "DAY", "DemoSummary", "EVENTS", "FEATURES", "FEATURE_WEIGHT", "FX_CENTRE", "FX_DAILY_SD",
    "INDUSTRIES_COMMERCIAL", "INDUSTRIES_NONPROFIT", "INDUSTRIES_PUBLIC", "INF_DAY", "KEY_FEATURES",
    "LEGAL_FORMS", "LIST_PRICE_GROWTH", "MAX_NAMED_USERS", "MILESTONES", "MILESTONE_FEATURE", "MILESTONE_P",
    "NAME_NOUNS", "NAME_PREFIXES", "PRIORITIES", "SEATS_BY_SIZE", "SEAT_PRICE", "SIZES", "SIZE_P", "TERMS",
    "TERM_NAMES", "TERM_P_BY_SIZE", "TICKET_RATE", "TIERS", "TIER_P_BY_SIZE", "TRIAL_DAYS",
    "TRIAL_P_BY_SIZE", "VALUE_EVENT", "VERTICALS", "VERTICAL_P", "WRITE_ORDER", "build_tables",
    "canonical_schema", "check_arguments", "default_end_month", "generate"]
