"""A small demo workspace served by the application, with one user per role.

The workspace is made once per run (200 accounts, 14 months ending with the last complete
month, so that "last" and today's portfolio have customers) and copied for each module
that writes, so tests do not see each other's tasks and imports.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from apphelpers import PASSWORD


@pytest.fixture(scope="session")
def app_demo_template(tmp_path_factory) -> Path:
    from retentio.service import Workspace

    path = tmp_path_factory.mktemp("appdemo") / "ws"
    Workspace.demo(path, accounts=200, months=14, seed=11, force=True, events_per_user_month=3.0)
    ws = Workspace(path)
    # The CSM user is the owner (csm attribute) of some accounts of the demo.
    owner = ws.warehouse.query("SELECT value FROM account_attributes WHERE attribute = 'csm' GROUP BY value ORDER BY count(*) DESC LIMIT 1")[0]["value"]
    for email, role, name in (("admin@example.com", "admin", "Ada Admin"), ("manager@example.com", "manager", "Max Manager"),
                              ("csm@example.com", "csm", owner), ("viewer@example.com", "viewer", "Vic Viewer")):
        ws.users_create(email=email, role=role, password=PASSWORD, name=name)
    ws.close()
    return path


@pytest.fixture(scope="module")
def app_workspace(app_demo_template, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("appws") / "ws"
    shutil.copytree(app_demo_template, dest)
    return dest


@pytest.fixture(scope="module")
def app(app_workspace):
    from retentio.app.cache import CACHE
    from retentio.app.server import create_app

    CACHE.invalidate()
    return create_app(app_workspace, login_limit=(1000, 60.0))


@pytest.fixture(scope="module")
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def tokens(client) -> dict[str, dict[str, str]]:
    from apphelpers import bearer

    return {role: bearer(client, f"{role}@example.com") for role in ("admin", "manager", "csm", "viewer")}
