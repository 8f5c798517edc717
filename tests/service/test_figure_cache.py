"""The figure cache (retentio.answers): answers kept in the workspace, keyed by the question
and by fingerprints of the data, the settings and the code; never a stale or broken answer."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from retentio import answers
from retentio.service import Workspace

AS_OF = "2024-12-31"


@pytest.fixture
def ws_path(demo_workspace, tmp_path) -> Path:
    """A private copy of the small demo workspace, without any stored answer."""
    path = tmp_path / "ws"
    shutil.copytree(demo_workspace, path, ignore=shutil.ignore_patterns(".cache"))
    return path


def stored(path: Path) -> list[Path]:
    folder = path / answers.CACHE_DIR
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("settings-")) if folder.exists() else []


@pytest.fixture
def no_engine(monkeypatch):
    """Computing is forbidden: only an answer from the cache can be returned."""
    def forbid():
        def boom(self, *a, **k):
            raise AssertionError("computed instead of read from the figure cache")
        monkeypatch.setattr(Workspace, "engine", boom)
    return forbid


def test_an_answer_is_stored_then_read_back_equal(ws_path, no_engine):
    cold = Workspace(ws_path).metrics("last", as_of=AS_OF)
    assert len(stored(ws_path)) == 1
    no_engine()
    warm = Workspace(ws_path).metrics("last", as_of=AS_OF)
    assert warm.to_dict() == cold.to_dict()
    assert (warm.period, warm.currency, warm.as_of, warm.to_date, warm.by) == \
        (cold.period, cold.currency, cold.as_of, cold.to_date, cold.by) == ("2024-12", "EUR", cold.as_of, False, None)


def test_the_key_holds_the_resolved_period_not_the_word_last(ws_path, no_engine):
    Workspace(ws_path).metrics("last", as_of=AS_OF)  # last at 2024-12-31 is 2024-12
    no_engine()
    assert Workspace(ws_path).metrics("2024-12", as_of=AS_OF)["period"] == "2024-12"
    with pytest.raises(AssertionError, match="computed"):
        Workspace(ws_path).metrics("last", as_of="2025-01-31")  # last is 2025-01 then: another question


def test_grouped_and_series_answers(ws_path, no_engine):
    by = Workspace(ws_path).metrics("2024-Q4", by="industry", filters={"touch": "high"}, as_of=AS_OF)
    series = Workspace(ws_path).metrics_series("2024-10..2024-12", as_of=AS_OF)
    no_engine()
    ws = Workspace(ws_path)
    assert ws.metrics("2024-Q4", by="industry", filters={"touch": "high"}, as_of=AS_OF).to_dict() == by.to_dict()
    assert ws.metrics_series("2024-10..2024-12", as_of=AS_OF) == series


def test_data_settings_and_code_changes_are_misses(ws_path, no_engine, monkeypatch):
    Workspace(ws_path).metrics("2024-06", as_of=AS_OF)
    no_engine()
    ws_file = ws_path / "analytics.duckdb"
    st = ws_file.stat()
    # the data: a different modification time (what any write does)
    os.utime(ws_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    with pytest.raises(AssertionError, match="computed"):
        Workspace(ws_path).metrics("2024-06", as_of=AS_OF)
    os.utime(ws_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    Workspace(ws_path).metrics("2024-06", as_of=AS_OF)  # the same fingerprint again: a hit
    # a write-ahead log next to it
    wal = ws_path / "analytics.duckdb.wal"
    wal.write_bytes(b"x")
    with pytest.raises(AssertionError, match="computed"):
        Workspace(ws_path).metrics("2024-06", as_of=AS_OF)
    wal.unlink()
    # the settings: any byte of retentio.toml
    toml = ws_path / "retentio.toml"
    text = toml.read_bytes()
    toml.write_bytes(text + b"\n# a comment\n")
    with pytest.raises(AssertionError, match="computed"):
        Workspace(ws_path).metrics("2024-06", as_of=AS_OF)
    toml.write_bytes(text)
    # the code: another version or an edited file
    monkeypatch.setattr(answers, "_CODE", "0.0.0:1")
    with pytest.raises(AssertionError, match="computed"):
        Workspace(ws_path).metrics("2024-06", as_of=AS_OF)


def test_settings_changed_in_memory_are_never_answered_from_the_file_s_cache(ws_path, no_engine):
    ws = Workspace(ws_path)
    ws.metrics("2024-06", as_of=AS_OF)
    no_engine()
    ws.metrics("2024-06", as_of=AS_OF)  # a hit
    ws.settings.metrics.ltv_churn_window_months = 3  # not the settings the stored answer was computed with
    with pytest.raises(AssertionError, match="computed"):
        ws.metrics("2024-06", as_of=AS_OF)


def test_corrupt_or_foreign_files_are_recomputed(ws_path):
    cold = Workspace(ws_path).metrics("2024-06", as_of=AS_OF).to_dict()
    [file] = stored(ws_path)
    for garbage in (b"", b"{not json", b"[]", json.dumps({"key": {"question": 1}, "value": {}}).encode()):
        file.write_bytes(garbage)
        assert Workspace(ws_path).metrics("2024-06", as_of=AS_OF).to_dict() == cold
        assert json.loads(file.read_bytes())["value"] == cold  # stored again


def test_turned_off_by_the_environment_or_the_setting(ws_path, monkeypatch):
    monkeypatch.setenv("RETENTIO_NO_CACHE", "1")
    Workspace(ws_path).metrics("2024-06", as_of=AS_OF)
    assert not (ws_path / answers.CACHE_DIR).exists()
    monkeypatch.delenv("RETENTIO_NO_CACHE")
    toml = ws_path / "retentio.toml"
    toml.write_text(toml.read_text().replace("figure_cache = true", "figure_cache = false", 1))
    assert "figure_cache = false" in toml.read_text()
    Workspace(ws_path).metrics("2024-06", as_of=AS_OF)
    assert not (ws_path / answers.CACHE_DIR).exists()


def test_the_folder_is_bounded(ws_path, monkeypatch):
    monkeypatch.setattr(answers, "MAX_FILES", 3)
    ws = Workspace(ws_path)
    for m in range(1, 7):
        ws.metrics(f"2024-{m:02d}", as_of=AS_OF)
    assert len(list((ws_path / answers.CACHE_DIR).glob("*.json"))) == 3
    # the newest answers are the ones kept
    assert {json.loads(p.read_text())["value"]["period"] for p in stored(ws_path)} >= {"2024-06"}


def test_an_import_clears_the_folder(ws_path, tmp_path):
    ws = Workspace(ws_path)
    ws.metrics("2024-06", as_of=AS_OF)
    assert stored(ws_path)
    csv = tmp_path / "accounts.csv"
    csv.write_text("account_id,name\nacc-new-1,New account\n")
    ws.import_file("accounts", csv)
    assert not stored(ws_path)


def test_invalid_settings_are_still_refused_when_opening(ws_path):
    from retentio.errors import ConfigError

    Workspace(ws_path).metrics("2024-06", as_of=AS_OF)  # the valid settings are known
    toml = ws_path / "retentio.toml"
    toml.write_text(toml.read_text().replace('engine = "duckdb"', 'engine = "excel"', 1))
    with pytest.raises(ConfigError, match="workspace.engine"):
        Workspace(ws_path)


def test_cohorts_and_engagement_answers(ws_path, no_engine):
    c = Workspace(ws_path).cohorts(measure="logos", through="last", as_of=AS_OF)
    u = Workspace(ws_path).engagement("usage", period="last", as_of=AS_OF)
    no_engine()
    ws = Workspace(ws_path)
    assert ws.cohorts(measure="logos", through="2024-12", as_of=AS_OF) == c
    assert ws.engagement("usage", period="2024-12", as_of=AS_OF).to_dict() == u.to_dict()
    assert ws.engagement("usage", period="2024-12", as_of=AS_OF).kind == "engagement.usage"
