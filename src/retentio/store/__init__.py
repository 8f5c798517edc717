"""Application state: a relational database reached through SQLAlchemy 2, migrated by Alembic.

The default database is the workspace's ``app.sqlite``; setting
``workspace.app_database_url`` (e.g. ``postgresql+psycopg://user@host/db``) moves it to a
server shared by several users.  The schema is versioned by Alembic revisions shipped
inside this package (``retentio/store/migrations``), found through the package path, so
they work from a wheel, from any working directory and without an ``alembic.ini``.

Public API (loaded lazily: importing ``retentio.store`` is free until one is used)::

    migrate(url)            bring the database to the latest revision (idempotent)
    current_revision(url)   the revision the database is at (None: never migrated)
    head_revision()         the latest revision this Retentio knows (from the scripts)
    check_revision(url)     raise WorkspaceVersionError, saying what to run, unless at head
    engine_for(url)         one cached SQLAlchemy engine per URL
    session(url)            a Session that commits on success and rolls back on error
    dispose(url=None)       close cached engines (e.g. before dropping a database)
    pending_changes(url)    model/database differences (empty when migrations match models)
    User, AuditEntry, Base, ROLES   the ORM models (retentio.store.models)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The latest revision under migrations/versions.  Kept here as a constant so that opening a
# workspace can check its app.sqlite with the standard library alone (no SQLAlchemy import);
# tests/store/test_migrations.py fails when it differs from Alembic's head.
HEAD_REVISION = "0006"

_DB_NAMES = {
    "MIGRATIONS_DIR", "check_revision", "current_revision", "dispose", "engine_for",
    "head_revision", "migrate", "pending_changes", "safe_url", "session",
}
_MODEL_NAMES = {"AuditEntry", "Base", "CsmPulse", "Note", "PULSE_COLOURS", "ROLES", "TASK_PRIORITIES", "TASK_STATUSES", "Task",
               "User", "UTCDateTime", "utcnow",
               "ApiToken", "SavedView", "WebSession",
               "ACTION_STATUSES", "AccountAssignment", "AccountTag", "Notification", "PlaybookAction",
               "PlaybookAttempt", "PlaybookRun", "RUN_STATUSES"}

__all__ = sorted(_DB_NAMES | _MODEL_NAMES | {"HEAD_REVISION", "sqlite_revision"})

if TYPE_CHECKING:
    from retentio.store.db import (  # noqa: F401
        MIGRATIONS_DIR, check_revision, current_revision, dispose, engine_for, head_revision,
        migrate, pending_changes, safe_url, session,
    )
    from retentio.store.models import ROLES, AuditEntry, Base, User, UTCDateTime, utcnow  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _DB_NAMES:
        from retentio.store import db

        return getattr(db, name)
    if name in _MODEL_NAMES:
        from retentio.store import models

        return getattr(models, name)
    raise AttributeError(f"module 'retentio.store' has no attribute {name!r}")


def sqlite_revision(path: Path) -> str | None:
    """The Alembic revision of a SQLite file, read with the standard library only.

    None when the file has no ``alembic_version`` table (never migrated).  The file must
    exist: the caller decides what a missing file means.
    """
    con = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no such table
        return None
    finally:
        con.close()
    return row[0] if row else None
