"""Workspace lifecycle (retentio.workspace + retentio.service.Workspace): init, open, version
checks, upgrade, settings validation and where the workspace is found."""

from __future__ import annotations

import sqlite3
import tomllib
from pathlib import Path

import duckdb
import pytest

from retentio import store
from retentio import workspace as layout
from retentio.config import SCHEMA_VERSION, Settings
from retentio.errors import ConfigError, UsageError, WorkspaceVersionError
from retentio.service import Workspace


def _set_toml(ws: Path, old: str, new: str) -> None:
    cfg = ws / "retentio.toml"
    text = cfg.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in retentio.toml"
    cfg.write_text(text.replace(old, new, 1), encoding="utf-8")


def _add_account(ws: Path, account_id: str, name: str) -> None:
    with duckdb.connect(str(ws / "analytics.duckdb")) as con:
        con.execute("INSERT INTO accounts (account_id, name) VALUES (?, ?)", [account_id, name])


def _accounts(ws: Path) -> list[tuple]:
    with duckdb.connect(str(ws / "analytics.duckdb"), read_only=True) as con:
        return con.execute("SELECT account_id, name FROM accounts ORDER BY account_id").fetchall()


# -- init ---------------------------------------------------------------------------------
def test_init_creates_the_three_files_with_defaults(workspace_dir):
    ws = Workspace.init(workspace_dir)
    assert ws.path == workspace_dir
    for name in ("retentio.toml", "analytics.duckdb", "app.sqlite"):
        assert (workspace_dir / name).is_file(), name

    raw = tomllib.loads((workspace_dir / "retentio.toml").read_text(encoding="utf-8"))
    assert raw["workspace"]["base_currency"] == "EUR"
    assert raw["workspace"]["engine"] == "duckdb"
    assert raw["workspace"]["schema_version"] == SCHEMA_VERSION
    # Defaults documented in metrics.md / docs/configuration.md, spelled out by hand.
    assert raw["metrics"]["ltv_variant"] == "six_month_average"
    assert raw["metrics"]["ltv_churn_window_months"] == 6
    assert raw["metrics"]["annualisation"] == "compound"
    assert raw["metrics"]["renewal_window_days"] == 30
    assert raw["metrics"]["touch_tiers"] == {"high": 2000.0, "low": 300.0}
    assert raw["satisfaction"]["csat_positive_1_5"] == 4
    # Every setting is written out (so a user sees and can edit it), except the optional
    # gross_margin whose default "derive from costs" has no TOML spelling.
    for section, model in (("workspace", Settings().workspace), ("metrics", Settings().metrics),
                           ("engagement", Settings().engagement), ("satisfaction", Settings().satisfaction),
                           ("sentiment", Settings().sentiment)):
        missing = set(type(model).model_fields) - set(raw[section])
        assert missing <= {"gross_margin"}, (section, missing)

    with duckdb.connect(str(workspace_dir / "analytics.duckdb"), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"accounts", "subscriptions", "quarantine", "imports", "meta"} <= tables
    assert store.sqlite_revision(workspace_dir / "app.sqlite") == store.HEAD_REVISION
    with sqlite3.connect(workspace_dir / "app.sqlite") as con:
        app_tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"users", "audit_log", "alembic_version"} <= app_tables


def test_init_options_and_their_validation(tmp_path):
    ws = Workspace.init(tmp_path / "usd", base_currency="usd", engine="polars")
    assert (ws.settings.workspace.base_currency, ws.settings.workspace.engine) == ("USD", "polars")
    with pytest.raises(UsageError, match="base_currency 'EURO'"):
        Workspace.init(tmp_path / "bad", base_currency="EURO")
    with pytest.raises(UsageError, match="engine 'pandas'"):
        Workspace.init(tmp_path / "bad", engine="pandas")
    assert not (tmp_path / "bad").exists()  # nothing written for a refused request


def test_init_refuses_an_existing_workspace_and_force_keeps_data(workspace_dir):
    Workspace.init(workspace_dir)
    _add_account(workspace_dir, "acc_1", "Boulangerie Martin")
    _set_toml(workspace_dir, 'ltv_variant = "six_month_average"', 'ltv_variant = "current_month"')
    with pytest.raises(ConfigError, match="already exists") as err:
        Workspace.init(workspace_dir)
    assert "force=True" in err.value.hint  # the Python API speaks of its parameter (the CLI shows --force)
    ws = Workspace.init(workspace_dir, force=True)
    assert ws.settings.metrics.ltv_variant == "six_month_average"  # settings reset
    assert _accounts(workspace_dir) == [("acc_1", "Boulangerie Martin")]  # data kept


def test_init_on_a_file_is_a_config_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        Workspace.init(tmp_path / "f")


# -- open: missing, invalid ----------------------------------------------------------------
def test_missing_folder_says_to_run_init(tmp_path):
    with pytest.raises(ConfigError, match="no such workspace") as err:
        Workspace(tmp_path / "nope")
    assert f"retentio init --workspace {tmp_path / 'nope'}" in err.value.hint


def test_folder_without_settings_says_to_run_init(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no retentio.toml") as err:
        Workspace(tmp_path / "empty")
    assert "retentio init --workspace" in err.value.hint


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('ltv_variant = "six_month_average"', 'ltv_variant = "foo"', "metrics.ltv_variant"),
        ('ltv_variant = "six_month_average"', 'ltv_varaint = "current_month"', "metrics.ltv_varaint"),
        ("renewal_window_days = 30", "renewal_window_days = -1", "metrics.renewal_window_days"),
        ('base_currency = "EUR"', 'base_currency = "EURO"', "workspace.base_currency"),
        ("low = 300.0", "low = 5000.0", "metrics.touch_tiers"),
    ],
    ids=["bad-value", "unknown-key", "out-of-range", "bad-currency", "cross-field"],
)
def test_invalid_setting_names_the_setting(workspace_dir, old, new, named):
    Workspace.init(workspace_dir)
    _set_toml(workspace_dir, old, new)
    with pytest.raises(ConfigError) as err:
        Workspace(workspace_dir)
    assert f"setting {named}" in err.value.message
    assert "retentio.toml" in err.value.message
    assert "docs/configuration.md" in err.value.hint


def test_broken_toml_is_a_config_error(workspace_dir):
    Workspace.init(workspace_dir)
    (workspace_dir / "retentio.toml").write_text("[metrics\nltv_variant = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Workspace(workspace_dir)


# -- versions --------------------------------------------------------------------------------
def test_older_workspace_says_what_to_run_and_upgrade_keeps_data(workspace_dir):
    Workspace.init(workspace_dir)
    _add_account(workspace_dir, "acc_1", "Boulangerie Martin")
    _add_account(workspace_dir, "acc_2", "Atelier Dupont")
    with Workspace(workspace_dir).app_session() as s:
        s.add(store.User(email="lea@example.com", name="Léa", role="admin"))
    _set_toml(workspace_dir, f"schema_version = {SCHEMA_VERSION}", "schema_version = 0")
    _set_toml(workspace_dir, 'ltv_variant = "six_month_average"', 'ltv_variant = "gross_margin"')

    with pytest.raises(WorkspaceVersionError) as err:
        Workspace(workspace_dir)
    assert "older Retentio" in err.value.message and "format 0" in err.value.message
    assert err.value.hint == f"run `retentio upgrade --workspace {workspace_dir}` (it keeps your data)"

    done = Workspace.upgrade(workspace_dir)
    assert f"workspace format 0 -> {SCHEMA_VERSION}" in done
    ws = Workspace(workspace_dir)  # opens now
    assert ws.settings.workspace.schema_version == SCHEMA_VERSION
    assert ws.settings.metrics.ltv_variant == "gross_margin"  # the user's settings survive
    assert _accounts(workspace_dir) == [("acc_1", "Boulangerie Martin"), ("acc_2", "Atelier Dupont")]
    with ws.app_session() as s:
        from sqlalchemy import select

        assert s.scalars(select(store.User.email)).all() == ["lea@example.com"]
    # Upgrading an up-to-date workspace is harmless and reports no format change.
    again = Workspace.upgrade(workspace_dir)
    assert not any("->" in line for line in again)
    assert _accounts(workspace_dir) == [("acc_1", "Boulangerie Martin"), ("acc_2", "Atelier Dupont")]


def test_workspace_from_before_the_app_database_is_upgraded(workspace_dir):
    """An old workspace without app.sqlite (format 0) opens after `retentio upgrade`."""
    Workspace.init(workspace_dir)
    (workspace_dir / "app.sqlite").unlink()
    _set_toml(workspace_dir, f"schema_version = {SCHEMA_VERSION}", "schema_version = 0")
    with pytest.raises(WorkspaceVersionError):
        Workspace(workspace_dir)
    Workspace.upgrade(workspace_dir)
    assert store.sqlite_revision(workspace_dir / "app.sqlite") == store.HEAD_REVISION
    Workspace(workspace_dir)


def test_missing_or_unmigrated_app_database_says_to_upgrade(workspace_dir):
    Workspace.init(workspace_dir)
    (workspace_dir / "app.sqlite").unlink()
    with pytest.raises(ConfigError, match="application database missing") as err:
        Workspace(workspace_dir)
    assert f"retentio upgrade --workspace {workspace_dir}" in err.value.hint

    sqlite3.connect(workspace_dir / "app.sqlite").close()  # an empty database: never migrated
    with pytest.raises(WorkspaceVersionError, match="has no tables yet") as err:
        Workspace(workspace_dir)
    assert f"retentio upgrade --workspace {workspace_dir}" in err.value.hint

    Workspace.upgrade(workspace_dir)
    Workspace(workspace_dir)


def test_corrupt_app_database_is_a_config_error(workspace_dir):
    Workspace.init(workspace_dir)
    (workspace_dir / "app.sqlite").write_bytes(b"this is not a database" * 200)
    with pytest.raises(ConfigError, match="not a readable SQLite database"):
        Workspace(workspace_dir)


def test_newer_workspace_says_to_upgrade_retentio(workspace_dir):
    Workspace.init(workspace_dir)
    _set_toml(workspace_dir, f"schema_version = {SCHEMA_VERSION}", f"schema_version = {SCHEMA_VERSION + 1}")
    # A newer format may carry settings this version does not know: still the version error.
    with open(workspace_dir / "retentio.toml", "a", encoding="utf-8") as f:
        f.write("\n[future]\nsomething = 1\n")
    before = (workspace_dir / "retentio.toml").read_bytes()
    with pytest.raises(WorkspaceVersionError, match="newer Retentio") as err:
        Workspace(workspace_dir)
    assert "upgrade Retentio" in err.value.hint
    with pytest.raises(WorkspaceVersionError, match="newer Retentio"):
        Workspace.upgrade(workspace_dir)  # never downgrades a newer workspace
    assert (workspace_dir / "retentio.toml").read_bytes() == before


def test_app_database_of_a_newer_retentio_is_refused_on_open(workspace_dir):
    Workspace.init(workspace_dir)
    with sqlite3.connect(workspace_dir / "app.sqlite") as con:
        con.execute("UPDATE alembic_version SET version_num = 'ffff'")
    with pytest.raises(WorkspaceVersionError, match="newer version") as err:
        Workspace(workspace_dir)
    assert "upgrade Retentio" in err.value.hint


def test_bad_schema_version_value(workspace_dir):
    Workspace.init(workspace_dir)
    _set_toml(workspace_dir, f"schema_version = {SCHEMA_VERSION}", 'schema_version = "one"')
    with pytest.raises(ConfigError, match="workspace.schema_version"):
        Workspace(workspace_dir)


# -- where the workspace is -------------------------------------------------------------------
def test_workspace_from_environment_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RETENTIO_WORKSPACE", str(tmp_path / "from-env"))
    ws = Workspace.init()
    assert ws.path == tmp_path / "from-env"
    assert (tmp_path / "from-env" / "retentio.toml").is_file()
    assert not (tmp_path / "retentio-workspace").exists()
    assert Workspace().path == tmp_path / "from-env"
    # An explicit --workspace wins over the variable.
    assert layout.resolve_path(tmp_path / "explicit") == tmp_path / "explicit"


def test_workspace_fallback_is_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RETENTIO_WORKSPACE", raising=False)
    ws = Workspace.init()
    assert ws.path == Path("retentio-workspace")
    assert (tmp_path / "retentio-workspace" / "analytics.duckdb").is_file()
    assert Workspace().path.resolve() == (tmp_path / "retentio-workspace").resolve()
    monkeypatch.setenv("RETENTIO_WORKSPACE", "")  # empty counts as unset
    assert layout.resolve_path(None) == Path("retentio-workspace")


# -- application state through the service ------------------------------------------------------
def test_app_status_reports_revision_and_counts(workspace_dir):
    ws = Workspace.init(workspace_dir)
    with ws.app_session() as s:
        s.add(store.User(email="a@example.com", name="A", role="admin"))
        s.add(store.User(email="b@example.com", name="B", role="viewer"))
        s.add(store.AuditEntry(actor="a@example.com", action="user.create", target="user:2", details={}))
    status = ws.app_status()
    assert status["url"] == f"sqlite:///{(workspace_dir / 'app.sqlite').resolve()}"
    assert (status["revision"], status["latest"]) == (store.HEAD_REVISION, store.HEAD_REVISION)
    assert (status["users"], status["audit_entries"]) == (2, 1)
