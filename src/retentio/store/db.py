"""Implementation of :mod:`retentio.store` (engines, sessions, Alembic migrations).

Import from ``retentio.store``; this module is loaded on first use so that commands that
never touch application state do not pay for importing SQLAlchemy and Alembic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool, StaticPool

from retentio.errors import ConfigError, WorkspaceVersionError
from retentio.store.models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_SETTING = "workspace.app_database_url"

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


# -- engines ----------------------------------------------------------------------------
def engine_for(url: str) -> Engine:
    """The engine for ``url``, created once per process and cached.

    SQLite files use no pool (a connection per session: cheap, holds no file handle between
    uses, and never keeps a lock); in-memory SQLite shares one connection so that it
    survives between sessions; server databases use SQLAlchemy's default pool with
    ``pool_pre_ping`` so that a restarted server does not surface as an error.
    """
    with _lock:
        eng = _engines.get(url)
        if eng is None:
            eng = _create_engine(url)
            _engines[url] = eng
        return eng


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise ConfigError(
            f"{_SETTING}: {url!r} is not a database URL",
            hint="use e.g. postgresql+psycopg://user@host:5432/db, or leave it empty for the workspace's app.sqlite",
        ) from None
    try:
        if parsed.get_backend_name() == "sqlite":
            memory = parsed.database in (None, "", ":memory:")
            eng = create_engine(
                parsed,
                poolclass=StaticPool if memory else NullPool,
                connect_args={"check_same_thread": False} if memory else {},
            )
            event.listen(eng, "connect", _sqlite_pragmas)
            # pysqlite opens transactions implicitly and only before DML, so DDL would
            # autocommit: take over and BEGIN explicitly, making migrations atomic on SQLite
            # too (SQLAlchemy's documented recipe).
            event.listen(eng, "begin", _sqlite_begin)
        else:
            eng = create_engine(parsed, pool_pre_ping=True)
    except (sa_exc.NoSuchModuleError, ImportError, ModuleNotFoundError) as exc:
        raise ConfigError(
            f"{_SETTING}: no driver for {safe_url(url)} ({exc})",
            hint="for PostgreSQL use postgresql+psycopg://... and install it with `pip install 'retentio[postgres]'`",
        ) from None
    return eng


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver's implicit transactions off; see _sqlite_begin
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA busy_timeout = 5000")  # wait for a concurrent writer rather than fail
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def dispose(url: str | None = None) -> None:
    """Close the cached engine of ``url`` (or all of them) and forget it."""
    with _lock:
        urls = [url] if url is not None else list(_engines)
        for u in urls:
            eng = _engines.pop(u, None)
            if eng is not None:
                eng.dispose()


@contextmanager
def session(url: str) -> Iterator[Session]:
    """A unit of work: commits when the block ends, rolls back if it raises.

    Objects stay usable after the block (``expire_on_commit=False``), so a service can
    return them or their ``to_dict()``.
    """
    with _db_errors(url):
        with Session(engine_for(url), expire_on_commit=False) as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise


@contextmanager
def _db_errors(url: str) -> Iterator[None]:
    """Turn 'cannot reach the database' into a ConfigError naming the URL (password masked)."""
    try:
        yield
    except sa_exc.OperationalError as exc:
        first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc).splitlines()[0]
        raise ConfigError(
            f"application database {safe_url(url)}: {first_line}",
            hint=f"check {_SETTING} in retentio.toml and that the database server is running and reachable",
        ) from None


# -- revisions --------------------------------------------------------------------------
def _alembic_config(connection: Any = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=1)
def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None, f"no Alembic revision found in {MIGRATIONS_DIR}"
    return head


def _known(rev: str) -> bool:
    from alembic.util import CommandError

    try:
        return _script().get_revision(rev) is not None
    except CommandError:  # "Can't locate revision identified by ..."
        return False


def current_revision(url: str) -> str | None:
    """The revision the database is at; None when it was never migrated (or is empty)."""
    from alembic.runtime.migration import MigrationContext

    with _db_errors(url), engine_for(url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _refuse_newer(url: str, current: str | None) -> None:
    if current is not None and not _known(current):
        raise WorkspaceVersionError(
            f"application database {safe_url(url)} is at revision {current}, unknown to this Retentio "
            f"(latest known: {head_revision()}); it was made by a newer version",
            hint="upgrade Retentio (pip install -U retentio)",
        )


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the latest revision; running it again does nothing.

    A database made by a newer Retentio (a revision this one does not know) is refused with
    a WorkspaceVersionError rather than touched.
    """
    from alembic import command

    _refuse_newer(url, current_revision(url))
    with _db_errors(url), engine_for(url).begin() as conn:
        command.upgrade(_alembic_config(conn), "head")


def check_revision(url: str, *, workspace: str | Path | None = None) -> None:
    """Raise WorkspaceVersionError (saying what to run) unless the database is at head."""
    current = current_revision(url)
    _refuse_newer(url, current)
    if current != head_revision():
        where = f" --workspace {workspace}" if workspace is not None else ""
        state = "has no tables yet" if current is None else f"is at revision {current}, latest is {head_revision()}"
        raise WorkspaceVersionError(
            f"application database {safe_url(url)} {state}",
            hint=f"run `retentio upgrade{where}` (it keeps your data)",
        )


def pending_changes(url: str) -> list[Any]:
    """Differences between the models and the database at ``url`` (Alembic autogenerate).

    Empty when the migrations create exactly what ``models.py`` declares: run it against a
    freshly migrated database to check that a model change came with its revision.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with _db_errors(url), engine_for(url).connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        return list(compare_metadata(ctx, Base.metadata))
