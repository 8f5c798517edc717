"""A workspace whose application state lives elsewhere (``workspace.app_database_url``):
on a real PostgreSQL server, and on a SQLite file outside the workspace."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from retentio import store
from retentio.errors import WorkspaceVersionError
from retentio.service import Workspace


def _point_at(ws_dir, url: str) -> None:
    cfg = ws_dir / "retentio.toml"
    text = cfg.read_text(encoding="utf-8")
    assert 'app_database_url = ""' in text
    cfg.write_text(text.replace('app_database_url = ""', f'app_database_url = "{url}"'), encoding="utf-8")


def test_external_app_database_checked_on_first_use_and_upgraded(workspace_dir, db_url):
    Workspace.init(workspace_dir)
    _point_at(workspace_dir, db_url)

    ws = Workspace(workspace_dir)  # opening does not touch the external database ...
    assert ws.app_database_url == db_url
    with pytest.raises(WorkspaceVersionError) as err:
        ws.app_session()  # ... using it says what to run
    assert err.value.hint == f"run `retentio upgrade --workspace {workspace_dir}` (it keeps your data)"

    done = Workspace.upgrade(workspace_dir)
    assert "application database migrated to the latest revision" in done
    assert store.current_revision(db_url) == store.HEAD_REVISION

    ws = Workspace(workspace_dir)
    with ws.app_session() as s:
        s.add(store.User(email="chloe@example.com", name="Chloé", role="csm"))
        s.add(store.AuditEntry(actor="chloe@example.com", action="workspace.open", target=str(workspace_dir),
                               details={"engine": "duckdb"}))
    with ws.app_session() as s:
        assert s.scalars(select(store.User.name)).all() == ["Chloé"]
        assert s.scalars(select(store.AuditEntry.details)).all() == [{"engine": "duckdb"}]
    status = ws.app_status()
    assert (status["users"], status["audit_entries"]) == (1, 1)
    Workspace.upgrade(workspace_dir)  # idempotent, data kept
    with ws.app_session() as s:
        assert s.scalars(select(store.User.email)).all() == ["chloe@example.com"]
