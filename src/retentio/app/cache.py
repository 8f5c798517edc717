"""A bounded cache of figure results keyed by the question.

The key is (workspace folder, data version, method, arguments, as_of).  The data version is
the figure cache's data fingerprint (``retentio.answers.data_fingerprint``: size and
modification time of the analytics file and of its write-ahead log), so that an import made
by anyone (the web app, the API, the CLI in another process) invalidates every cached figure
of the workspace without a message between processes; :func:`invalidate` also drops them at
once after an import made through the application.  Bounded: least recently used entries go
first.  This is the in-memory layer in front of the persistent answers of
``retentio.answers``, which ``ws.metrics`` and the other cached service methods read first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

MAX_ENTRIES = 256


def data_version(ws) -> tuple:
    from retentio.answers import data_fingerprint

    return tuple(tuple(x) if x else None for x in data_fingerprint(ws.path))


class FigureCache:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._data: OrderedDict[tuple, Any] = OrderedDict()
        self._lock = threading.Lock()
        # One computation at a time per workspace: the engines' connections are not shared
        # across threads, and two requests asking the same question compute it once.
        self._compute_locks: dict[str, threading.RLock] = {}
        self.hits = 0
        self.misses = 0

    def compute_lock(self, ws) -> threading.RLock:
        key = str(ws.path)
        with self._lock:
            lock = self._compute_locks.get(key)
            if lock is None:
                lock = self._compute_locks[key] = threading.RLock()
            return lock

    def key(self, ws, method: str, args: dict[str, Any], as_of: Any = None) -> tuple:
        frozen = tuple(sorted((k, _freeze(v)) for k, v in args.items()))
        return (str(ws.path), data_version(ws), method, frozen, str(as_of) if as_of is not None else None)

    def get_or_compute(self, ws, method: str, args: dict[str, Any], compute: Callable[[], Any], as_of: Any = None) -> Any:
        key = self.key(ws, method, args, as_of)
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
        with self.compute_lock(ws):
            with self._lock:  # computed by another thread while this one waited
                if key in self._data:
                    self.hits += 1
                    return self._data[key]
            value = compute()
            with self._lock:
                self.misses += 1
                self._data[key] = value
                self._data.move_to_end(key)
                while len(self._data) > self.max_entries:
                    self._data.popitem(last=False)
            return value

    def invalidate(self, ws=None) -> None:
        with self._lock:
            if ws is None:
                self._data.clear()
                return
            root = str(ws.path)
            for k in [k for k in self._data if k[0] == root]:
                del self._data[k]

    def __len__(self) -> int:
        return len(self._data)


def _freeze(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple, set)):
        return tuple(_freeze(x) for x in v)
    return v


CACHE = FigureCache()
