"""A small hand-built book and a minimal workspace stand-in for the playbook tests.

The book (as of 2024-06-30, all amounts EUR, one line per account unless said):

| account | what | MRR on 2024-05-31 / 2024-06-30 |
| --- | --- | --- |
| A1 Alpha (fr, enterprise, csm ana@cs.test) | paid since 2024-01-01, 1000/month, 10 seats, 3 active users in June; NPS 3 on 06-28 | 1000 / 1000 |
| A2 Beta (en) | first paid line 2024-06-27, 100/month; NPS 8 on 06-29 | 0 / 100 |
| A3 Gamma | 500 + add-on 200 ending 2024-06-15 (cancelled 06-01) | 700 / 500 |
| A4 Delta | 300 + add-on 100 cancelled 06-28, ends 07-31; tickets: May happy, June angry | 400 / 400 |
| A5 Epsilon | 200 since 01-01, last usage 2024-05-01; CSAT 2/5 on 06-27 | 200 / 200 |
| A6 Zeta | trial 2024-06-20 .. 2024-07-05 | 0 / 0 |
| A7 Eta | annual 1200 2023-08-01 .. 2024-08-01; NPS 10 on 06-25 | 100 / 100 |
| X1, X3, X4 | 50/month ending in June (churn) | 50 / 0 |
| X2 | 50/month ending 2024-05-10 (churn in May) | 0 / 0 |
| O1, O2 | first paid 2024-05-20, 80/month; O2 did `connect_api` on 06-01 | 80 / 80 |
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from retentio.config import Settings
from retentio.engine import open_engine
from retentio.model import ACCOUNT_ATTRIBUTES_TABLE, ENTITIES

AS_OF = date(2024, 6, 30)


def arrow(table: str, rows: list[dict]) -> pa.Table:
    if table == ACCOUNT_ATTRIBUTES_TABLE:
        schema = pa.schema([("account_id", pa.string()), ("attribute", pa.string()), ("value", pa.string())])
    else:
        schema = next(e for e in ENTITIES.values() if e.table == table).arrow_schema
    return pa.table({f.name: pa.array([r.get(f.name) for r in rows], type=f.type) for f in schema}, schema=schema)


def line(sid, acc, start, end=None, amount=100.0, period=1, trial=False, qty=None, canceled=None, plan="pro"):
    return {"subscription_id": sid, "account_id": acc, "plan": plan, "start_date": start, "end_date": end,
            "amount": amount, "billing_period_months": period, "currency": "EUR", "is_trial": trial,
            "quantity": qty, "kind": "recurring", "canceled_at": canceled}


def book_tables() -> dict[str, list[dict]]:
    d = date
    names = {"A1": "Alpha", "A2": "Beta", "A3": "Gamma", "A4": "Delta", "A5": "Epsilon", "A6": "Zeta", "A7": "Eta",
             "X1": "Xi one", "X2": "Xi two", "X3": "Xi three", "X4": "Xi four", "O1": "Omicron", "O2": "Omega"}
    accounts = [{"account_id": k, "name": v} for k, v in names.items()]
    attrs = [
        ("A1", "language", "fr"), ("A1", "contact_email", "contact@alpha.fr"), ("A1", "csm", "ana@cs.test"),
        ("A1", "size", "enterprise"),
        ("A2", "language", "en"), ("A2", "contact_email", "hello@beta.example"),
        ("A5", "language", "fr"), ("A5", "contact_email", "eps@epsilon.fr"), ("A5", "csm", "bo@cs.test"),
        ("A7", "language", "en"), ("A7", "contact_email", "eta@eta.example"), ("A7", "csm", "ana@cs.test"),
    ]
    subs = [
        line("s1", "A1", d(2024, 1, 1), amount=1000.0, qty=10),
        line("s2", "A2", d(2024, 6, 27), amount=100.0),
        line("s3", "A3", d(2024, 1, 1), amount=500.0),
        line("s3b", "A3", d(2024, 1, 1), d(2024, 6, 15), amount=200.0, canceled=d(2024, 6, 1), plan="addon"),
        line("s4", "A4", d(2024, 1, 1), amount=300.0),
        line("s4b", "A4", d(2024, 1, 1), d(2024, 7, 31), amount=100.0, canceled=d(2024, 6, 28), plan="addon"),
        line("s5", "A5", d(2024, 1, 1), amount=200.0),
        line("s6", "A6", d(2024, 6, 20), d(2024, 7, 5), amount=0.0, trial=True),
        line("s7", "A7", d(2023, 8, 1), d(2024, 8, 1), amount=1200.0, period=12, plan="annual"),
        line("x1", "X1", d(2024, 1, 1), d(2024, 6, 10), amount=50.0),
        line("x2", "X2", d(2024, 1, 1), d(2024, 5, 10), amount=50.0),
        line("x3", "X3", d(2024, 1, 1), d(2024, 6, 12), amount=50.0),
        line("x4", "X4", d(2024, 1, 1), d(2024, 6, 20), amount=50.0),
        line("o1", "O1", d(2024, 5, 20), amount=80.0),
        line("o2", "O2", d(2024, 5, 20), amount=80.0),
    ]
    usage = [{"account_id": "A1", "user_id": f"u{i}", "timestamp": datetime(2024, 6, 10 + i, 9), "event": "login"}
             for i in range(3)]
    usage += [{"account_id": "A5", "user_id": "e1", "timestamp": datetime(2024, 5, 1, 9), "event": "login"},
              {"account_id": "O2", "user_id": "o", "timestamp": datetime(2024, 6, 1, 9), "event": "connect_api"},
              {"account_id": "A2", "user_id": "b", "timestamp": datetime(2024, 6, 28, 9), "event": "login"}]
    surveys = [
        {"response_id": "r1", "account_id": "A1", "answered_at": datetime(2024, 6, 28, 10), "kind": "nps", "score": 3,
         "comment": "Trop de bugs"},
        {"response_id": "r2", "account_id": "A2", "answered_at": datetime(2024, 6, 29, 10), "kind": "nps", "score": 8},
        {"response_id": "r3", "account_id": "A7", "answered_at": datetime(2024, 6, 25, 10), "kind": "nps", "score": 10},
        {"response_id": "r4", "account_id": "A5", "answered_at": datetime(2024, 6, 27, 10), "kind": "csat", "score": 2, "scale": 5},
        {"response_id": "r5", "account_id": "A3", "answered_at": datetime(2024, 5, 1, 10), "kind": "nps", "score": 2},
    ]
    tickets = [
        {"ticket_id": "t1", "account_id": "A4", "created_at": datetime(2024, 5, 5, 9), "subject": "Thank you",
         "body": "Great product, excellent support, thank you, we love it."},
        {"ticket_id": "t2", "account_id": "A4", "created_at": datetime(2024, 6, 5, 9), "subject": "Broken again",
         "body": "Terrible. The export is broken, this is awful and unacceptable, very disappointed."},
    ]
    return {"accounts": accounts, "account_attributes": [{"account_id": a, "attribute": k, "value": v} for a, k, v in attrs],
            "subscriptions": subs, "usage": usage, "surveys": surveys, "tickets": tickets}


class FakeWorkspace:
    """What the playbook service functions use of a Workspace: path, settings, engine(),
    app_session(); health_scores is given by the test (absent = health not installed)."""

    def __init__(self, path: Path, url: str, tables: dict[str, list[dict]], health: dict | None = None):
        from retentio import store

        self.path, self.url = path, url
        self.settings = Settings()
        self.settings.engagement.onboarding_milestones = ["connect_api"]
        self.settings.playbooks.backoff_seconds = 0
        self._arrow = {t: arrow(t, tables.get(t, [])) for t in [e.table for e in ENTITIES.values()] + [ACCOUNT_ATTRIBUTES_TABLE]}
        self._engine = open_engine("polars", lambda name: self._arrow[name])
        self._health = health
        store.migrate(url)
        (path / "playbooks" / "templates").mkdir(parents=True, exist_ok=True)

    def engine(self, name=None):
        return self._engine

    def app_session(self):
        from retentio import store

        return store.session(self.url)

    def __getattr__(self, name):
        if name == "health_scores" and self._health is not None:
            h = self._health
            return lambda as_of=None: [{"account_id": a, "band": b, "score": s} for a, (b, s) in h.items()]
        if name.startswith("_") or name in ("health_scores", "churn_risk"):
            raise AttributeError(name)
        from retentio.capabilities import service_method

        fn = service_method(name)
        if fn is None:
            raise AttributeError(name)
        import functools

        return functools.partial(fn, self)

    def add_playbook(self, text: str, name: str = "pb.yaml") -> None:
        (self.path / "playbooks" / name).write_text(text, encoding="utf-8")

    def add_template(self, name: str, lang: str, text: str) -> None:
        (self.path / "playbooks" / "templates" / f"{name}.{lang}.txt").write_text(text, encoding="utf-8")


PG_HOST, PG_PORT = os.environ.get("RETENTIO_TEST_PG_HOST", "127.0.0.1"), int(os.environ.get("RETENTIO_TEST_PG_PORT", "5432"))


def _pg(database: str) -> str:
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{database}"


@pytest.fixture
def pg_url():
    try:
        socket.create_connection((PG_HOST, PG_PORT), timeout=0.5).close()
    except OSError:
        pytest.skip(f"PostgreSQL tests skipped: no server answers on {PG_HOST}:{PG_PORT}")
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from retentio import store

    name = f"retentio_pb_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_pg("test"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as con:
        con.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg(name)
    finally:
        store.dispose(_pg(name))
        with admin.connect() as con:
            con.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def make_ws(tmp_path):
    """``make_ws(health=None, url=None, tables=None)`` -> a FakeWorkspace over the book."""
    from retentio import store

    urls = []

    def factory(*, health=None, url=None, tables=None):
        url = url or f"sqlite:///{tmp_path / f'app{len(urls)}.sqlite'}"
        urls.append(url)
        root = tmp_path / f"ws{len(urls)}"
        root.mkdir()
        return FakeWorkspace(root, url, tables or book_tables(), health)

    yield factory
    for u in urls:
        store.dispose(u)


@pytest.fixture
def ws(make_ws):
    return make_ws()
