"""Workspace layout on disk: where the files are, creating one, opening one, upgrading one.

A workspace is a folder:

- ``retentio.toml``   settings (retentio.config.Settings)
- ``analytics.duckdb`` canonical tables, quarantine and import log (retentio.warehouse)
- ``app.sqlite``       application state through SQLAlchemy (retentio.store)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from retentio.config import CONFIG_FILE, SCHEMA_VERSION, Settings
from retentio.errors import ConfigError, WorkspaceVersionError
from retentio.warehouse import ANALYTICS_FILE, Warehouse

DEFAULT_WORKSPACE = "retentio-workspace"
ENV_VAR = "RETENTIO_WORKSPACE"
APP_DB_FILE = "app.sqlite"


def resolve_path(path: str | os.PathLike | None) -> Path:
    """--workspace, else $RETENTIO_WORKSPACE, else ./retentio-workspace."""
    if path:
        return Path(path)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(DEFAULT_WORKSPACE)


@dataclass(frozen=True)
class WorkspaceFiles:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def analytics(self) -> Path:
        return self.root / ANALYTICS_FILE

    @property
    def app_db(self) -> Path:
        return self.root / APP_DB_FILE

    def app_database_url(self, settings: Settings) -> str:
        return settings.workspace.app_database_url or f"sqlite:///{self.app_db.resolve()}"


def create(path: Path, *, base_currency: str = "EUR", engine: str = "duckdb", force: bool = False) -> WorkspaceFiles:
    files = WorkspaceFiles(Path(path))
    if files.config.exists() and not force:
        raise ConfigError(
            f"{files.root}: a workspace already exists here",
            hint="use it as it is, choose another folder, or pass --force to reset its settings (data is kept)",
        )
    files.root.mkdir(parents=True, exist_ok=True)
    settings = Settings()
    settings.workspace.base_currency = base_currency
    settings.workspace.engine = engine  # type: ignore[assignment]
    settings.save(files.config)
    Warehouse(files.analytics).create(SCHEMA_VERSION)
    _init_app_state(files, settings)
    return files


def _init_app_state(files: WorkspaceFiles, settings: Settings) -> None:
    from retentio.store import migrate

    migrate(files.app_database_url(settings))


def open_files(path: Path) -> tuple[WorkspaceFiles, Settings, Warehouse]:
    files = WorkspaceFiles(Path(path))
    if not files.root.exists():
        raise ConfigError(
            f"{files.root}: no such workspace",
            hint=f"create it with `retentio init --workspace {files.root}` or point --workspace / ${ENV_VAR} at one",
        )
    settings = Settings.load(files.config)
    version = settings.workspace.schema_version
    if version > SCHEMA_VERSION:
        raise WorkspaceVersionError(
            f"{files.root}: made by a newer Retentio (workspace format {version}, this one reads {SCHEMA_VERSION})",
            hint="upgrade Retentio (pip install -U retentio)",
        )
    if version < SCHEMA_VERSION:
        raise WorkspaceVersionError(
            f"{files.root}: made by an older Retentio (workspace format {version}, current {SCHEMA_VERSION})",
            hint=f"run `retentio upgrade --workspace {files.root}` (it keeps your data)",
        )
    warehouse = Warehouse(files.analytics)
    if not files.analytics.exists():
        raise ConfigError(
            f"{files.analytics}: analytics database missing",
            hint=f"run `retentio upgrade --workspace {files.root}` to re-create it, then import your data again",
        )
    return files, settings, warehouse


def upgrade(path: Path) -> list[str]:
    """Bring a workspace made by an older version to the current format; returns what was done."""
    files = WorkspaceFiles(Path(path))
    settings = Settings.load(files.config)
    done: list[str] = []
    warehouse = Warehouse(files.analytics)
    # Tables are created with IF NOT EXISTS: new entities of newer versions appear, data stays.
    warehouse.create(SCHEMA_VERSION)
    done.append("analytics tables checked")
    _init_app_state(files, settings)
    done.append("application database migrated to the latest revision")
    if settings.workspace.schema_version != SCHEMA_VERSION:
        done.append(f"workspace format {settings.workspace.schema_version} -> {SCHEMA_VERSION}")
        settings.workspace.schema_version = SCHEMA_VERSION
        settings.save(files.config)
    return done
