"""The service facade: every use case of Retentio, called by the CLI, the API, the web app
and notebooks alike.  It returns plain data (dicts, lists, dataclasses with ``to_dict``), so
the same question asked from anywhere gets the same answer.
"""

from __future__ import annotations

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
                    name, self.warehouse.arrow, spark_master=self.settings.workspace.spark_master
                )
        return self._engines[name]

    def close(self) -> None:
        for e in self._engines.values():
            if e.name == "duckdb":
                e.close()
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

        sql = "SELECT entity, file, row_number, \"column\", value, reason, detail FROM quarantine"
        params: list[Any] = []
        if entity:
            sql += " WHERE entity = ?"
            params.append(find_entity(entity).name)
        sql += " ORDER BY entity, file, row_number"
        if limit is not None:
            if limit < 0:
                raise UsageError("--limit must be positive")
            sql += f" LIMIT {int(limit)}"
        return self.warehouse.query(sql, params)

    def imports(self) -> list[dict[str, Any]]:
        return self.warehouse.query("SELECT * FROM imports ORDER BY imported_at")

    def counts(self) -> dict[str, int]:
        from retentio.model import ENTITIES

        return {e.name: self.warehouse.count(e.table) for e in ENTITIES.values()}
