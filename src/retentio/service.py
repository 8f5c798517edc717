"""The service facade: every use case of Retentio, called by the CLI, the API, the web app
and notebooks alike.  It returns typed results (dataclasses with ``to_dict``, see
``retentio.results``) or plain data, so the same question asked from anywhere gets the same
answer.

Time: every computation is made as of a day (``as_of``, default today, ``retentio.clock``);
relative periods (``last``, ``last-quarter`` ...) are judged at it and a period ending after
it is refused.  State: engines and their bounded Book caches live in the Workspace; one
lock per Workspace serialises the computations, so a server may call it from many threads.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retentio import workspace as layout
from retentio.errors import DataError, UsageError

if TYPE_CHECKING:
    from retentio.config import Settings
    from retentio.engine import Engine
    from retentio.warehouse import Warehouse

__all__ = ["ProgressCallback", "Workspace"]

ProgressCallback = Callable[[int, int | None], None]


class Workspace:
    """A Retentio workspace: the customer data of one company and everything computed from it."""

    def __init__(self, path: str | os.PathLike | None = None, *, engine: str | None = None):
        from retentio.answers import Answers

        root = layout.resolve_path(path)
        self.files, settings_text, self._raw_settings = layout.read_settings(root)
        self.path = self.files.root
        self._engine_arg = engine
        self._settings: Settings | None = None
        self._settings_json: str | None = None
        self._warehouse: Warehouse | None = None
        self._engines: dict[str, Engine] = {}
        self._lock = threading.RLock()
        # The figure cache (retentio.answers).  Settings bytes already validated by this code
        # are validated again on first use only, so that an answer found in the cache needs
        # neither pydantic nor DuckDB; any other settings are validated now, as always.
        self.answers = Answers.open(self.path, settings_text, self._raw_settings)
        if not self.answers.settings_known():
            self._load_settings()
        layout.check_data_files(self.files, self._raw_settings)

    def _load_settings(self) -> Settings:
        settings = layout.validate_settings(self.files, self._raw_settings)
        self._settings, self._settings_json = settings, settings.model_dump_json()
        self.answers.mark_settings_known()
        return settings

    @property
    def settings(self) -> Settings:
        """The workspace's settings (retentio.config.Settings), validated on first use."""
        with self._lock:
            return self._settings if self._settings is not None else self._load_settings()

    @property
    def warehouse(self) -> Warehouse:
        """The analytics DuckDB file (retentio.warehouse), opened on first use."""
        with self._lock:
            if self._warehouse is None:
                from retentio.warehouse import Warehouse

                self._warehouse = Warehouse(self.files.analytics)
            return self._warehouse

    @property
    def _engine_name(self) -> str:
        return self._engine_arg or self.settings.workspace.engine

    def _answer(self, method: str, question: dict[str, Any], engine: str | None, compute: Callable[[], Any],
                to_json: Callable[[Any], Any] = lambda v: v, from_json: Callable[[Any], Any] = lambda v: v) -> Any:
        """The answer to a question from the figure cache, else computed and stored
        (retentio.answers).  ``question``: the arguments with the period resolved and the
        as_of day; the engine, the data, the settings and the code complete the key."""
        with self._lock:
            ws = self._raw_settings.get("workspace")
            ws = ws if isinstance(ws, dict) else {}
            name = engine or self._engine_arg or ws.get("engine") or "default"
            modified = self._settings is not None and self._settings.model_dump_json() != self._settings_json
            if modified or (name == "spark" and ws.get("spark_data_uri")):
                # settings changed in memory (not those of the file), or data outside the workspace
                return compute()
            value, ticket = self.answers.get({"method": method, "engine": name, **question})
            if value is not None:
                try:
                    return from_json(value)
                except Exception:  # noqa: BLE001 - an answer of another shape: compute it again
                    pass
            result = compute()
            self.answers.put(ticket, to_json(result))
            return result

    def __getattr__(self, name: str) -> Any:
        # Methods added by capabilities (retentio.capabilities): ws.health_scores(...) calls
        # the capability's function with this workspace first, under the workspace's lock.
        if name.startswith("_"):
            raise AttributeError(name)
        from retentio.capabilities import service_method

        fn = service_method(name)
        if fn is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

        @functools.wraps(fn)
        def method(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return fn(self, *args, **kwargs)

        return method

    @contextmanager
    def _computing(self, engine: str | None = None) -> Iterator[Engine]:
        """Run a computation: under the lock, its engine's intermediates released at the end."""
        with self._lock:
            eng = self.engine(engine)
            with eng.scratch():
                yield eng

    def period(self, period: str, *, as_of: date | str | None = None, allow_current: bool = True):
        """A period as typed by a user, judged at ``as_of``: relative periods resolve to it, a
        period ending after as_of's month is refused (DataError), the month of as_of (not
        complete yet) is allowed and flagged ``to_date``.  Returns (Period, as_of, to_date)."""
        from retentio.clock import last_complete_month, resolve_as_of
        from retentio.metrics.periods import month_index, month_label, parse_period

        day = resolve_as_of(as_of)
        p = parse_period(period, today=day)
        y, mo = last_complete_month(day)
        complete = y * 12 + mo - 1
        if p.last > complete:
            if not (allow_current and p.last == month_index(day)):
                raise DataError(
                    f"period {p.label} ends after as_of {day.isoformat()}: its figures are not known yet",
                    hint=f"the latest complete month is {month_label(complete)}; pass period=last, or an as_of "
                         f"after the period",
                    details={"parameter": "period", "latest_complete_month": month_label(complete)},
                )
            return p, day, True
        return p, day, False

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
        root = layout.resolve_path(path)
        existed = layout.WorkspaceFiles(root).config.exists()
        layout.create(root, base_currency=base_currency, engine=engine, force=force)
        ws = cls(path)
        # what init did: "created" a workspace, or "reset" the settings of an existing one (data kept)
        ws.init_action = "reset" if existed else "created"
        return ws

    @staticmethod
    def upgrade(path: str | os.PathLike | None = None) -> list[str]:
        """Bring the workspace's format, app database and stored derived tables (the change
        table and the month rollups a newer Retentio computes differently) up to date."""
        root = layout.resolve_path(path)
        done = layout.upgrade(root)
        ws = Workspace(root)
        try:
            if ws.warehouse.count("subscriptions"):
                report = ws.refresh(figures=False)
                if report["mode"] == "full" or "rollups" in report["seconds"]:
                    done.append("stored change table and month rollups recomputed")
        except Exception as exc:  # the format is upgraded: say what was not done, never undo it
            done.append(f"stored change table not recomputed ({type(exc).__name__}: {exc}); revenue figures "
                        "are computed from the lines until the next import of subscriptions or FX rates")
        finally:
            ws.close()
        return done

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
        with self._lock:
            if name not in self._engines:
                from retentio.engine import open_engine

                self._engines[name] = open_engine(
                    name,
                    self.warehouse.arrow,
                    database=str(self.files.analytics.resolve()),
                    spark_master=self.settings.workspace.spark_master,
                    spark_data_uri=self.settings.workspace.spark_data_uri,
                    memory_limit=self.settings.workspace.duckdb_memory_limit,
                )
            return self._engines[name]

    @contextmanager
    def writing_engine(self) -> Iterator[Engine]:
        """A DuckDB engine whose attachment of the workspace file is writable, not cached,
        closed at the end: the refresh of the stored change table reads, computes and writes
        through its one connection (each connection to the file costs ~20-40 ms to open and
        close, and the refresh used five).  The cached engines are closed first: a process
        cannot attach one file both read-only and writable."""
        from retentio.engine import open_engine

        self.close()
        engine = open_engine("duckdb", self.warehouse.arrow, database=str(self.files.analytics.resolve()),
                             memory_limit=self.settings.workspace.duckdb_memory_limit, writable=True)
        try:
            yield engine
        finally:
            engine.close()

    def close(self) -> None:
        with self._lock:
            for e in self._engines.values():
                e.close()  # a no-op but for DuckDB's connection (the Spark session is shared)
            self._engines.clear()

    def _invalidate(self) -> None:
        """Data changed: engines holding cached copies of tables must re-read them; the figure
        cache's answers are stale (their data fingerprint no longer matches): drop them."""
        self.close()
        self.answers.clear()

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
        report = import_file(
            self.warehouse,
            self.settings,
            entity,
            Path(file),
            mapping=Path(mapping) if mapping else None,
            kind=kind,
            replace=replace,
            progress=progress,
        )
        from retentio.metrics.incremental import CHANGE_INPUTS

        if report.entity in CHANGE_INPUTS and (report.rows_accepted or report.replaced):
            try:
                report.change_table = self._keep_change_table()
            except Exception as exc:  # the import itself is committed: say so, never undo it
                report.change_table = {"mode": "failed", "error": f"{type(exc).__name__}: {exc}"}
                report.notes.append(f"the stored change table was not updated ({type(exc).__name__}: {exc}); "
                                    "revenue figures are computed from the lines until the next import")
        if self.settings.playbooks.run_after_import and report.rows_accepted:
            # playbooks.run_after_import: evaluate the playbooks on the new data (docs/playbooks.md)
            self._invalidate()
            res = self.playbooks_run()
            report.notes.append(f"playbooks: {res['runs_started']} runs started, "
                                f"{res['actions_enqueued']} actions enqueued (playbooks.run_after_import)")
        return report

    def _keep_change_table(self) -> dict[str, Any]:
        """Bring the stored change table up to date with the data just written (incremental:
        the accounts whose lines changed), so that figures read it instead of computing it
        from every line (retentio.metrics.incremental.stored_changes)."""
        out = self.refresh(figures=False)
        del out["figures"]
        return out

    def quarantine(self, entity: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        from retentio.model import entity as find_entity

        if limit is not None and limit < 0:
            raise UsageError(f"limit must be 0 or more, not {limit}", hint="e.g. limit=20",
                             details={"parameter": "limit"})
        return self.warehouse.quarantine(find_entity(entity).name if entity else None, limit)

    def imports(self) -> list[dict[str, Any]]:
        return self.warehouse.imports()

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
                    hint=f"pass force=True to replace it with the demo book, or choose another folder than {root}",
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
        ws._keep_change_table()
        summary.workspace = str(ws.path)
        return summary

    # -- engagement and satisfaction (metrics.md §9-§10; docs/metrics-engagement.md) ---------
    ENGAGEMENT = ("usage", "adoption", "key-time", "lifecycle", "ces", "ttfv", "onboarding", "trials")
    SATISFACTION = ("nps", "csat", "tickets", "sentiment")

    def engagement(self, metric: str, *, period: str = "last", by: str | None = None, daily: bool = False,
                   per_account: bool = True, as_of: date | str | None = None):
        """One engagement metric: usage | adoption | key-time | lifecycle | ces | ttfv | onboarding | trials.
        ``by`` groups ttfv, onboarding and trials; the others are per account and refuse it."""
        if metric not in self.ENGAGEMENT:
            raise UsageError(f"unknown engagement metric {metric!r}", hint="choose one of: " + ", ".join(self.ENGAGEMENT),
                             details={"parameter": "metric"})
        if by is not None and metric not in ("ttfv", "onboarding", "trials"):
            raise UsageError(f"by does not apply to engagement {metric} (one row per account)",
                             hint="by groups ttfv, onboarding and trials; drop it here", details={"parameter": "by"})
        p, day, to_date = self.period(period, as_of=_as_day(as_of))

        def run():
            from retentio import engagement as E
            from retentio.attributes import check_attribute

            with self._computing() as eng:
                check_attribute(eng, by, derived=False)
                if metric == "usage":
                    pts = E.daily_points(p.first_day, min(p.last_day, day)) if daily else E.month_end_points(p)
                    out = {"period": p.label, "active_window": self.settings.engagement.active_window,
                           "rows": E.active_users(eng, self.settings, pts, per_account=per_account)}
                elif metric == "adoption":
                    out = E.feature_adoption(eng, self.settings, p)
                elif metric == "key-time":
                    out = E.key_feature_time(eng, self.settings, p)
                elif metric == "lifecycle":
                    out = E.lifecycle(eng, self.settings, p)
                elif metric == "ces":
                    out = E.engagement_score(eng, self.settings, p)
                else:
                    fn = {"ttfv": E.time_to_first_value, "onboarding": E.onboarding, "trials": E.trial_conversion}[metric]
                    out = fn(eng, self.settings, p, by, as_of=day) if metric != "ttfv" else fn(eng, self.settings, p, by)
                    out = {"period": p.label, **out}
            return Report(f"engagement.{metric}", {**self._label_lists(out), "as_of": day.isoformat(),
                                                   "to_date": to_date})

        from retentio.results import Report

        question = {"metric": metric, "period": p.label, "as_of": day.isoformat(), "by": by, "daily": daily,
                    "per_account": per_account}
        return self._answer("engagement", question, None, run, Report.to_dict,
                            lambda data: Report(f"engagement.{metric}", data))

    def _label_lists(self, out: dict[str, Any]) -> dict[str, Any]:
        """Every list of account rows of a result gets account_name and csm."""
        res = dict(out)
        for k, v in out.items():
            if isinstance(v, list) and v and isinstance(v[0], dict) and "account_id" in v[0]:
                res[k] = self._labelled(v)
        return res

    def satisfaction(self, metric: str, *, period: str | None = "last", by: list[str] | None = None,
                     texts: bool = False, as_of: date | str | None = None):
        """One satisfaction metric: nps | csat | tickets | sentiment (``period=None``: all time, nps and csat)."""
        from retentio import satisfaction as S
        from retentio.attributes import check_attribute
        from retentio.clock import resolve_as_of

        if metric not in self.SATISFACTION:
            raise UsageError(f"unknown satisfaction metric {metric!r}", hint="choose one of: " + ", ".join(self.SATISFACTION),
                             details={"parameter": "metric"})
        if metric in ("tickets", "sentiment") and period is None:
            raise UsageError(f"{metric} needs a period", hint="pass period, e.g. period=2024-Q1", details={"parameter": "period"})
        if by and metric not in ("nps", "csat"):
            raise UsageError(f"by does not apply to satisfaction {metric}", hint="by groups nps and csat",
                             details={"parameter": "by"})
        p, day, to_date = (None, resolve_as_of(as_of), False) if period is None else self.period(period, as_of=as_of)
        with self._computing() as eng:
            for b in by or []:
                if b not in ("account", "month"):
                    check_attribute(eng, b, derived=False, extra=("account", "month"))
            if metric == "nps":
                out = S.nps(eng, self.settings, p, by)
            elif metric == "csat":
                out = S.csat(eng, self.settings, p, by)
            elif metric == "tickets":
                out = S.tickets(eng, self.settings, p)
            else:
                out = S.sentiment_by_account(eng, self.settings, p, include_texts=texts)
        from retentio.results import Report

        return Report(f"satisfaction.{metric}", {**self._label_lists(out), "as_of": day.isoformat(), "to_date": to_date})

    @staticmethod
    def score_texts(lines: list[str], lang: str | None = None, model: str = "trained") -> dict[str, Any]:
        """Sentiment of free texts, one per line (no workspace needed); model "trained" or "lexicon"."""
        from retentio.satisfaction.sentiment import score_lines

        return score_lines(lines, lang, model)

    def sentiment_alerts(self, period: str = "last", *, as_of: date | str | None = None) -> list[dict[str, Any]]:
        """Account-months whose text sentiment dropped beyond satisfaction.sentiment_drop_threshold (for alerts)."""
        return self.satisfaction("sentiment", period=period, as_of=as_of)["flagged"]

    def nps_vs_churn(self, months: int = 6, as_of: date | str | None = None):
        """Do detractors churn more than promoters within ``months`` months?  (seed 001)
        Only answers whose window has ended by as_of's last complete month are judged."""
        from retentio.clock import resolve_as_of
        from retentio.satisfaction import nps_vs_churn

        day = resolve_as_of(_as_day(as_of))
        from retentio.results import Report

        with self._computing() as eng:
            out = nps_vs_churn(eng, self.settings, months, day)
        return Report("analyze.nps_vs_churn", {**out, "as_of": day.isoformat()})

    # -- revenue and retention metrics (metrics.md §1-§8) -------------------------------
    def _check_names(self, eng: Engine, by: str | None = None, filters: dict[str, str] | None = None) -> None:
        from retentio.attributes import check_attribute, check_filters

        check_attribute(eng, by)
        check_filters(eng, filters)

    def metrics(
        self,
        period: str = "last",
        *,
        by: str | None = None,
        filters: dict[str, str] | None = None,
        engine: str | None = None,
        as_of: date | str | None = None,
    ):
        """All figures of one period, e.g. ``ws.metrics("2024-03", by="industry")``: a
        :class:`retentio.results.MetricsResult` (with ``by``: one set per group and ``overall``)."""
        from retentio.results import MetricsResult

        p, day, to_date = self.period(period, as_of=_as_day(as_of))

        def run() -> MetricsResult:
            from retentio.metrics.kpis import compute

            with self._computing(engine) as eng:
                self._check_names(eng, by, filters)
                whole = compute(eng, self.settings, [p], filters=filters)[0]
                groups = compute(eng, self.settings, [p], by=by, filters=filters)[0]["groups"] if by else None
            return MetricsResult(p.label, self.settings.workspace.base_currency, whole, day, to_date, by, groups)

        question = {"period": p.label, "as_of": day.isoformat(), "by": by, "filters": _filters_key(filters)}
        return self._answer("metrics", question, engine, run, MetricsResult.to_dict, MetricsResult.from_dict)

    def metrics_series(
        self, period: str, *, filters: dict[str, str] | None = None, engine: str | None = None,
        as_of: date | str | None = None,
    ) -> list[dict[str, Any]]:
        """One dict of figures per month of the period."""
        p, day, _to_date = self.period(period, as_of=_as_day(as_of))

        def run() -> list[dict[str, Any]]:
            from retentio.metrics import metrics_series

            with self._computing(engine) as eng:
                self._check_names(eng, None, filters)
                return metrics_series(eng, self.settings, p, filters=filters)

        question = {"period": p.label, "as_of": day.isoformat(), "filters": _filters_key(filters)}
        return self._answer("metrics_series", question, engine, run)

    def metrics_frame(
        self,
        period: str,
        *,
        filters: dict[str, str] | None = None,
        backend: str = "pandas",
        engine: str | None = None,
        as_of: date | str | None = None,
    ):
        """The monthly time series as a DataFrame (``backend="pandas"`` or ``"polars"``),
        one row per month, nested figures flattened as ``movements.new`` etc."""
        import polars as pl

        from retentio.results import flatten

        if backend not in ("pandas", "polars"):
            raise UsageError(f"unknown backend {backend!r}", hint="choose pandas or polars", details={"parameter": "backend"})
        rows = [flatten(r) for r in self.metrics_series(period, filters=filters, engine=engine, as_of=as_of)]
        frame = pl.DataFrame(rows, infer_schema_length=None)
        return frame if backend == "polars" else frame.to_pandas()

    def movements(
        self,
        period: str = "last",
        *,
        type: str | None = None,
        filters: dict[str, str] | None = None,
        engine: str | None = None,
        as_of: date | str | None = None,
    ):
        """Every account movement of the period with the lines behind it, each with the
        account's name and CSM owner: a :class:`retentio.results.MovementsResult`."""
        from retentio.metrics import movements
        from retentio.results import MovementsResult

        p, _day, _to_date = self.period(period, as_of=_as_day(as_of))
        with self._computing(engine) as eng:
            self._check_names(eng, None, filters)
            rows = movements(eng, self.settings, p, type=type, filters=filters)
        return MovementsResult(p.label, self.settings.workspace.base_currency, type, self._labelled(rows))

    def _labelled(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Account rows with account_name and csm right after account_id."""
        labels = self.warehouse.account_labels()
        out = []
        for r in rows:
            lab = labels.get(r.get("account_id"), {"account_name": None, "csm": None})
            new: dict[str, Any] = {}
            for k, v in r.items():
                new[k] = v
                if k == "account_id":
                    new.update(lab)
            out.append(new)
        return out

    def explain(
        self, metric: str, period: str = "last", *, filters: dict[str, str] | None = None, engine: str | None = None,
        top: int = 10, as_of: date | str | None = None,
    ):
        """How a figure was computed: a :class:`retentio.results.ExplainResult`."""
        from retentio.metrics import explain
        from retentio.results import ExplainResult

        p, _day, _to_date = self.period(period, as_of=_as_day(as_of))
        with self._computing(engine) as eng:
            self._check_names(eng, None, filters)
            e = explain(eng, self.settings, metric, p, filters=filters, top=top)
        e["accounts"] = self._labelled(e["accounts"])
        return ExplainResult(**e)

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
        as_of: date | str | None = None,
    ) -> dict[str, Any]:
        """The cohort triangle; each row says whether its cohort is still ``in_progress``
        (inside the onboarding window at as_of)."""
        from retentio.clock import resolve_as_of

        def cohorts(*args: Any, **kwargs: Any) -> dict[str, Any]:
            from retentio.metrics.cohorts import cohorts as compute

            return compute(*args, **kwargs)

        day = resolve_as_of(_as_day(as_of))
        through_label = None if through is None else self.period(through, as_of=day)[0].label

        def run() -> dict[str, Any]:
            with self._computing(engine) as eng:
                from retentio.attributes import check_attribute

                check_attribute(eng, segment, parameter="segment")
                self._check_names(eng, None, filters)
                out = cohorts(eng, self.settings, grain=grain, measure=measure, values=values, segment=segment,
                              through=through, filters=filters, as_of=day)
            window = self.settings.engagement.onboarding_window_days
            from datetime import timedelta

            from retentio.metrics.periods import month_start, parse_period

            for r in out["rows"]:
                start = month_start(parse_period(r["cohort"]).first)
                r["in_progress"] = start + timedelta(days=window) > day
            return {**out, "as_of": day.isoformat(), "onboarding_window_days": window}

        question = {"grain": grain, "measure": measure, "values": values, "segment": segment,
                    "through": through_label, "as_of": day.isoformat(), "filters": _filters_key(filters)}
        return self._answer("cohorts", question, engine, run)

    def refresh(self, *, through: str | None = None, figures: bool = True, full: bool = False) -> dict[str, Any]:
        """Update the stored account-month MRR snapshot after imports (only the accounts and
        months that changed) and return the figures of the affected months
        (retentio.metrics.incremental; docs/benchmarks.md)."""
        from retentio.metrics.incremental import refresh

        with self._lock:
            return refresh(self, through=through, figures=figures, full=full).to_dict()

    # -- export --------------------------------------------------------------------------
    def export_parquet(self, destination: str | os.PathLike) -> dict[str, int]:
        """Write every canonical table as ``<destination>/<table>.parquet`` (for the Spark
        engine's ``spark_data_uri``, or any other tool); returns the rows written per table."""
        return self.warehouse.export_parquet(Path(destination))


def _filters_key(filters: dict[str, str] | None) -> list[list[str]] | None:
    """Filters as part of a cache key: their order does not change the figures."""
    return sorted([str(k), str(v)] for k, v in filters.items()) if filters else None


def _as_day(value: date | str | None) -> date | str | None:
    """as_of may be a day or, for convenience, a month (YYYY-MM: its last day)."""
    if isinstance(value, str) and len(value.strip()) == 7:
        from retentio.clock import month_end

        y, m = value.strip().split("-")
        return month_end(int(y), int(m))
    return value
