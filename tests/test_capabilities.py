"""Capabilities plug into the CLI and the service facade through one declaration."""

import importlib

import pytest

from retentio import capabilities
from retentio.capabilities import Capability


def test_every_cli_module_imports():
    for name in capabilities.cli_modules():
        assert importlib.import_module(name) is not None


def test_service_method_is_found_and_bound(monkeypatch, tmp_path):
    from retentio.service import Workspace

    fake = Capability("probe", "test capability", service={"probe_answer": "tests.test_capabilities:_probe"})
    monkeypatch.setattr(capabilities, "BUILTIN", capabilities.BUILTIN + (fake,))
    capabilities.all_capabilities.cache_clear()
    capabilities._service_index.cache_clear()
    try:
        ws = Workspace.init(tmp_path / "ws")
        assert ws.probe_answer(2, plus=3) == (ws.path, 5)
        assert "probe_answer" in dir(ws)
        with pytest.raises(AttributeError):
            ws.no_such_method
    finally:
        capabilities.all_capabilities.cache_clear()
        capabilities._service_index.cache_clear()


def test_a_method_declared_twice_is_refused(monkeypatch):
    a = Capability("a", "", service={"same": "x:y"})
    b = Capability("b", "", service={"same": "x:z"})
    monkeypatch.setattr(capabilities, "BUILTIN", (a, b))
    capabilities.all_capabilities.cache_clear()
    capabilities._service_index.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="declared by two capabilities"):
            capabilities.service_method("same")
    finally:
        capabilities.all_capabilities.cache_clear()
        capabilities._service_index.cache_clear()


def _probe(ws, a, *, plus):
    return ws.path, a + plus
