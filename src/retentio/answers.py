"""The figure cache: answers kept in the workspace, keyed by the question and by everything
the answer depends on (standard library only).

A figure is a function of the question (method, resolved period and as_of day, by, filters,
engine ...), of the workspace's data (``analytics.duckdb`` and its write-ahead log), of its
settings (``retentio.toml``) and of Retentio's code.  Each answer is stored as a small JSON
file ``<workspace>/.cache/figures/<sha256>.json`` whose name is the hash of

- the question, with the period resolved (``last`` is the month it means at as_of, never the
  word) and the as_of day;
- the **data fingerprint**: ``os.stat`` size and ``mtime_ns`` of ``analytics.duckdb`` and of
  ``analytics.duckdb.wal`` when present: every import, upgrade, refresh or score write
  changes one of them (DuckDB writes the log on commit and the file on checkpoint);
- the **settings fingerprint**: the SHA-256 of the bytes of ``retentio.toml`` the settings
  were read from;
- the **code fingerprint**: Retentio's version and the newest ``mtime_ns`` of the package's
  ``.py`` files, so that an edited checkout never reads an answer of the code before.

The file also holds the key in clear, compared on reading.  An answer is stored only when it
survives a JSON round trip unchanged (days are kept as ``{"$date": ...}``; a tuple, a set,
NaN or a non-text key would come back as something else, so such an answer is not stored),
so that a cached answer formats exactly as a fresh one; and only when the data fingerprint is the same after the computation as before.
Files are written atomically (a temporary file, then ``os.replace``); the folder is bounded
(the newest :data:`MAX_FILES` files are kept); an unreadable, corrupt or foreign file is a
miss (the figure is computed), never an error.  ``RETENTIO_NO_CACHE=1`` or the setting
``workspace.figure_cache = false`` turns it off.

The same fingerprint is the data version of the web app's in-memory cache (``retentio.app.cache``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from retentio.files import ANALYTICS_FILE

__all__ = ["CACHE_DIR", "ENV_OFF", "MAX_FILES", "Answers", "code_fingerprint", "data_fingerprint",
           "settings_fingerprint"]

CACHE_DIR = Path(".cache") / "figures"
MAX_FILES = 200
ENV_OFF = "RETENTIO_NO_CACHE"

_CODE: str | None = None


def code_fingerprint() -> str:
    """Retentio's version and the newest modification time of its ``.py`` files (once per process)."""
    global _CODE
    if _CODE is None:
        import retentio

        newest = 0
        stack = [os.path.dirname(retentio.__file__)]
        while stack:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        if e.name != "__pycache__" and not e.name.startswith("."):
                            stack.append(e.path)
                    elif e.name.endswith(".py"):
                        newest = max(newest, e.stat().st_mtime_ns)
        _CODE = f"{retentio.__version__}:{newest}"
    return _CODE


def data_fingerprint(root: str | os.PathLike) -> list[list[int] | None]:
    """(size, mtime_ns) of the analytics file and of its write-ahead log (None when absent)."""
    out: list[list[int] | None] = []
    base = os.path.join(root, ANALYTICS_FILE)
    for path in (base, base + ".wal"):
        try:
            st = os.stat(path)
        except OSError:
            out.append(None)
        else:
            out.append([st.st_size, st.st_mtime_ns])
    return out


def settings_fingerprint(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


class Ticket:
    """A looked-up question: where its answer goes and the data fingerprint it was asked at."""

    __slots__ = ("data", "key", "path")

    def __init__(self, path: Path, key: dict[str, Any], data: list):
        self.path, self.key, self.data = path, key, data


class Answers:
    """The answers of one workspace (``enabled`` False: every lookup misses, nothing is written)."""

    def __init__(self, root: str | os.PathLike, settings_text: bytes, *, enabled: bool = True):
        self.root = Path(root)
        self.folder = self.root / CACHE_DIR
        self.settings = settings_fingerprint(settings_text)
        self.enabled = enabled

    @classmethod
    def open(cls, root: str | os.PathLike, settings_text: bytes, raw_settings: dict[str, Any]) -> "Answers":
        section = raw_settings.get("workspace")
        setting = section.get("figure_cache", True) if isinstance(section, dict) else True
        enabled = setting is not False and os.environ.get(ENV_OFF, "") in ("", "0")
        return cls(root, settings_text, enabled=enabled)

    # -- lookup and store ----------------------------------------------------------------
    def _key(self, question: dict[str, Any], data: list) -> tuple[Path, dict[str, Any]]:
        key = {"question": question, "data": data, "settings": self.settings, "code": code_fingerprint()}
        name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
        return self.folder / f"{name}.json", json.loads(json.dumps(key))

    def get(self, question: dict[str, Any]) -> tuple[Any, Ticket | None]:
        """(the stored answer or None, a ticket to store the computed one with :meth:`put`)."""
        if not self.enabled:
            return None, None
        data = data_fingerprint(self.root)
        path, key = self._key(question, data)
        ticket = Ticket(path, key, data)
        try:
            with open(path, "rb") as f:
                stored = json.loads(f.read())
        except (OSError, ValueError):
            return None, ticket
        if not isinstance(stored, dict) or stored.get("key") != key or "value" not in stored:
            return None, ticket
        try:
            return _decode(stored["value"]), ticket
        except (TypeError, ValueError):
            return None, ticket

    def put(self, ticket: Ticket | None, value: Any) -> bool:
        """Store ``value`` if it survives JSON unchanged and the data did not change meanwhile."""
        if ticket is None or not self.enabled:
            return False
        try:
            text = json.dumps({"key": ticket.key, "value": _encode(value)}, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            return False  # a value JSON cannot hold as it is (a set, NaN ...): not cached
        if _decode(json.loads(text)["value"]) != value or data_fingerprint(self.root) != ticket.data:
            return False
        return self._write(ticket.path, text)

    def _write(self, path: Path, text: str) -> bool:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(text)
                os.replace(tmp, path)
            except BaseException:
                with _quiet():
                    os.unlink(tmp)
                raise
            self._prune()
        except OSError:
            return False  # a read-only workspace: answers are computed every time
        return True

    def _prune(self) -> None:
        try:
            entries = [e for e in os.scandir(self.folder) if e.name.endswith(".json") and not e.name.startswith(".")]
        except OSError:
            return
        if len(entries) <= MAX_FILES:
            return
        dated = []
        for e in entries:
            with _quiet():
                dated.append((e.stat().st_mtime_ns, e.path))
        dated.sort()
        for _, path in dated[: len(dated) - MAX_FILES]:
            with _quiet():
                os.unlink(path)

    def clear(self) -> None:
        """Drop every stored answer (after an import; their keys are stale anyway)."""
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return
        for e in entries:
            if e.name.endswith(".json"):
                with _quiet():
                    os.unlink(e.path)

    # -- settings known to be valid --------------------------------------------------------
    def _settings_marker(self) -> Path:
        name = hashlib.sha256(f"{self.settings}:{code_fingerprint()}".encode()).hexdigest()
        return self.folder / f"settings-{name}.json"

    def settings_known(self) -> bool:
        """These settings bytes were validated by this code before (so opening the workspace
        may leave their validation to the first use of the settings)."""
        return self.enabled and self._settings_marker().exists()

    def mark_settings_known(self) -> None:
        if self.enabled and not self._settings_marker().exists():
            self._write(self._settings_marker(), "{}")


# Days and times (rows of engagement usage) are kept as {"$date": "2024-12-31"} /
# {"$datetime": ...} and read back as such; every other value is plain JSON.
def _encode(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _encode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if isinstance(v, datetime):
        return {"$datetime": v.isoformat()}
    if isinstance(v, date):
        return {"$date": v.isoformat()}
    return v


def _decode(v: Any) -> Any:
    if isinstance(v, dict):
        if len(v) == 1:
            if "$date" in v:
                return date.fromisoformat(v["$date"])
            if "$datetime" in v:
                return datetime.fromisoformat(v["$datetime"])
        return {k: _decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode(x) for x in v]
    return v


class _quiet:
    """Ignore an OSError (a file removed by another process meanwhile)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ, exc, tb) -> bool:
        return typ is not None and issubclass(typ, OSError)
