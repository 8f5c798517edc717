"""Workspace settings: ``retentio.toml``, validated by pydantic.

Every open choice of the metrics specification lives here with its documented default,
so that a figure can always be traced to the settings that produced it.  Unknown keys are
rejected (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from retentio.errors import ConfigError
from retentio.files import CONFIG_FILE, SCHEMA_VERSION  # defined there (standard library only)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class WorkspaceSettings(_Strict):
    schema_version: int = SCHEMA_VERSION
    base_currency: str = "EUR"
    engine: Literal["duckdb", "polars", "spark"] = "duckdb"
    # How an ambiguous date such as 03/04/2024 is read.  "iso" refuses such dates (they are
    # quarantined with a reason) rather than guessing; "dmy" reads day first (French and most
    # European exports), "mdy" month first (US exports).
    date_order: Literal["iso", "dmy", "mdy"] = "iso"
    # Billing imports (--as stripe / chargebee): a past_due or unpaid subscription counts as
    # MRR until it is cancelled ("until_canceled", as billing analytics tools do), or leaves
    # MRR from the start of its unpaid period ("exclude").
    unpaid_mrr: Literal["until_canceled", "exclude"] = "until_canceled"
    # Spark master URL used when engine = "spark" (local[2] on a laptop, spark://host:7077 on a cluster).
    spark_master: str = "local[2]"
    # Where the Spark engine reads the canonical tables: empty = from this workspace's DuckDB
    # file through the driver (fine on one machine); a folder or URI holding <table>.parquet
    # files written by `retentio export` (local path, hdfs://, s3a:// ...) = read by the
    # executors themselves, for data larger than the driver.
    spark_data_uri: str = ""
    # Memory DuckDB may hold while computing figures (its buffers; larger intermediates spill to
    # a temporary folder).  The default keeps a whole process under 4 GB on a 1 M-account book
    # with 200 M usage events; "" = DuckDB's own default (80 % of the machine's memory).
    duckdb_memory_limit: str = "2GB"
    # SQLAlchemy URL of the application-state database; empty means the workspace's SQLite file.
    app_database_url: str = ""
    # Keep figure answers in <workspace>/.cache/figures, keyed by the question and the
    # fingerprints of the data, these settings and the code (retentio.answers); false: always
    # compute (the environment variable RETENTIO_NO_CACHE=1 does the same).
    figure_cache: bool = True

    @field_validator("base_currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        v = v.strip().upper()
        if len(v) != 3 or not v.isalpha():
            raise ValueError("base_currency must be an ISO 4217 code such as EUR or USD")
        return v


class TouchTiers(_Strict):
    """MRR thresholds (base currency) of the touch model (metrics.md §8).

    An account whose MRR is >= ``high`` is high touch, >= ``low`` low touch, else tech touch.
    """

    high: float = 2000.0
    low: float = 300.0

    @model_validator(mode="after")
    def _ordered(self) -> "TouchTiers":
        if not self.high > self.low >= 0:
            raise ValueError("touch_tiers: need high > low >= 0")
        return self


class MetricSettings(_Strict):
    # metrics.md §5: LTV = ARPA / mean monthly customer churn rate over the last N months.
    ltv_variant: Literal["six_month_average", "current_month", "gross_margin"] = "six_month_average"
    ltv_churn_window_months: int = Field(6, ge=1, le=36)
    # Gross margin used by the gross-margin LTV variant (metrics.md §5, seed 004: 80 %).  When
    # empty it is derived from the costs table: 1 - cost_of_revenue / recognised MRR of the period.
    gross_margin: float | None = Field(None, gt=0, le=1)
    # metrics.md §4: a monthly rate r annualises as 1 - (1 - r)^12 ("compound") or 12 r ("linear").
    annualisation: Literal["compound", "linear"] = "compound"
    # metrics.md §4: a renewable line is renewed when the account has a paid line starting
    # within this many days of its end date.
    renewal_window_days: int = Field(30, ge=0, le=366)
    # A trial converts when a paid line starts between the trial's start and its end + this window.
    trial_conversion_window_days: int = Field(30, ge=0, le=366)
    # An account returning after more than this many months without MRR counts as "new" again
    # rather than "reactivation"; 0 means any return is a reactivation (metrics.md §3).
    reactivation_window_months: int = Field(0, ge=0, le=240)
    # FX rule (metrics.md §2): "snapshot" converts with the rate in force on each snapshot day;
    # "line_start" freezes each line's rate at the rate in force on its start date (what many
    # billing systems book), so FX moves do not show up as expansion or contraction.
    fx_rule: Literal["snapshot", "line_start"] = "snapshot"
    touch_tiers: TouchTiers = TouchTiers()
    # Share of retained and expansion MRR credited to Customer Success in CS ROI (metrics.md §6).
    cs_attribution: float = Field(1.0, ge=0, le=1)


class EngagementSettings(_Strict):
    # metrics.md §9: trailing windows (days, the day included) or calendar week / month.
    active_window: Literal["trailing", "calendar"] = "trailing"
    # Features flagged as complex (seed 003: 3 points per complex feature in a points health score).
    complex_features: list[str] = []
    key_features: list[str] = []
    # Time to first value: the event name that counts as the account's first value.
    value_event: str = ""
    onboarding_milestones: list[str] = []
    onboarding_window_days: int = Field(90, ge=1, le=366)
    # Lifecycle: usage falling by more than this share month over month marks an account "at risk".
    at_risk_drop: float = Field(0.5, gt=0, lt=1)
    # Customer Engagement Score weights (seed 004): login frequency, feature adoption,
    # time on key features, support-ticket activity.  They are normalised to sum to 1.
    ces_weights: dict[str, float] = {"logins": 0.35, "adoption": 0.25, "key_time": 0.25, "tickets": 0.15}


class SatisfactionSettings(_Strict):
    # metrics.md §10: CSAT on 1-5 is positive at >= 4, on 0-10 at >= csat_positive_0_10.
    csat_positive_1_5: int = Field(4, ge=1, le=5)
    csat_positive_0_10: int = Field(7, ge=0, le=10)
    sentiment_drop_threshold: float = Field(0.3, gt=0, le=2)


class HealthBands(_Strict):
    """Health bands (metrics.md §11, seed 002): red 0-red_max, yellow up to yellow_max, green
    up to green_max, thriving above green_max (a points scorecard can exceed 100).  A score
    is compared after rounding to the nearest integer (half up): 40.4 is red, 40.5 yellow."""

    red_max: float = 40
    yellow_max: float = 70
    green_max: float = 100

    @model_validator(mode="after")
    def _ordered(self) -> "HealthBands":
        if not 0 <= self.red_max < self.yellow_max < self.green_max:
            raise ValueError("bands: need 0 <= red_max < yellow_max < green_max")
        return self


class HealthSettings(_Strict):
    # A CSM pulse stops counting this many days after it was given.
    pulse_expiry_days: int = Field(90, ge=1, le=3650)
    # A measure without data: "redistribute" its weight over the measures that have data, or
    # score it "value" (missing_value, 0-100).
    missing_policy: Literal["redistribute", "value"] = "redistribute"
    missing_value: float = Field(50.0, ge=0, le=100)
    # An account with fewer measures with data than this (or less than min_weight_share of the
    # card's weight) is "not scored" (band empty), never green.
    min_measures: int = Field(2, ge=1, le=100)
    min_weight_share: float = Field(0.5, ge=0, le=1)
    bands: HealthBands = HealthBands()
    # Playbook started by each band (wired by the playbooks capability).
    playbooks: dict[str, str] = {"red": "csm-intervention", "yellow": "automated-tips",
                                 "green": "light-monitoring", "thriving": "expansion-opportunity"}
    # Account attributes offered as features (static attributes only: an attribute written
    # after the fact, such as a churn reason, would leak the future into a past score).
    attributes: list[str] = ["segment", "size", "industry", "vertical", "channel", "country", "csm"]
    # Backtest: churn horizon (months) and bootstrap resamples of the AUC interval (fixed seed).
    horizon_months: int = Field(3, ge=1, le=24)
    bootstrap: int = Field(1000, ge=0, le=100000)
    seed: int = 13


class EmailSettings(_Strict):
    """Outgoing e-mail of playbooks (docs/playbooks.md).  The password is never stored here:
    ``password_env`` names the environment variable holding it."""

    smtp_host: str = ""
    smtp_port: int = Field(25, ge=1, le=65535)
    sender: str = ""
    starttls: bool = False
    username: str = ""
    password_env: str = ""


class WebhookSettings(_Strict):
    """Webhook calls of playbooks: requests are signed with HMAC-SHA256 using the secret held
    in the environment variable named by ``secret_env``; ``default_url`` receives the webhook
    actions that name no URL and the shipped playbooks' alerts and notifications."""

    secret_env: str = ""
    default_url: str = ""


class PlaybookSettings(_Strict):
    """The playbook engine and its delivery worker (docs/playbooks.md)."""

    # Evaluate the playbooks (like `retentio playbooks run`) after each successful import.
    run_after_import: bool = False
    # Worker: seconds between two polls of the outbox when it is empty.
    poll_interval_seconds: float = Field(5.0, gt=0, le=3600)
    # A delivery is attempted at most this many times, then it goes to the dead-letter list.
    max_attempts: int = Field(5, ge=1, le=100)
    # Retry n waits backoff_seconds * 2^(n-1), at most backoff_max_seconds.
    backoff_seconds: float = Field(30.0, ge=0, le=86400)
    backoff_max_seconds: float = Field(3600.0, ge=0, le=604800)
    # A claimed delivery not finished within this many seconds is taken over by another worker.
    lease_seconds: float = Field(120.0, gt=0, le=86400)
    # Timeout of one SMTP or HTTP call, seconds.
    send_timeout_seconds: float = Field(20.0, gt=0, le=600)
    # Who receives portfolio alerts (churn-rate spike) and tasks with owner "lead".
    cs_lead: str = ""
    # CSM teams for round-robin assignment: {"team name": ["ana@x.com", "bo@x.com"]}.
    csm_teams: dict[str, list[str]] = {}
    # Account attributes read by actions: the CSM owning the account, the contact's e-mail
    # and the language of e-mails (fr | en; anything else falls back to default_language).
    csm_attribute: str = "csm"
    contact_email_attribute: str = "contact_email"
    language_attribute: str = "language"
    default_language: Literal["en", "fr"] = "en"
    # A cap across all playbooks: at most this many runs per account in any window of
    # account_cap_days days (0 = no cap).
    account_cap_runs: int = Field(0, ge=0, le=1000)
    account_cap_days: int = Field(7, ge=1, le=366)
    # Churn-risk levels of the risk_level trigger, from the predicted probability (prediction
    # capability): high at or above risk_high, medium at or above risk_medium, else low.
    risk_high: float = Field(0.5, gt=0, le=1)
    risk_medium: float = Field(0.2, ge=0, le=1)

    @model_validator(mode="after")
    def _risk_ordered(self) -> "PlaybookSettings":
        if not self.risk_medium < self.risk_high:
            raise ValueError("playbooks: need risk_medium < risk_high")
        return self
class SentimentSettings(_Strict):
    # docs/sentiment.md: "trained" = the shipped linear model (default), "lexicon" = the
    # explainable lexicon scorer.
    model: Literal["trained", "lexicon"] = "trained"
class PredictSettings(_Strict):
    """Churn model, survival LTV and forecasts (docs/prediction.md)."""

    # Label: the account churns (a churn movement, metrics.md §3) within this many months
    # after the month end.
    horizon_months: int = Field(3, ge=1, le=12)
    # Evaluation: the last N labelled month ends are the test set; training uses month ends
    # at least horizon_months before the first test month (the gap), so no training label
    # reads a month of the test window.
    test_months: int = Field(6, ge=1, le=36)
    # Month ends of the start of the book skipped (features need some history).
    min_history_months: int = Field(3, ge=0, le=24)
    # The last N training month ends calibrate the probabilities (not used to fit the trees).
    calibration_months: int = Field(3, ge=1, le=12)
    calibration: Literal["platt", "isotonic"] = "platt"
    seed: int = 42
    # Features come from retentio.features (the account attributes offered are health.attributes);
    # these are left out of the churn model (e.g. cancellation_recorded, to measure without it).
    exclude_features: list[str] = []
    drivers: int = Field(3, ge=1, le=10)
    # Survival LTV: expected lifetime is integrated up to this many months.
    lifetime_cap_months: int = Field(120, ge=12, le=600)
    # Forecast: simulated paths and the interval's coverage.
    simulations: int = Field(1000, ge=100, le=100000)
    interval: float = Field(0.8, gt=0, lt=1)
    # Rates of expansion, contraction and new business are the means of the last N months.
    rate_window_months: int = Field(12, ge=1, le=36)


class Settings(_Strict):
    workspace: WorkspaceSettings = WorkspaceSettings()
    metrics: MetricSettings = MetricSettings()
    engagement: EngagementSettings = EngagementSettings()
    satisfaction: SatisfactionSettings = SatisfactionSettings()
    health: HealthSettings = HealthSettings()
    email: EmailSettings = EmailSettings()
    webhooks: WebhookSettings = WebhookSettings()
    playbooks: PlaybookSettings = PlaybookSettings()
    sentiment: SentimentSettings = SentimentSettings()
    predict: PredictSettings = PredictSettings()

    # -- files -------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path) -> "Settings":
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"{path}: no {CONFIG_FILE} here",
                hint=f"create a workspace with `retentio init --workspace {path.parent}`",
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})", hint="fix the file or re-create it") from None
        return cls.validate_document(raw, path)

    @classmethod
    def validate_document(
        cls, raw: dict, path: Path, hint: str = "see docs/configuration.md for the settings and their allowed values"
    ) -> "Settings":
        """Validate a parsed retentio.toml; the error names the file and the first bad setting."""
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ConfigError(
                f"{path}: setting {where}: {first['msg']}",
                hint=hint,
                details={"errors": [{"setting": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]},
            ) from None

    def save(self, path: Path) -> None:
        data = self.model_dump(mode="json", exclude_none=True)
        header = (
            "# Retentio workspace settings.  Every key is documented in docs/configuration.md;\n"
            "# figures computed from this workspace depend on them.\n\n"
        )
        path.write_text(header + tomli_w.dumps(data), encoding="utf-8")


__all__ = ["CONFIG_FILE", "EngagementSettings", "MetricSettings", "SCHEMA_VERSION", "SatisfactionSettings",
    "Settings", "TouchTiers", "WorkspaceSettings"]
