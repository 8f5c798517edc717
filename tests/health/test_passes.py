"""Health scores are computed in passes of a bounded number of account-days (memory of a large
book), and the passes give exactly what one pass gives."""

from __future__ import annotations

from datetime import date

import pytest

import retentio.health.service as hs
from retentio.service import Workspace
from tests.health.test_backtest import TICKET_CARD, line, make_ws


def test_day_passes_follow_the_customers_of_the_last_day(tmp_path, monkeypatch):
    # By hand: on 2023-06-30 accounts A and B have an active paid line (C ended on
    # 2023-06-01, D's line is a trial): 2 customers.  A budget of 5 account-days gives
    # 5 // 2 = 2 days a pass; 1 account-day still gives one day a pass.
    subs = [line("A", date(2023, 1, 1)), line("B", date(2023, 3, 1), date(2024, 1, 1)),
            line("C", date(2023, 1, 1), date(2023, 6, 1)), dict(line("D", date(2023, 1, 1)), is_trial=True)]
    ws = make_ws(tmp_path / "ws", {"accounts": [{"account_id": a, "name": a} for a in "ABCD"], "subscriptions": subs},
                 {"tickets": TICKET_CARD})
    days = [date(2023, 6, 30), date(2023, 1, 31), date(2023, 3, 31), date(2023, 2, 28), date(2023, 4, 30)]
    monkeypatch.setattr(hs, "ACCOUNT_DAYS_PER_PASS", 5)
    assert hs.day_passes(ws, days) == [[date(2023, 1, 31), date(2023, 2, 28)], [date(2023, 3, 31), date(2023, 4, 30)],
                                       [date(2023, 6, 30)]]
    monkeypatch.setattr(hs, "ACCOUNT_DAYS_PER_PASS", 1)
    assert hs.day_passes(ws, days) == [[d] for d in sorted(days)]
    assert hs.day_passes(ws, []) == []


@pytest.fixture
def demo(demo_workspace):
    ws = Workspace(demo_workspace)
    yield ws
    ws.close()


def test_one_day_a_pass_scores_exactly_as_one_pass(demo, monkeypatch):
    """The demo book (tickets and surveys with texts, usage, pulses): today's scores, their
    1- and 3-month trends and the sentiment of the texts shared between passes are the same
    whether the three days are featurized together or one at a time."""
    import retentio.features as F
    import retentio.satisfaction.sentiment as S

    scored: list[int] = []
    score_texts = S.score_texts

    def count_texts(texts, *a, **kw):
        scored.append(len(texts))
        return score_texts(texts, *a, **kw)

    monkeypatch.setattr(S, "score_texts", count_texts)
    together = demo.health_scores(as_of="2024-12-31")
    once = list(scored)
    calls, scored[:] = [], []
    account_features = F.account_features

    def spy(engine, settings, days, **kw):
        calls.append((list(days), kw.get("text_scores") is not None))
        return account_features(engine, settings, days, **kw)

    monkeypatch.setattr(F, "account_features", spy)
    monkeypatch.setattr(hs, "ACCOUNT_DAYS_PER_PASS", 1)
    apart = demo.health_scores(as_of="2024-12-31")
    assert [c[0] for c in calls] == [[date(2024, 9, 30)], [date(2024, 11, 30)], [date(2024, 12, 31)]]
    assert all(shared for _days, shared in calls)
    assert apart == together
    assert len(together) > 100 and sum(e["trend_3m"] is not None for e in together) > 100
    # the windows (June 2 - Sep 30, Sep 2 - Nov 30, Oct 3 - Dec 31) overlap: each distinct
    # text of their union is scored once in both ways, none twice
    assert len(once) == 1 and len(scored) == 3 and sum(scored) == once[0] > 0
