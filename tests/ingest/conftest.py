"""Fixtures of the importer tests: a fresh workspace per test (copied from one made once)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retentio.service import Workspace



@pytest.fixture(scope="session")
def _template_ws(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("template") / "ws"
    Workspace.init(root)
    return root


@pytest.fixture
def ws(_template_ws, tmp_path) -> Workspace:
    """An empty workspace (base currency EUR, date_order iso)."""
    dest = tmp_path / "ws"
    shutil.copytree(_template_ws, dest)
    return Workspace(dest)


@pytest.fixture
def write(tmp_path):
    """write("name.csv", text, encoding="utf-8") -> Path; bytes are written as they are."""

    def _write(name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
        p = tmp_path / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return p

    return _write
