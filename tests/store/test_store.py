"""retentio.store: migrations to head, ORM round trips, idempotence, errors.

Every test taking ``db_url`` runs twice: on a fresh SQLite file and on a fresh PostgreSQL
database created on the real server (see conftest.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from retentio import store
from retentio.errors import ConfigError, UsageError, WorkspaceVersionError
from retentio.store import AuditEntry, User


def test_migrate_round_trip_and_idempotent(db_url):
    assert store.current_revision(db_url) is None  # a brand-new database has never been migrated

    store.migrate(db_url)
    assert store.current_revision(db_url) == store.head_revision() == store.HEAD_REVISION
    tables = set(inspect(store.engine_for(db_url)).get_table_names())
    assert {"users", "audit_log", "alembic_version"} <= tables

    at = datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))  # 08:30 UTC
    with store.session(db_url) as s:
        s.add(User(email="  Ana.Martin@Example.COM ", name="Ana Martin", role="csm"))
        s.add(AuditEntry(actor="ana.martin@example.com", action="user.create", target="user:1",
                         details={"role": "csm", "fields": ["email", "name"], "n": 2}, at=at))

    with store.session(db_url) as s:
        user = s.scalars(select(User)).one()
        entry = s.scalars(select(AuditEntry)).one()
    assert (user.email, user.name, user.role) == ("ana.martin@example.com", "Ana Martin", "csm")  # normalised
    assert user.created_at.tzinfo is not None and user.created_at.utcoffset() == timedelta(0)
    assert entry.at == datetime(2024, 3, 1, 8, 30, tzinfo=timezone.utc)  # stored in UTC, back aware
    assert entry.at.tzinfo == timezone.utc
    assert entry.details == {"role": "csm", "fields": ["email", "name"], "n": 2}
    assert entry.to_dict()["target"] == "user:1"

    # Migrating again changes nothing: same revision, data kept, one row in alembic_version.
    store.migrate(db_url)
    assert store.current_revision(db_url) == store.head_revision()
    with store.session(db_url) as s:
        assert s.scalar(select(func.count()).select_from(User)) == 1
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 1
        assert s.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_migrations_match_the_models(db_url):
    """Alembic autogenerate finds no difference between models.py and a migrated database."""
    store.migrate(db_url)
    assert store.pending_changes(db_url) == []


def test_pending_changes_sees_a_missing_table(db_url):
    """The check above can fail: on a database at head minus one table it reports that table."""
    store.migrate(db_url)
    with store.engine_for(db_url).begin() as con:
        con.execute(text("DROP TABLE audit_log"))
    diffs = store.pending_changes(db_url)
    assert any(d[0] == "add_table" and d[1].name == "audit_log" for d in diffs if isinstance(d, tuple))


def test_unique_email_and_role_check_enforced_by_the_database(db_url):
    store.migrate(db_url)
    with store.session(db_url) as s:
        s.add(User(email="bo@example.com", name="Bo", role="admin"))
    with pytest.raises(IntegrityError):
        with store.session(db_url) as s:
            s.add(User(email="BO@example.com", name="Bo again", role="viewer"))  # same address, other case
    # The CHECK constraint holds even when the ORM validator is bypassed.
    with pytest.raises(IntegrityError):
        with store.engine_for(db_url).begin() as con:
            con.execute(text("INSERT INTO users (email, name, role, created_at) "
                             "VALUES ('x@example.com', 'X', 'owner', CURRENT_TIMESTAMP)"))
    with store.session(db_url) as s:
        assert [u.email for u in s.scalars(select(User))] == ["bo@example.com"]  # the failed ones rolled back


def test_session_rolls_back_on_error(db_url):
    store.migrate(db_url)
    with pytest.raises(RuntimeError):
        with store.session(db_url) as s:
            s.add(AuditEntry(actor="system", action="demo", target=None, details={}))
            s.flush()
            raise RuntimeError("boom")
    with store.session(db_url) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_database_of_a_newer_retentio_is_refused(db_url):
    store.migrate(db_url)
    with store.engine_for(db_url).begin() as con:
        con.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(WorkspaceVersionError) as err:
        store.migrate(db_url)
    assert "9999" in err.value.message and "upgrade Retentio" in err.value.hint
    with pytest.raises(WorkspaceVersionError):
        store.check_revision(db_url)
    assert store.current_revision(db_url) == "9999"  # untouched


def test_check_revision_says_what_to_run(sqlite_url):
    with pytest.raises(WorkspaceVersionError) as err:
        store.check_revision(sqlite_url, workspace="acme")
    assert "no tables yet" in err.value.message
    assert err.value.hint == "run `retentio upgrade --workspace acme` (it keeps your data)"
    store.migrate(sqlite_url)
    store.check_revision(sqlite_url, workspace="acme")  # at head: no error


def test_model_validation_errors_are_user_errors():
    with pytest.raises(UsageError, match="role 'owner'"):
        User(email="a@example.com", name="A", role="owner")
    with pytest.raises(UsageError, match="not an e-mail address"):
        User(email="not-an-address", name="A", role="csm")


def test_naive_datetime_refused(sqlite_url):
    store.migrate(sqlite_url)
    with pytest.raises(Exception, match="timezone-aware"):
        with store.session(sqlite_url) as s:
            s.add(AuditEntry(actor="system", action="x", details={}, at=datetime(2024, 1, 1)))


def test_engine_is_cached_per_url(sqlite_url, tmp_path):
    assert store.engine_for(sqlite_url) is store.engine_for(sqlite_url)
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    assert store.engine_for(other) is not store.engine_for(sqlite_url)
    store.dispose(other)
    assert store.engine_for(other) is not None  # re-created after dispose
    store.dispose(other)


def test_in_memory_sqlite_keeps_its_tables_between_sessions():
    url = "sqlite://"
    try:
        store.migrate(url)
        with store.session(url) as s:
            s.add(User(email="m@example.com", name="M", role="viewer"))
        with store.session(url) as s:
            assert s.scalars(select(User.email)).all() == ["m@example.com"]
    finally:
        store.dispose(url)


def test_unreachable_server_is_a_config_error_with_masked_password():
    # Port 1 on localhost: nothing listens there, the connection is refused at once.
    url = "postgresql+psycopg://bob:s3cret@127.0.0.1:1/nowhere"
    try:
        with pytest.raises(ConfigError) as err:
            store.migrate(url)
    finally:
        store.dispose(url)
    assert "s3cret" not in err.value.message and "***" in err.value.message
    assert "app_database_url" in err.value.hint


def test_bad_url_and_missing_driver_are_config_errors():
    with pytest.raises(ConfigError, match="not a database URL"):
        store.engine_for("not a url")
    with pytest.raises(ConfigError, match="no driver"):
        store.engine_for("nosuchdb+nodriver://h/db")


def test_ddl_is_transactional_so_a_failed_migration_leaves_nothing(db_url):
    """migrate() runs in one transaction; DDL must roll back with it (PostgreSQL does this
    natively, SQLite only because the store issues BEGIN itself)."""
    with pytest.raises(RuntimeError):
        with store.engine_for(db_url).begin() as con:
            con.execute(text("CREATE TABLE half_done (id INTEGER)"))
            raise RuntimeError("a revision failing half-way")
    assert "half_done" not in inspect(store.engine_for(db_url)).get_table_names()
