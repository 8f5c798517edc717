"""Each trigger on the hand-built book of pb_book.py, as of 2024-06-30 unless said."""

from __future__ import annotations

from datetime import date

import pytest

from retentio.playbooks.sources import Inputs, risk_level
from retentio.playbooks.spec import parse_playbook
from retentio.playbooks.triggers import Unavailable, evaluate

from pb_book import AS_OF


def hits(ws, trigger: dict, as_of: date = AS_OF, health=None, risk=None):
    pb = parse_playbook({"name": "t", "trigger": trigger, "actions": [{"type": "add_tag", "tag": "x"}]}, "t.yaml")
    inp = Inputs(ws.engine(), ws.settings, as_of, health=health, risk=risk)
    return evaluate(pb.trigger, inp)


def test_segment_by_attribute_and_by_touch_tier(ws):
    assert set(hits(ws, {"segment": {"attribute": "size", "in": "enterprise"}})) == {"A1"}
    # touch tiers (defaults high >= 2000, low >= 300): A1 1000 and A3 500 and A4 400 are low touch on 06-30
    assert set(hits(ws, {"segment": {"attribute": "touch_tier", "in": ["low"]}})) == {"A1", "A3", "A4"}


def test_health_band_reads_the_health_scores_and_is_unavailable_without_them(ws):
    health = {"A1": {"band": "red", "score": 30}, "A2": {"band": "yellow", "score": 55}, "A7": {"band": "thriving", "score": 104}}
    h = hits(ws, {"health_band": {"band": "red"}}, health=health)
    assert set(h) == {"A1"} and h["A1"].occurrence == "band=red@2024-06-30"
    assert set(hits(ws, {"health_band": {"band": ["yellow", "thriving"]}}, health=health)) == {"A2", "A7"}
    with pytest.raises(Unavailable):
        hits(ws, {"health_band": {"band": "red"}})


def test_risk_level(ws):
    risk = {"A1": {"risk": 0.62, "level": "high"}, "A2": {"risk": 0.05, "level": "low"}, "A3": {"risk": 0.3, "level": "medium"}}
    assert set(hits(ws, {"risk_level": {"level": "high"}}, risk=risk)) == {"A1"}
    assert set(hits(ws, {"risk_level": {"above": 0.25}}, risk=risk)) == {"A1", "A3"}
    with pytest.raises(Unavailable):
        hits(ws, {"risk_level": {"level": "high"}})


def test_figure_threshold_and_change_over_days(ws):
    # MRR < 90 on 06-30: A2 has 100, O1/O2 80 -> O1, O2 (accounts at 0 are below too: A6, X1-X4)
    h = hits(ws, {"figure": {"name": "mrr", "below": 90}})
    assert {"O1", "O2"} <= set(h) and "A2" not in h
    # MRR contraction over 30 days: A3 700 on 05-31 -> 500 on 06-30 = -28.6 % < -10 %; X1/X3/X4 go
    # 50 -> 0 = -100 %; A4 keeps 400 (its add-on is cancelled but still billed) -> not hit.
    h = hits(ws, {"figure": {"name": "mrr", "change_below": "-10%", "over_days": 30}})
    assert set(h) == {"A3", "X1", "X3", "X4"}
    assert h["A3"].data["mrr_change"] == pytest.approx((500 - 700) / 700)
    # active users vs seats: A1 has 3 active users in the 30 days for 10 seats = 0.3 < 0.5
    assert set(hits(ws, {"figure": {"name": "active_users_per_seat", "below": 0.5}})) == {"A1"}


def test_usage_drop_over_n_days(ws):
    # A1: 3 events in the 30 days ending 06-30, 0 in the 30 days ending 05-31 -> no base, no change;
    # as of 07-31 nothing in July vs 3 in June: -100 %
    assert hits(ws, {"figure": {"name": "usage_events", "change_below": "-50%", "over_days": 31}}, as_of=date(2024, 7, 31)).keys() >= {"A1"}
    assert "A1" not in hits(ws, {"figure": {"name": "usage_events", "change_below": "-50%", "over_days": 30}})


def test_portfolio_churn_rate_spike(ws):
    # May: S = 9 customers on 04-30 (A1 A3 A4 A5 A7 X1 X2 X3 X4), X2 churns -> 1/9 = 0.111
    # June: S = 10 on 05-31 (the same less X2, plus O1 O2), X1 X3 X4 churn -> 3/10 = 0.3
    # rise = 0.3 / 0.111 - 1 = 1.7 > 0.5
    h = hits(ws, {"portfolio": {"figure": "customer_churn_rate", "rise_above": "50%"}})
    assert set(h) == {"*"}
    assert h["*"].data["value"] == pytest.approx(0.3) and h["*"].data["previous"] == pytest.approx(1 / 9)
    assert h["*"].occurrence == "customer_churn_rate=2024-06"
    assert hits(ws, {"portfolio": {"figure": "customer_churn_rate", "rise_above": "200%"}}) == {}


def test_new_customer(ws):
    h = hits(ws, {"new_customer": {"within_days": 7}})  # first paid in 06-24 .. 06-30: A2 (06-27)
    assert set(h) == {"A2"} and h["A2"].occurrence == "first-paid=2024-06-27"
    assert set(hits(ws, {"new_customer": {"within_days": 3}})) == set()  # 06-28 .. 06-30


def test_trial_ending_and_renewal(ws):
    h = hits(ws, {"trial_ending": {"in_days": 7}})  # A6's trial ends 07-05, 5 days after 06-30
    assert set(h) == {"A6"} and h["A6"].data["days_left"] == 5
    assert set(hits(ws, {"renewal": {"in_days": 60}})) == {"A7"}  # annual line ends 08-01 (32 days)
    assert set(hits(ws, {"renewal": {"in_days": 30}})) == set()
    # A4's add-on ends 07-31 but is known as cancelled on 06-28: not a renewal
    assert "A4" not in hits(ws, {"renewal": {"in_days": 60}})


def test_onboarding_milestone_missed(ws):
    # O1, O2 first paid 05-20; deadline 05-20 + 30 = 06-19 is in the last 30 days; O2 did connect_api
    h = hits(ws, {"onboarding_missed": {"within_days": 30}})
    assert set(h) == {"O1"} and h["O1"].data["missing_milestones"] == ["connect_api"]


def test_no_activity_for_n_days(ws):
    h = hits(ws, {"inactive": {"days": 30}})
    # A5's last event 05-01 (60 days); A3, A4, A7, O1 customers never active for more than 30 days
    assert {"A5", "A3", "A4", "A7", "O1"} == set(h)
    assert h["A5"].data["days_inactive"] == 60 and "A1" not in h and "O2" not in h


def test_survey_answers(ws):
    assert set(hits(ws, {"survey": {"answer": "detractor"}})) == {"A1"}  # r5 (A3, 05-01) is out of the window
    assert hits(ws, {"survey": {"answer": "detractor"}})["A1"].occurrence == "response=r1"
    assert set(hits(ws, {"survey": {"answer": "passive"}})) == {"A2"}
    assert set(hits(ws, {"survey": {"answer": "promoter"}})) == {"A7"}
    assert set(hits(ws, {"survey": {"answer": "low_csat"}})) == {"A5"}  # 2/5 < 4
    assert set(hits(ws, {"survey": {"answer": "detractor", "within_days": 61}})) == {"A1", "A3"}


def test_sentiment_drop(ws):
    # A4: happy ticket in May, angry in June: the June mean falls by more than 0.3
    h = hits(ws, {"sentiment_drop": {}})
    assert set(h) == {"A4"} and h["A4"].occurrence == "sentiment=2024-06"


def test_add_on_cancelled(ws):
    h = hits(ws, {"line_canceled": {"within_days": 7}})  # s4b cancelled 06-28, A4 keeps s4
    assert set(h) == {"A4"} and h["A4"].occurrence == "canceled=s4b"
    assert set(hits(ws, {"line_canceled": {"within_days": 30}})) == {"A3", "A4"}  # s3b cancelled 06-01


def test_schedule(ws):
    assert hits(ws, {"schedule": {"every": "monday", "scope": "portfolio"}}) == {}  # 06-30 is a Sunday
    assert set(hits(ws, {"schedule": {"every": "monday", "scope": "portfolio"}}, as_of=date(2024, 7, 1))) == {"*"}
    assert set(hits(ws, {"schedule": {"every": "month_end", "scope": "portfolio"}})) == {"*"}
    assert len(hits(ws, {"schedule": {"every": "month_end"}})) == 13  # every account


def test_all_and_any(ws):
    both = hits(ws, {"all": [{"survey": {"answer": "detractor"}}, {"segment": {"attribute": "size", "in": "enterprise"}}]})
    assert set(both) == {"A1"} and both["A1"].occurrence == "response=r1+size=enterprise@2024-06-30"
    either = hits(ws, {"any": [{"survey": {"answer": "promoter"}}, {"survey": {"answer": "passive"}}]})
    assert set(either) == {"A2", "A7"}


def test_only_data_known_on_as_of(ws):
    # as of 06-27 the NPS 3 of 06-28 is not known yet, and A4's add-on cancellation (06-28) neither
    assert hits(ws, {"survey": {"answer": "detractor"}}, as_of=date(2024, 6, 27)) == {}
    assert hits(ws, {"line_canceled": {"within_days": 7}}, as_of=date(2024, 6, 27)) == {}
    assert "A4" in hits(ws, {"renewal": {"in_days": 60}}, as_of=date(2024, 6, 27))


def test_risk_levels_from_probabilities(ws):
    # defaults: high >= 0.5, medium >= 0.2, else low
    assert [risk_level(ws.settings, p) for p in (0.5, 0.49, 0.2, 0.19, None)] == ["high", "medium", "medium", "low", None]
