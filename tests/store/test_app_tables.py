"""Revision 0003 (the application): users log in, API tokens, sessions, saved views; the CSM
assignments it made are in account_assignments since revision 0006 (test_assignments.py).

Runs on SQLite and PostgreSQL (db_url), from an empty database and from a database at 0002
that already holds a user.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from retentio import store
from retentio.store import AccountAssignment, ApiToken, SavedView, User, WebSession, utcnow


def test_app_tables_round_trip(db_url):
    store.migrate(db_url)
    assert store.pending_changes(db_url) == []
    with store.session(db_url) as s:
        u = User(email="max@example.com", name="Max", role="manager", password_hash="$argon2id$x", language="fr", team="EMEA")
        s.add(u)
        s.flush()
        s.add(ApiToken(user_id=u.id, name="cron", token_hash="a" * 64, prefix="rt_abc"))
        s.add(WebSession(user_id=u.id, token_hash="b" * 64, expires_at=utcnow() + timedelta(days=1)))
        s.add(AccountAssignment(account_id="acc_1", csm="max@example.com", assigned_by="admin@example.com"))
        s.add(SavedView(owner="max@example.com", name="red EMEA", page="portfolio", params={"band": "red"}))
    with store.session(db_url) as s:
        u = s.scalars(select(User)).one()
        assert (u.role, u.disabled, u.language, u.team) == ("manager", False, "fr", "EMEA")
        assert s.scalars(select(ApiToken)).one().revoked_at is None
        assert s.scalars(select(SavedView)).one().params == {"band": "red"}
    with pytest.raises(IntegrityError):  # a digest is unique
        with store.session(db_url) as s:
            s.add(ApiToken(user_id=1, name="dup", token_hash="a" * 64, prefix="rt_x"))
    with pytest.raises(IntegrityError):  # one owner per account
        with store.session(db_url) as s:
            s.add(AccountAssignment(account_id="acc_1", csm="other@example.com", assigned_by="x"))


def test_role_check_in_the_database(db_url):
    from sqlalchemy import text

    store.migrate(db_url)
    with pytest.raises(IntegrityError):
        with store.session(db_url) as s:
            s.execute(text("INSERT INTO users (email, name, role, created_at, disabled) "
                           "VALUES ('x@example.com', 'x', 'root', CURRENT_TIMESTAMP, false)"))


def test_upgrade_from_0002_keeps_users(db_url):
    from alembic import command
    from sqlalchemy import text

    from retentio.store.db import _alembic_config

    with store.engine_for(db_url).begin() as conn:
        command.upgrade(_alembic_config(conn), "0002")
    with store.engine_for(db_url).begin() as conn:
        conn.execute(text("INSERT INTO users (email, name, role, created_at) VALUES ('ana@example.com', 'Ana', 'csm', CURRENT_TIMESTAMP)"))
    store.migrate(db_url)
    assert store.current_revision(db_url) == store.HEAD_REVISION
    with store.session(db_url) as s:
        u = s.scalars(select(User)).one()
    assert (u.email, u.role, u.disabled, u.password_hash) == ("ana@example.com", "csm", False, None)
    # and down again: the manager role and the new tables go away
    with store.engine_for(db_url).begin() as conn:
        command.downgrade(_alembic_config(conn), "0002")
    assert store.current_revision(db_url) == "0002"
