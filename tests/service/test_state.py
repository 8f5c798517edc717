"""State a long-running server can live with (issue 10): thread safety and a bounded cache."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from retentio.service import Workspace


def _dump(x) -> str:
    return json.dumps(x.to_dict() if hasattr(x, "to_dict") else x, sort_keys=True, default=str)


@pytest.mark.slow
@pytest.mark.parametrize("figure_cache", [False, True], ids=["computed", "figure-cache"])
def test_eight_threads_get_the_single_thread_results(demo_workspace, figure_cache, monkeypatch):
    # computed: the engines under the workspace's lock; figure-cache: answers read and
    # written by eight threads (retentio.answers)
    if not figure_cache:
        monkeypatch.setenv("RETENTIO_NO_CACHE", "1")
    calls = [("metrics", "2024-10"), ("metrics", "2024-Q4"), ("engagement", "usage"), ("engagement", "lifecycle"),
             ("metrics", "2024-11"), ("engagement", "ces"), ("metrics", "2024"), ("engagement", "adoption")]

    def run(ws: Workspace, call):
        kind, arg = call
        if kind == "metrics":
            return _dump(ws.metrics(arg, as_of="2024-12-31"))
        return _dump(ws.engagement(arg, period="2024-12", as_of="2024-12-31"))

    single = Workspace(demo_workspace)
    expected = [run(single, c) for c in calls]
    single.close()

    shared = Workspace(demo_workspace)
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda c: run(shared, c), calls * 3))
    assert got == expected * 3


@pytest.mark.slow
def test_the_book_cache_stays_bounded(demo_workspace, monkeypatch):
    monkeypatch.setenv("RETENTIO_NO_CACHE", "1")  # every call computes (no answer from retentio.answers)
    ws = Workspace(demo_workspace)
    eng = ws.engine("duckdb")
    months = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)]
    filters = [None, {"size": "SMB"}, {"size": "enterprise"}, {"industry": "retail"}, {"touch": "high"}]
    calls = [(m, f) for f in filters for m in months][:100]
    assert len(calls) == 100
    for period, f in calls:
        ws.metrics(period, filters=f, as_of="2024-12-31")
        assert eng.cache_size() <= eng.CACHE_SIZE
    # each cached book holds a few materialised tables; nothing else is left behind
    assert eng.materialized_tables() <= eng.CACHE_SIZE * 3
    # an evicted book is rebuilt on demand and gives the same figures
    first = ws.metrics(months[0], as_of="2024-12-31")
    assert first == Workspace(demo_workspace).metrics(months[0], as_of="2024-12-31")


def test_the_cache_releases_each_value_with_its_own_tables():
    # Values of different kinds share an engine's cache (metrics books holding materialised
    # tables, plain dicts of usage): an evicted value is released by the ``tables`` function
    # it was cached with, not by that of the value whose arrival evicts it.
    from retentio.engine.base import Engine

    class Recording(Engine):
        name = "recording"
        table = from_arrow = materialize = None  # type: ignore[assignment]

        def __init__(self):
            super().__init__(lambda _name: None)
            self.released: list[object] = []

        def release(self, handles):
            self.released.extend(handles)

    Recording.__abstractmethods__ = frozenset()
    eng = Recording()
    eng.cached("book", lambda: {"tables": ["t1"]}, lambda book: book["tables"])
    for k in range(eng.CACHE_SIZE):  # plain values with nothing to release push the book out
        eng.cached(("usage", k), lambda: [("a", 1)], lambda _usage: [])
    assert eng.released == ["t1"]
    assert eng.cache_size() == eng.CACHE_SIZE
