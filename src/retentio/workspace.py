"""Workspace layout on disk: where the files are, creating one, opening one, upgrading one.

A workspace is a folder:

- ``retentio.toml``    settings (retentio.config.Settings), with ``workspace.schema_version``
- ``analytics.duckdb`` canonical tables, quarantine and import log (retentio.warehouse)
- ``app.sqlite``       application state through SQLAlchemy + Alembic (retentio.store); a
                       server database instead when ``workspace.app_database_url`` is set

Versions.  ``workspace.schema_version`` says which layout made the folder.  Opening checks
it *before* validating the settings (an older file may hold keys that have since changed):
older -> WorkspaceVersionError whose hint is ``retentio upgrade --workspace DIR``; newer ->
WorkspaceVersionError saying to upgrade Retentio.  The default ``app.sqlite`` is checked
too (standard-library read of its Alembic revision, so opening stays cheap); a server
database set in ``app_database_url`` is checked on first use (``Workspace.app_session``)
so that commands which never touch application state work while the server is away.
``retentio upgrade`` is idempotent and keeps data: it rewrites older settings through
``_SETTINGS_UPGRADES``, creates missing analytics tables and migrates the app database.
"""

from __future__ import annotations

import os
import sqlite3
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retentio.errors import ConfigError, UsageError, WorkspaceVersionError
from retentio.files import ANALYTICS_FILE, APP_DB_FILE, CONFIG_FILE, SCHEMA_VERSION

if TYPE_CHECKING:
    from retentio.config import Settings
    from retentio.warehouse import Warehouse

# pydantic (the settings) and DuckDB (the warehouse) are imported by the functions that need
# them: opening a workspace whose answer is in the figure cache reads neither (retentio.answers).
DEFAULT_WORKSPACE = "retentio-workspace"
ENV_VAR = "RETENTIO_WORKSPACE"

# Settings rewrites between workspace formats: ``_SETTINGS_UPGRADES[v]`` turns the raw TOML
# mapping of format ``v`` into format ``v + 1`` (rename or drop keys, convert values ...).
# Format 0 (before versioning) has the same keys as format 1.
_SETTINGS_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: lambda raw: raw,
    # Format 2 adds the subscription columns kind and canceled_at (analytics tables only).
    1: lambda raw: raw,
}


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


# -- create ---------------------------------------------------------------------------------
def create(path: Path, *, base_currency: str = "EUR", engine: str = "duckdb", force: bool = False) -> WorkspaceFiles:
    """Create a workspace (settings with their defaults, analytics tables, app database).

    ``force`` on an existing workspace resets its settings to the defaults and keeps its data.
    Options are validated before anything is written.
    """
    from pydantic import ValidationError

    from retentio.config import Settings
    from retentio.warehouse import Warehouse

    files = WorkspaceFiles(Path(path))
    if files.root.exists() and not files.root.is_dir():
        raise ConfigError(f"{files.root}: exists and is not a folder", hint="choose another path for the workspace")
    if files.config.exists() and not force:
        raise ConfigError(
            f"{files.root}: a workspace already exists here",
            hint="use it as it is, choose another folder, or pass force=True to reset its settings (data is kept)",
        )
    settings = Settings()
    for option, field, value in (("base_currency", "base_currency", base_currency), ("engine", "engine", engine)):
        try:
            setattr(settings.workspace, field, value)
        except ValidationError as exc:
            raise UsageError(
                f"{option} {value!r}: {exc.errors()[0]['msg']}",
                hint="e.g. base_currency=EUR engine=duckdb (engines: duckdb, polars, spark)",
            ) from None
    files.root.mkdir(parents=True, exist_ok=True)
    settings.save(files.config)
    Warehouse(files.analytics).create(SCHEMA_VERSION)
    _init_app_state(files, settings)
    return files


def _init_app_state(files: WorkspaceFiles, settings: Settings) -> None:
    from retentio.store import migrate

    migrate(files.app_database_url(settings))


# -- open -----------------------------------------------------------------------------------
def _require_root(files: WorkspaceFiles) -> None:
    if not files.root.is_dir():
        raise ConfigError(
            f"{files.root}: no such workspace",
            hint=f"create it with `retentio init --workspace {files.root}`, or open an existing one (its path, or ${ENV_VAR})",
        )


def _raw_settings(files: WorkspaceFiles) -> dict[str, Any]:
    """The TOML as written, unvalidated (Settings.load reports a missing or broken file)."""
    return _read_settings(files)[1]


def _read_settings(files: WorkspaceFiles) -> tuple[bytes, dict[str, Any]]:
    """The bytes of the settings file and their TOML, unvalidated."""
    try:
        text = files.config.read_bytes()
        return text, tomllib.loads(text.decode("utf-8"))
    except (FileNotFoundError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        from retentio.config import Settings

        Settings.load(files.config)  # raises the ConfigError saying what to do
        raise  # pragma: no cover - Settings.load always raises here


def _schema_version(files: WorkspaceFiles, raw: dict[str, Any]) -> int:
    """The workspace format recorded in the settings; a file without one is current."""
    section = raw.get("workspace", {})
    version = section.get("schema_version", SCHEMA_VERSION) if isinstance(section, dict) else SCHEMA_VERSION
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ConfigError(
            f"{files.config}: setting workspace.schema_version: {version!r} is not a workspace format number",
            hint=f"it is written by Retentio; set it back to {SCHEMA_VERSION} or re-create the workspace",
        )
    return version


def _newer_error(files: WorkspaceFiles, version: int) -> WorkspaceVersionError:
    return WorkspaceVersionError(
        f"{files.root}: made by a newer Retentio (workspace format {version}, this one reads {SCHEMA_VERSION})",
        hint="upgrade Retentio (pip install -U retentio)",
    )


def open_files(path: Path) -> tuple[WorkspaceFiles, Settings, Warehouse]:
    from retentio.warehouse import Warehouse

    files, _text, raw = read_settings(path)
    settings = validate_settings(files, raw)
    check_data_files(files, raw)
    return files, settings, Warehouse(files.analytics)


def read_settings(path: Path) -> tuple[WorkspaceFiles, bytes, dict[str, Any]]:
    """The first half of opening a workspace, standard library only: the folder exists, the
    settings file reads as TOML and is of the current format.  Returns the files, the bytes
    of the settings and their TOML, not validated yet (:func:`validate_settings`)."""
    files = WorkspaceFiles(Path(path))
    _require_root(files)
    text, raw = _read_settings(files)
    version = _schema_version(files, raw)
    if version > SCHEMA_VERSION:
        raise _newer_error(files, version)
    if version < SCHEMA_VERSION:
        raise WorkspaceVersionError(
            f"{files.root}: made by an older Retentio (workspace format {version}, current {SCHEMA_VERSION})",
            hint=f"run `retentio upgrade --workspace {files.root}` (it keeps your data)",
        )
    return files, text, raw


def validate_settings(files: WorkspaceFiles, raw: dict[str, Any]) -> Settings:
    from retentio.config import Settings

    return Settings.validate_document(raw, files.config)


def check_data_files(files: WorkspaceFiles, raw: dict[str, Any]) -> None:
    """The analytics file exists; the default app.sqlite exists and is at the latest revision
    (``raw``: the settings' TOML, for ``workspace.app_database_url``)."""
    if not files.analytics.exists():
        raise ConfigError(
            f"{files.analytics}: analytics database missing",
            hint=f"run `retentio upgrade --workspace {files.root}` to re-create it, then import your data again",
        )
    section = raw.get("workspace")
    if not (isinstance(section, dict) and section.get("app_database_url")):
        _check_app_sqlite(files)


def _check_app_sqlite(files: WorkspaceFiles) -> None:
    """The workspace's app.sqlite exists and is at the latest revision (cheap, stdlib only)."""
    from retentio import store

    if not files.app_db.exists():
        raise ConfigError(
            f"{files.app_db}: application database missing",
            hint=f"run `retentio upgrade --workspace {files.root}` to re-create it",
        )
    try:
        revision = store.sqlite_revision(files.app_db)
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"{files.app_db}: not a readable SQLite database ({exc})",
            hint="restore it from a backup, or move it away and run `retentio upgrade` to start an empty one",
        ) from None
    if revision != store.HEAD_REVISION:
        # Slow path (imports Alembic): says precisely whether it is older or newer.
        store.check_revision(f"sqlite:///{files.app_db.resolve()}", workspace=files.root)


# -- upgrade --------------------------------------------------------------------------------
def upgrade(path: Path) -> list[str]:
    """Bring a workspace made by an older version to the current format; returns what was done.

    Idempotent and data-preserving.  A workspace made by a newer Retentio is refused.
    """
    files = WorkspaceFiles(Path(path))
    _require_root(files)
    raw = _raw_settings(files)
    version = _schema_version(files, raw)
    if version > SCHEMA_VERSION:
        raise _newer_error(files, version)
    for v in range(version, SCHEMA_VERSION):
        raw = _SETTINGS_UPGRADES[v](raw)
    raw.setdefault("workspace", {})["schema_version"] = SCHEMA_VERSION
    settings = _validate(files, raw)
    from retentio.warehouse import Warehouse

    done: list[str] = []
    Warehouse(files.analytics).create(SCHEMA_VERSION)
    done.append("analytics tables checked")
    _init_app_state(files, settings)
    done.append("application database migrated to the latest revision")
    if version != SCHEMA_VERSION:
        settings.save(files.config)
        done.append(f"workspace format {version} -> {SCHEMA_VERSION}")
    return done


def _validate(files: WorkspaceFiles, raw: dict[str, Any]) -> Settings:
    from retentio.config import Settings

    return Settings.validate_document(
        raw,
        files.config,
        hint="fix it (see docs/configuration.md for the settings and their allowed values), then run upgrade again",
    )


__all__ = ["APP_DB_FILE", "DEFAULT_WORKSPACE", "ENV_VAR", "WorkspaceFiles", "check_data_files", "create",
    "open_files", "read_settings", "resolve_path", "upgrade", "validate_settings"]
