"""Health models, missing data, bands, assignment, pulse expiry: hand-computed."""

from __future__ import annotations

from datetime import date

import pytest

from retentio.config import HealthSettings
from retentio.errors import ConfigError
from retentio.health.scorecard import assign, parse_scorecard
from retentio.health.scoring import band_of, next_band_change, peer_percentiles, score_account
from retentio.health.service import pulse_on

HS = HealthSettings()


def card(doc: dict):
    return parse_scorecard(doc, "test.yaml")


SEED_002 = {
    "name": "seed002", "model": "weighted",
    "groups": [
        {"name": "Usage", "weight": 40, "measures": [{"name": "usage", "feature": "u", "linear": [0, 100]}]},
        {"name": "NPS", "weight": 10, "measures": [{"name": "nps", "feature": "nps", "linear": [0, 100]}]},
        {"name": "Tickets", "weight": 20, "measures": [{"name": "tickets", "feature": "tickets", "direction": "down",
                                                        "thresholds": [[0, 100], [1, 70], [2, 40]], "below": 0}]},
        {"name": "Billing", "weight": 30, "measures": [{"name": "billing", "feature": "billing", "linear": [0, 100]}]},
    ],
}


def test_weighted_seed_002_heavy_usage_three_tickets_is_yellow():
    c = card(SEED_002)
    # usage 100 (green), NPS 60, 3 tickets -> support 0 (red), billing 50:
    # 0.4 x 100 + 0.1 x 60 + 0.2 x 0 + 0.3 x 50 = 40 + 6 + 0 + 15 = 61 -> yellow
    r = score_account(c, {"u": 100, "nps": 60, "tickets": 3, "billing": 50}, HS)
    assert r.score == pytest.approx(61.0) and r.band == "yellow"
    contrib = {m.name: m.contribution for m in r.measures}
    assert contrib == pytest.approx({"usage": 40.0, "nps": 6.0, "tickets": 0.0, "billing": 15.0})
    # 1 ticket scores 70, 2 score 40, 0 score 100 (direction down: smallest threshold >= value)
    assert [c.measures[2].score(t) for t in (0, 1, 2, 3)] == [100, 70, 40, 0]
    # smallest change to green (70.5, gap 9.5): billing alone needs 50 + 9.5 / 0.3 = 81.67 (score
    # change 31.7); tickets would need 0 + 9.5 / 0.2 = 47.5 (change 47.5); usage and NPS cannot.
    nb = next_band_change(c, r, HS)
    assert nb["next_band"] == "green" and nb["measure"] == "billing"
    assert nb["to"] == pytest.approx(50 + 9.5 / 0.3)


def test_points_model_with_the_three_caps_of_seed_003():
    c = card({"name": "seed003", "model": "points", "groups": [{"name": "all", "measures": [
        {"name": "regular_usage", "feature": "hours_per_day", "linear": [0, 3], "points": 20},
        {"name": "complex", "feature": "complex_features", "per": 3, "cap": 30},
        {"name": "referrals", "feature": "referrals", "per": 5, "cap": 15},
    ]}]})
    # 1.5 h a day -> 20 x 1.5 / 3 = 10; 12 complex features x 3 = 36, capped 30; 2 referrals x 5 = 10 -> 50
    r = score_account(c, {"hours_per_day": 1.5, "complex_features": 12, "referrals": 2}, HS)
    assert r.score == pytest.approx(50.0) and r.band == "yellow"
    # 4 h a day -> capped 20; 4 features -> 12; 5 referrals -> 25 capped 15: 47
    assert score_account(c, {"hours_per_day": 4, "complex_features": 4, "referrals": 5}, HS).score == pytest.approx(47.0)
    # 3 h a day gets the full 20 (seed 003's example)
    assert score_account(c, {"hours_per_day": 3, "complex_features": 0, "referrals": 0}, HS).score == pytest.approx(20.0)


def test_action_values():
    c = card({"name": "av", "model": "action_values", "groups": [{"name": "all", "measures": [
        {"name": "logins", "feature": "logins", "impact": 1},
        {"name": "shares", "feature": "shares", "impact": 5},
    ]}]})
    # 20 logins x 1 + 4 shares x 5 = 40 -> red (40 is the top of red)
    r = score_account(c, {"logins": 20, "shares": 4}, HS)
    assert r.score == 40 and r.band == "red"
    # 30 x 1 + 20 x 5 = 130 -> thriving
    assert score_account(c, {"logins": 30, "shares": 20}, HS).band == "thriving"


def test_worst_of():
    c = card({"name": "w", "model": "worst_of", "groups": [{"name": "all", "measures": [
        {"name": "a", "feature": "a", "linear": [0, 100]}, {"name": "b", "feature": "b", "linear": [0, 100]},
        {"name": "c", "feature": "c", "linear": [0, 100]}]}]})
    r = score_account(c, {"a": 80, "b": 35, "c": 90}, HS)
    assert r.score == 35 and r.band == "red"
    nb = next_band_change(c, r, HS)  # only b is below yellow's floor 40.5
    assert [x["measure"] for x in nb["change_all"]] == ["b"] and nb["change_all"][0]["to"] == pytest.approx(40.5)


def test_peer_percentile_within_segment():
    c = card({"name": "p", "model": "peer_percentile", "peer_attribute": "segment", "groups": [
        {"name": "all", "measures": [{"name": "a", "feature": "a", "linear": [0, 100]}]}]})
    rows = [{"a": 10, "segment": "smb"}, {"a": 20, "segment": "smb"}, {"a": 30, "segment": "smb"},
            {"a": 99, "segment": "ent"}]
    res = [score_account(c, r, HS) for r in rows]
    peer_percentiles(res, [r["segment"] for r in rows], HS)
    # smb: 10 is below both others -> 0; 20 above one of two -> 50; 30 -> 100; a lone ent account -> 50
    assert [r.score for r in res] == [0.0, 50.0, 100.0, 50.0]
    assert [r.band for r in res] == ["red", "yellow", "green", "yellow"]


def two_group_card():
    return card({"name": "m", "groups": [
        {"name": "A", "weight": 50, "measures": [{"name": "m1", "feature": "m1", "linear": [0, 100]},
                                                 {"name": "m2", "feature": "m2", "linear": [0, 100]}]},
        {"name": "B", "weight": 50, "measures": [{"name": "m3", "feature": "m3", "linear": [0, 100]}]}]})


def test_missing_data_redistributed_or_valued():
    c = two_group_card()
    # m2 missing: group A = m1 = 80; B = 40 -> 0.5 x 80 + 0.5 x 40 = 60; m1 carries A's whole half
    r = score_account(c, {"m1": 80, "m2": None, "m3": 40}, HS)
    assert r.score == pytest.approx(60.0) and r.missing == ["m2"]
    assert {m.name: m.weight for m in r.measures} == pytest.approx({"m1": 0.5, "m2": 0.0, "m3": 0.5})
    # group B without data: its weight goes to A -> 80 (A = m1 and m2 = (80 + 60) / 2 = 70 here)
    assert score_account(c, {"m1": 80, "m2": 60, "m3": None}, HS).score == pytest.approx(70.0)
    # policy "value" 50: A = (80 + 50) / 2 = 65; 0.5 x 65 + 0.5 x 40 = 52.5
    hs = HealthSettings(missing_policy="value", missing_value=50)
    r = score_account(c, {"m1": 80, "m2": None, "m3": 40}, hs)
    assert r.score == pytest.approx(52.5) and r.missing == ["m2"]


def test_too_little_data_is_not_scored_never_green():
    c = two_group_card()
    r = score_account(c, {"m1": 100, "m2": None, "m3": None}, HS)  # 1 measure of 3 < min_measures 2
    assert r.score is None and r.band is None and r.missing == ["m2", "m3"] and "too little data" in r.reason


@pytest.mark.parametrize("score,band", [(0, "red"), (40, "red"), (40.4, "red"), (40.5, "yellow"), (41, "yellow"),
                                        (70, "yellow"), (71, "green"), (100, "green"), (100.4, "green"),
                                        (101, "thriving"), (None, None)])
def test_band_edges(score, band):
    assert band_of(score, HS) == band


def test_scorecard_assignment():
    m = [{"name": "x", "feature": "x", "linear": [0, 1]}]
    cards = [card({"name": "default", "default": True, "groups": [{"name": "g", "measures": m}]}),
             card({"name": "enterprise", "criteria": {"segment": ["enterprise"]}, "groups": [{"name": "g", "measures": m}]}),
             card({"name": "high-touch", "priority": 50, "criteria": {"touch": "high"}, "groups": [{"name": "g", "measures": m}]}),
             card({"name": "big", "criteria": {"mrr": {"min": 1000}}, "priority": 200, "groups": [{"name": "g", "measures": m}]})]
    assert assign(cards, {"segment": "enterprise", "touch": "high"}).name == "high-touch"  # priority 50 first
    assert assign(cards, {"segment": "enterprise", "touch": "low"}).name == "enterprise"
    assert assign(cards, {"segment": "smb", "touch": "low", "mrr": 5000}).name == "big"
    assert assign(cards, {"segment": "smb", "touch": "low", "mrr": 10}).name == "default"


def test_pulse_expiry():
    pulses = [("A", date(2024, 1, 1), 2, 1), ("A", date(2024, 2, 1), 4, 2)]
    # the later pulse (2024-02-01, score 4) counts for 90 days: to 2024-04-30 (89 days), not 2024-05-01 (90)
    assert pulse_on(pulses, "A", date(2024, 4, 30), 90) == 4
    assert pulse_on(pulses, "A", date(2024, 5, 1), 90) is None
    assert pulse_on(pulses, "A", date(2024, 1, 15), 90) == 2  # before the second pulse
    assert pulse_on(pulses, "A", date(2023, 12, 31), 90) is None  # before any
    assert pulse_on(pulses, "B", date(2024, 1, 15), 90) is None


@pytest.mark.parametrize("doc,needle", [
    ({"name": "x", "model": "magic", "groups": []}, "model: 'magic' is not a model"),
    ({"name": "x", "colour": 1, "groups": []}, "colour: unknown key"),
    ({"name": "x", "groups": [{"name": "g", "measures": [{"feature": "a"}]}]}, "needs a scale"),
    ({"name": "x", "groups": [{"name": "g", "measures": [{"feature": "a", "linear": [1]}]}]}, "linear: must be [lo, hi]"),
    ({"name": "x", "groups": [{"name": "g", "measures": [{"feature": "a", "direction": "sideways", "linear": [0, 1]}]}]},
     "direction"),
    ({"name": "x", "model": "points", "groups": [{"name": "g", "measures": [{"feature": "a", "linear": [0, 1]}]}]},
     "points measure needs"),
])
def test_yaml_validation_names_file_and_key(doc, needle):
    with pytest.raises(ConfigError) as e:
        parse_scorecard(doc, "health/x.yaml")
    assert "health/x.yaml" in e.value.message and needle in e.value.message
    assert "docs/health.md" in e.value.hint


def test_unknown_feature_is_refused_with_the_allowed_ones():
    with pytest.raises(ConfigError) as e:
        parse_scorecard({"name": "x", "groups": [{"name": "g", "measures": [{"feature": "mrr_chnge", "linear": [0, 1]}]}]},
                        "health/x.yaml", {"mrr", "mrr_change_1m"})
    assert "unknown figure 'mrr_chnge'" in e.value.message and "mrr_change_1m" in e.value.hint


def test_next_band_single_or_several_measures():
    c = two_group_card()  # effective weights: m1 0.25, m2 0.25, m3 0.5
    # m1 = m2 = 0, m3 = 40: score 0.5 x 40 = 20 (red); yellow starts at 40.5: gap 20.5.
    # m3 needs 40 + 20.5 / 0.5 = 81 (a rise of 41); m1 needs 0 + 20.5 / 0.25 = 82: m3 wins.
    r = score_account(c, {"m1": 0, "m2": 0, "m3": 40}, HS)
    nb = next_band_change(c, r, HS)
    assert nb["measure"] == "m3" and nb["to"] == pytest.approx(81.0)
    # All at 0, asking for green (70.5): m3 adds at most 50, m1 or m2 at most 25 each: no single
    # measure suffices; m3 to 100 (+50), then m1 by the remaining 20.5 / 0.25 = 82.
    hs = HealthSettings(bands={"red_max": 0, "yellow_max": 70, "green_max": 100})
    r = score_account(c, {"m1": 0, "m2": 0, "m3": 0}, hs)
    r.band = "yellow"  # score 0 is red here; pretend yellow to ask for the way to green
    nb = next_band_change(c, r, hs)
    assert nb["measure"] is None
    assert [(x["measure"], x["to"]) for x in nb["change_all"]] == [("m3", 100.0), ("m1", pytest.approx(82.0))]


def test_unknown_criterion_is_refused():
    with pytest.raises(ConfigError) as e:
        parse_scorecard({"name": "x", "criteria": {"segmnt": ["smb"]},
                         "groups": [{"name": "g", "measures": [{"feature": "mrr", "linear": [0, 1]}]}]},
                        "health/x.yaml", {"mrr", "segment"})
    assert "criteria.segmnt: unknown figure" in e.value.message and "health.attributes" in e.value.hint


def test_peer_percentiles_equal_the_counting_definition_with_ties():
    """The percentile is 100 x (peers with a lower score + half the other peers with the same
    score) / (peers - 1), counted here one pair at a time on 300 accounts with many ties."""
    import random

    from retentio.health.scoring import Result

    rng = random.Random(7)
    scores = [float(rng.randint(0, 20)) for _ in range(300)]
    peers = [rng.choice(["smb", "mid", "ent"]) for _ in scores]
    res = [Result("p", "peer_percentile", s, None, [], {}) for s in scores]
    peer_percentiles(res, peers, HS)
    for r, s, p in zip(res, scores, peers):
        group = [t for t, q in zip(scores, peers) if q == p]
        lower = sum(t < s for t in group)
        same = sum(t == s for t in group) - 1
        assert r.score == 100.0 * (lower + 0.5 * same) / (len(group) - 1)
