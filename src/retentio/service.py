"""The service facade: every use case of Retentio, called by the CLI, the API, the web app
and notebooks alike.  It returns plain data (dicts, lists, dataclasses with ``to_dict``), so
the same question asked from anywhere gets the same answer.
"""

from __future__ import annotations

import json

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from retentio import workspace as layout
from retentio.config import Settings
from retentio.engine import Engine, open_engine
from retentio.errors import UsageError

ProgressCallback = Callable[[int, int | None], None]


class Workspace:
    """A Retentio workspace: the customer data of one company and everything computed from it."""

    def __init__(self, path: str | os.PathLike | None = None, *, engine: str | None = None):
        root = layout.resolve_path(path)
        self.files, self.settings, self.warehouse = layout.open_files(root)
        self.path = self.files.root
        self._engine_name = engine or self.settings.workspace.engine
        self._engines: dict[str, Engine] = {}

    def __getattr__(self, name: str) -> Any:
        # Methods added by capabilities (retentio.capabilities): ws.health_scores(...) calls
        # the capability's function with this workspace first.
        if name.startswith("_"):
            raise AttributeError(name)
        from retentio.capabilities import service_method

        fn = service_method(name)
        if fn is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return functools.partial(fn, self)

    def __dir__(self) -> list[str]:
        from retentio.capabilities import service_methods

        return sorted(set(super().__dir__()) | set(service_methods()))

    # -- creation -----------------------------------------------------------------------
    @classmethod
    def init(
        cls,
        path: str | os.PathLike | None = None,
        *,
        base_currency: str = "EUR",
        engine: str = "duckdb",
        force: bool = False,
    ) -> "Workspace":
        layout.create(layout.resolve_path(path), base_currency=base_currency, engine=engine, force=force)
        return cls(path)

    @staticmethod
    def upgrade(path: str | os.PathLike | None = None) -> list[str]:
        return layout.upgrade(layout.resolve_path(path))

    def reload_settings(self) -> Settings:
        self.settings = Settings.load(self.files.config)
        return self.settings

    # -- application state (retentio.store: users, audit log, ...) -----------------------
    _app_checked = False

    @property
    def app_database_url(self) -> str:
        """SQLAlchemy URL of the application-state database (the workspace's app.sqlite by default)."""
        return self.files.app_database_url(self.settings)

    def app_session(self):
        """A SQLAlchemy session (context manager: commits on success, rolls back on error).

        The database is checked once to be at the latest revision; an outdated one raises
        WorkspaceVersionError saying to run ``retentio upgrade``.
        """
        from retentio import store

        if not self._app_checked:
            store.check_revision(self.app_database_url, workspace=self.path)
            self._app_checked = True
        return store.session(self.app_database_url)

    def app_status(self) -> dict[str, Any]:
        """Where the application state lives (password masked), its revision, and row counts."""
        from sqlalchemy import func, select

        from retentio import store

        url = self.app_database_url
        revision = store.current_revision(url)
        out: dict[str, Any] = {"url": store.safe_url(url), "revision": revision, "latest": store.head_revision()}
        if revision == out["latest"]:
            with self.app_session() as s:
                out["users"] = s.scalar(select(func.count()).select_from(store.User)) or 0
                out["audit_entries"] = s.scalar(select(func.count()).select_from(store.AuditEntry)) or 0
        return out

    # -- engines ------------------------------------------------------------------------
    @property
    def engine_name(self) -> str:
        return self._engine_name

    def engine(self, name: str | None = None) -> Engine:
        """The engine to compute with (cached); DuckDB reads the workspace file in place."""
        name = name or self._engine_name
        if name not in self._engines:
            if name == "duckdb":
                from retentio.engine.duckdb_engine import DuckDBEngine

                self._engines[name] = DuckDBEngine(self.warehouse.arrow, database=str(self.files.analytics.resolve()))
            else:
                self._engines[name] = open_engine(
                    name,
                    self.warehouse.arrow,
                    spark_master=self.settings.workspace.spark_master,
                    spark_data_uri=self.settings.workspace.spark_data_uri,
                )
        return self._engines[name]

    def close(self) -> None:
        for e in self._engines.values():
            e.close()  # a no-op but for DuckDB's connection (the Spark session is shared)
        self._engines.clear()

    def _invalidate(self) -> None:
        """Data changed: engines holding cached copies of tables must re-read them."""
        self.close()

    # -- import -------------------------------------------------------------------------
    def import_file(
        self,
        entity: str,
        file: str | os.PathLike,
        *,
        mapping: str | os.PathLike | None = None,
        kind: str = "auto",
        replace: bool = False,
        progress: ProgressCallback | None = None,
    ):
        """Import one file into one entity; returns an ImportReport (see retentio.ingest)."""
        from retentio.ingest import import_file

        self._invalidate()
        return import_file(
            self.warehouse,
            self.settings,
            entity,
            Path(file),
            mapping=Path(mapping) if mapping else None,
            kind=kind,
            replace=replace,
            progress=progress,
        )

    def quarantine(self, entity: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        from retentio.model import entity as find_entity

        sql = "SELECT entity, file, row_number, \"column\", value, reason, detail, raw FROM quarantine"
        params: list[Any] = []
        if entity:
            sql += " WHERE entity = ?"
            params.append(find_entity(entity).name)
        sql += " ORDER BY entity, file, row_number"
        if limit is not None:
            if limit < 0:
                raise UsageError("--limit must be positive")
            sql += f" LIMIT {int(limit)}"
        rows = self.warehouse.query(sql, params)
        for r in rows:  # the row as read, keyed by the file's headers (docs/import-guide.md)
            r["raw"] = json.loads(r["raw"]) if r.get("raw") else None
        return rows

    def imports(self) -> list[dict[str, Any]]:
        return self.warehouse.query("SELECT * FROM imports ORDER BY imported_at")

    def counts(self) -> dict[str, int]:
        from retentio.model import ENTITIES

        return {e.name: self.warehouse.count(e.table) for e in ENTITIES.values()}

    # -- demo data (retentio.demo, docs/demo-data.md) ----------------------------------
    @classmethod
    def demo(
        cls,
        path: str | os.PathLike | None = None,
        *,
        accounts: int = 2000,
        months: int = 36,
        seed: int = 42,
        end_month: str | None = None,
        force: bool = False,
        usage: bool = True,
        events_per_user_month: float = 8.0,
        progress: ProgressCallback | None = None,
    ):
        """Create (or, with ``force``, reset) a workspace and fill it with the demo book.

        A folder that already holds a workspace with data is refused unless ``force``: then
        its settings are reset and the seven entities are replaced by the demo's.  Returns
        a :class:`retentio.demo.DemoSummary`.
        """
        from retentio.demo import apply_demo_settings, check_arguments, generate
        from retentio.errors import ConfigError

        check_arguments(accounts=accounts, months=months, end_month=end_month,
                        events_per_user_month=events_per_user_month)
        root = layout.resolve_path(path)
        files = layout.WorkspaceFiles(root)
        if files.config.exists() and not force:
            existing = cls(root)
            rows = sum(existing.counts().values())
            if rows:
                raise ConfigError(
                    f"{root}: this workspace already holds data ({rows:,} rows)",
                    hint=f"pass --force to replace it with the demo book, or choose another folder than {root}",
                )
            ws = existing
        else:
            ws = cls.init(root, force=force)
        apply_demo_settings(ws.settings)
        ws.settings.save(ws.files.config)
        ws._invalidate()
        summary = generate(
            ws.warehouse, ws.settings, accounts=accounts, months=months, seed=seed, end_month=end_month,
            usage=usage, events_per_user_month=events_per_user_month, progress=progress,
        )
        summary.workspace = str(ws.path)
        return summary

    # -- engagement and satisfaction (metrics.md §9-§10; docs/metrics-engagement.md) ---------
    def _period(self, period: str | None):
        from retentio.metrics.periods import parse_period

        return None if period is None else parse_period(period)

    def engagement(self, metric: str, *, period: str = "last", by: str | None = None,
                   daily: bool = False, per_account: bool = True) -> dict[str, Any]:
        """One engagement metric: usage | adoption | key-time | lifecycle | ces | ttfv | onboarding | trials."""
        from retentio import engagement as E
        from retentio.engagement._common import check_attribute

        eng = self.engine()
        p = self._period(period)
        check_attribute(eng, by)
        if metric == "usage":
            pts = E.daily_points(p.first_day, p.last_day) if daily else E.month_end_points(p)
            return {"period": p.label, "active_window": self.settings.engagement.active_window,
                    "rows": E.active_users(eng, self.settings, pts, per_account=per_account)}
        if metric == "adoption":
            return E.feature_adoption(eng, self.settings, p)
        if metric == "key-time":
            return E.key_feature_time(eng, self.settings, p)
        if metric == "lifecycle":
            return E.lifecycle(eng, self.settings, p)
        if metric == "ces":
            return E.engagement_score(eng, self.settings, p)
        if metric == "ttfv":
            return E.time_to_first_value(eng, self.settings, p, by)
        if metric == "onboarding":
            return E.onboarding(eng, self.settings, p, by)
        if metric == "trials":
            return E.trial_conversion(eng, self.settings, p, by)
        raise UsageError(f"unknown engagement metric {metric!r}",
                         hint="choose one of: usage, adoption, key-time, lifecycle, ces, ttfv, onboarding, trials")

    def satisfaction(self, metric: str, *, period: str | None = "last", by: list[str] | None = None,
                     texts: bool = False) -> dict[str, Any]:
        """One satisfaction metric: nps | csat | tickets | sentiment."""
        from retentio import satisfaction as S

        eng = self.engine()
        p = self._period(period)
        if metric == "nps":
            return S.nps(eng, self.settings, p, by)
        if metric == "csat":
            return S.csat(eng, self.settings, p, by)
        if metric in ("tickets", "sentiment") and p is None:
            raise UsageError(f"{metric} needs a period", hint="pass --period, e.g. --period 2024-Q1")
        if metric == "tickets":
            return S.tickets(eng, self.settings, p)
        if metric == "sentiment":
            return S.sentiment_by_account(eng, self.settings, p, include_texts=texts)
        raise UsageError(f"unknown satisfaction metric {metric!r}", hint="choose one of: nps, csat, tickets, sentiment")

    def sentiment_alerts(self, period: str = "last") -> list[dict[str, Any]]:
        """Account-months whose text sentiment dropped beyond satisfaction.sentiment_drop_threshold (for alerts)."""
        return self.satisfaction("sentiment", period=period)["flagged"]

    def nps_vs_churn(self, months: int = 6, as_of: str | None = None) -> dict[str, Any]:
        """Do detractors churn more than promoters within ``months`` months?  (seed 001)"""
        from retentio.satisfaction import nps_vs_churn

        last = None if as_of is None else self._period(as_of).last
        return nps_vs_churn(self.engine(), self.settings, months, last)

    # -- revenue and retention metrics (metrics.md §1-§8) -------------------------------
    def metrics(
        self,
        period: str,
        *,
        by: str | None = None,
        filters: dict[str, str] | None = None,
        engine: str | None = None,
    ) -> dict[str, Any]:
        """All figures of one period, e.g. ``ws.metrics("2024-03", by="industry")``."""
        from retentio.metrics import metrics

        return metrics(self.engine(engine), self.settings, period, by=by, filters=filters)

    def metrics_series(
        self, period: str, *, filters: dict[str, str] | None = None, engine: str | None = None
    ) -> list[dict[str, Any]]:
        """One dict of figures per month of the period."""
        from retentio.metrics import metrics_series

        return metrics_series(self.engine(engine), self.settings, period, filters=filters)

    def metrics_frame(
        self,
        period: str,
        *,
        filters: dict[str, str] | None = None,
        backend: str = "pandas",
        engine: str | None = None,
    ):
        """The monthly time series as a DataFrame (``backend="pandas"`` or ``"polars"``),
        one row per month, nested figures flattened as ``movements.new`` etc."""
        import polars as pl

        from retentio.metrics.flatten import flatten

        rows = [flatten(r) for r in self.metrics_series(period, filters=filters, engine=engine)]
        frame = pl.DataFrame(rows, infer_schema_length=None)
        if backend == "polars":
            return frame
        if backend == "pandas":
            return frame.to_pandas()
        raise UsageError(f"unknown backend {backend!r}", hint="choose pandas or polars")

    def movements(
        self,
        period: str,
        *,
        type: str | None = None,
        filters: dict[str, str] | None = None,
        engine: str | None = None,
    ) -> list[dict[str, Any]]:
        from retentio.metrics import movements

        return movements(self.engine(engine), self.settings, period, type=type, filters=filters)

    def explain(
        self, metric: str, period: str, *, filters: dict[str, str] | None = None, engine: str | None = None, top: int = 10
    ) -> dict[str, Any]:
        from retentio.metrics import explain

        return explain(self.engine(engine), self.settings, metric, period, filters=filters, top=top)

    def cohorts(
        self,
        *,
        grain: str = "month",
        measure: str = "mrr",
        values: str = "relative",
        segment: str | None = None,
        through: str | None = None,
        filters: dict[str, str] | None = None,
        engine: str | None = None,
    ) -> dict[str, Any]:
        from retentio.metrics import cohorts

        return cohorts(
            self.engine(engine), self.settings, grain=grain, measure=measure, values=values, segment=segment,
            through=through, filters=filters,
        )

    def refresh(self, *, through: str | None = None, figures: bool = True, full: bool = False) -> dict[str, Any]:
        """Update the stored account-month MRR snapshot after imports (only the accounts and
        months that changed) and return the figures of the affected months
        (retentio.metrics.incremental; docs/benchmarks.md)."""
        from retentio.metrics.incremental import refresh

        return refresh(self, through=through, figures=figures, full=full).to_dict()

    # -- export --------------------------------------------------------------------------
    def export_parquet(self, destination: str | os.PathLike) -> dict[str, int]:
        """Write every canonical table as ``<destination>/<table>.parquet`` (for the Spark
        engine's ``spark_data_uri``, or any other tool); returns the rows written per table."""
        return self.warehouse.export_parquet(Path(destination))
