"""Revision 0006: one table of account ownership.

The application's csm_assignments (0003) is merged into the playbooks' account_assignments
(0005) and dropped.  Runs on SQLite and PostgreSQL (db_url), from a database at 0005 that
holds assignments of both kinds, and from empty.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy import select

from retentio import store
from retentio.store import AccountAssignment


def _at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, tzinfo=timezone.utc)


def _to(db_url: str, rev: str, down: bool = False) -> None:
    from alembic import command

    from retentio.store.db import _alembic_config

    with store.engine_for(db_url).begin() as conn:
        (command.downgrade if down else command.upgrade)(_alembic_config(conn), rev)


def _tables(db_url: str) -> set[str]:
    return set(sa.inspect(store.engine_for(db_url)).get_table_names())


def test_from_empty_has_one_assignment_table(db_url):
    store.migrate(db_url)
    assert store.current_revision(db_url) == "0006" == store.HEAD_REVISION
    assert "account_assignments" in _tables(db_url) and "csm_assignments" not in _tables(db_url)
    assert store.pending_changes(db_url) == []


def test_upgrade_from_0005_merges_the_application_assignments(db_url):
    _to(db_url, "0005")
    eng = store.engine_for(db_url)
    with eng.begin() as conn:
        md = sa.MetaData()
        app = sa.Table("csm_assignments", md, autoload_with=conn)
        pb = sa.Table("account_assignments", md, autoload_with=conn)
        conn.execute(app.insert(), [
            {"account_id": "acc_a", "csm": "ana@x.test", "assigned_by": "admin@x.test", "assigned_at": _at(1, 10)},
            {"account_id": "acc_b", "csm": "bob@x.test", "assigned_by": "admin@x.test", "assigned_at": _at(3, 1)},
            {"account_id": "acc_c", "csm": "carl@x.test", "assigned_by": "admin@x.test", "assigned_at": _at(1, 1)},
            {"account_id": "acc_d", "csm": "dora@x.test", "assigned_by": "admin@x.test", "assigned_at": _at(1, 1)},
        ])
        conn.execute(pb.insert(), [
            {"account_id": "acc_b", "csm": "pb@x.test", "team": "emea", "touch_tier": "high", "run_id": 7, "updated_at": _at(2, 1)},
            {"account_id": "acc_c", "csm": "pb2@x.test", "team": "emea", "touch_tier": None, "run_id": 8, "updated_at": _at(2, 1)},
            {"account_id": "acc_d", "csm": None, "team": None, "touch_tier": "low", "run_id": 9, "updated_at": _at(2, 1)},
            {"account_id": "acc_e", "csm": "eve@x.test", "team": None, "touch_tier": None, "run_id": 10, "updated_at": _at(2, 1)},
        ])
    store.migrate(db_url)
    assert store.current_revision(db_url) == "0006"
    assert "csm_assignments" not in _tables(db_url)
    with store.session(db_url) as s:
        got = {a.account_id: (a.csm, a.team, a.touch_tier, a.run_id, a.assigned_by, a.updated_at)
               for a in s.scalars(select(AccountAssignment))}
    assert got == {
        # only assigned in the application: a new row
        "acc_a": ("ana@x.test", None, None, None, "admin@x.test", _at(1, 10)),
        # the user's assignment (1 March) is newer than the playbook's (1 February): it wins,
        # without the round-robin team; the touch tier and the run stay
        "acc_b": ("bob@x.test", None, "high", 7, "admin@x.test", _at(3, 1)),
        # the playbook's assignment is newer: kept
        "acc_c": ("pb2@x.test", "emea", None, 8, None, _at(2, 1)),
        # the playbook set only a touch tier: the user's CSM comes in, the tier stays
        "acc_d": ("dora@x.test", None, "low", 9, "admin@x.test", _at(2, 1)),
        # playbook only: unchanged
        "acc_e": ("eve@x.test", None, None, 10, None, _at(2, 1)),
    }

    # and down again: the users' assignments go back to csm_assignments
    _to(db_url, "0005", down=True)
    assert store.current_revision(db_url) == "0005"
    with eng.begin() as conn:
        md = sa.MetaData()
        app = sa.Table("csm_assignments", md, autoload_with=conn)
        pb = sa.Table("account_assignments", md, autoload_with=conn)
        back = {r.account_id: (r.csm, r.assigned_by) for r in conn.execute(select(app))}
        left = {r.account_id: r.csm for r in conn.execute(select(pb))}
    assert back == {"acc_a": ("ana@x.test", "admin@x.test"), "acc_b": ("bob@x.test", "admin@x.test"),
                    "acc_d": ("dora@x.test", "admin@x.test")}
    assert left == {"acc_b": "bob@x.test", "acc_c": "pb2@x.test", "acc_d": "dora@x.test", "acc_e": "eve@x.test"}
    store.migrate(db_url)
    assert store.current_revision(db_url) == "0006"
