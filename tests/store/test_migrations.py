"""The Alembic scripts themselves: found through the package, one linear history, shipped."""

from __future__ import annotations

import os
from pathlib import Path

from retentio import store


def test_head_constant_matches_the_scripts():
    """Opening a workspace compares app.sqlite with HEAD_REVISION without loading Alembic;
    a new revision must bump that constant."""
    assert store.head_revision() == store.HEAD_REVISION


def test_single_linear_history():
    from alembic.script import ScriptDirectory

    from retentio.store.db import _alembic_config

    script = ScriptDirectory.from_config(_alembic_config())
    assert script.get_heads() == [store.HEAD_REVISION]
    revs = list(script.walk_revisions())
    assert revs[-1].down_revision is None  # oldest first revision has no parent
    assert [r.revision for r in revs][-1] == "0001"


def test_migrations_are_package_files_not_cwd_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing alembic-related in the working directory
    assert store.MIGRATIONS_DIR == Path(store.__file__).resolve().parent / "migrations"
    for name in ("env.py", "script.py.mako", "__init__.py", "versions/__init__.py"):
        assert (store.MIGRATIONS_DIR / name).is_file(), name
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    store.migrate(url)
    assert store.current_revision(url) == store.HEAD_REVISION
    assert not any(p.name == "alembic.ini" for p in tmp_path.iterdir())
    store.dispose(url)


def test_revision_files_are_python_packages_for_the_wheel():
    """setuptools ships .py files of packages: migrations/ and versions/ must be packages."""
    import importlib

    for mod in ("retentio.store.migrations", "retentio.store.migrations.versions"):
        assert importlib.import_module(mod).__file__ is not None
    versions = [p for p in os.listdir(store.MIGRATIONS_DIR / "versions") if p.endswith(".py") and p != "__init__.py"]
    assert versions and all(p[:4].isdigit() for p in versions)


def test_importing_the_store_does_not_import_sqlalchemy():
    import subprocess
    import sys

    code = "import sys, retentio.store; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
