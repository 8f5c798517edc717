"""Database URLs for the store tests: a fresh SQLite file, and a fresh PostgreSQL database.

The PostgreSQL case talks to a real server on 127.0.0.1:5432 (trust auth, user
``postgres``, maintenance database ``test``): it creates a uniquely named database through
an AUTOCOMMIT connection, hands its URL to the test, then drops it.  It is skipped, with
the reason, only when nothing answers on that port.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

PG_HOST = os.environ.get("RETENTIO_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("RETENTIO_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("RETENTIO_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("RETENTIO_TEST_PG_DB", "test")


def pg_url(database: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def postgres_answers(timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture
def sqlite_url(tmp_path) -> Iterator[str]:
    from retentio import store

    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    yield url
    store.dispose(url)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not postgres_answers():
        pytest.skip(f"PostgreSQL tests skipped: no server answers on {PG_HOST}:{PG_PORT}")
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from retentio import store

    name = f"retentio_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(pg_url(PG_ADMIN_DB), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as con:
        con.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_url(name)
    try:
        yield url
    finally:
        store.dispose(url)
        with admin.connect() as con:
            con.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
])
def db_url(request) -> str:
    """One URL per backend: the same test body runs on SQLite and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")
