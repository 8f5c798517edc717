"""NPS and CSAT: hand-computed, on every engine."""

from datetime import datetime

import pytest

from retentio.config import Settings
from retentio.errors import DataError
from retentio.metrics.periods import parse_period
from retentio.satisfaction import csat, nps
from retentio.satisfaction.registry import nps_score as nps_value
from retentio.satisfaction.surveys import nps_benchmark


def ans(rid, acc, score, kind="nps", scale=None, when=datetime(2024, 4, 10, 12)):
    return {"response_id": rid, "account_id": acc, "answered_at": when, "kind": kind, "score": score, "scale": scale}


def test_nps_value_and_benchmark():
    # scores 10, 9, 9, 8, 7, 6, 3, 0, 10, 5: promoters 4 (10, 9, 9, 10), passives 2, detractors 4 -> 40 % - 40 % = 0
    scores = [10, 9, 9, 8, 7, 6, 3, 0, 10, 5]
    p = sum(s >= 9 for s in scores)
    d = sum(s <= 6 for s in scores)
    assert (p, d) == (4, 4) and nps_value(p, d, 10) == 0.0
    assert nps_value(10, 0, 10) == 100.0 and nps_value(0, 3, 3) == -100.0
    assert [nps_benchmark(v) for v in (-5, 0, 29.9, 30, 49, 50, 100)] == [
        "alarm", "watch", "watch", "good", "good", "best", "best"]


def test_nps_and_csat_by_segment_on_engines(make_engine):
    surveys = [
        # account A (segment smb): 9, 10, 6 -> 2 promoters, 1 detractor of 3 -> NPS 100 * (2 - 1) / 3 = 33.3 (good)
        ans("r1", "A", 9), ans("r2", "A", 10), ans("r3", "A", 6),
        # account B (segment ent): 7, 8, 0, 2 -> 0 promoters, 2 detractors of 4 -> NPS -50 (alarm)
        ans("r4", "B", 7), ans("r5", "B", 8), ans("r6", "B", 0), ans("r7", "B", 2),
        # May answer, outside the April period
        ans("r8", "B", 10, when=datetime(2024, 5, 1, 0, 0, 1)),
        # CSAT: scale 5: 4, 5, 3 -> 2 positive; scale 10: 7, 6 -> 1 positive -> 3 / 5 = 60 %
        ans("c1", "A", 4, "csat", 5), ans("c2", "A", 5, "csat", 5), ans("c3", "B", 3, "csat", 5),
        ans("c4", "B", 7, "csat", 10), ans("c5", "B", 6, "csat", 10),
    ]
    attrs = [{"account_id": "A", "attribute": "segment", "value": "smb"},
             {"account_id": "B", "attribute": "segment", "value": "ent"}]
    eng = make_engine({"surveys": surveys, "account_attributes": attrs})
    s = Settings()
    out = nps(eng, s, parse_period("2024-04"), ["segment"])
    # overall April: 7 answers, promoters 2 (9, 10), detractors 3 (6, 0, 2): 100 * (2 - 3) / 7
    assert out["overall"]["responses"] == 7
    assert out["overall"]["nps"] == pytest.approx(-100 / 7)
    g = {r["segment"]: r for r in out["groups"]}
    assert g["smb"]["nps"] == pytest.approx(100 / 3) and g["smb"]["benchmark"] == "good"
    assert g["ent"]["nps"] == -50.0 and g["ent"]["benchmark"] == "alarm" and g["ent"]["passives"] == 2
    c = csat(eng, s, parse_period("2024-04"), ["account"])
    assert c["overall"]["responses"] == 5 and c["overall"]["csat"] == 0.6
    ca = {r["account_id"]: r for r in c["groups"]}
    assert ca["A"]["csat"] == 1.0  # 4 and 5 on 1-5
    assert ca["B"]["positive"] == 1 and ca["B"]["csat"] == pytest.approx(1 / 3)  # 3 (no), 7 (yes), 6 (no)


def test_csat_threshold_setting_and_bad_rows(make_engine):
    eng = make_engine({"surveys": [ans("c1", "A", 6, "csat", 10), ans("c2", "A", 8, "csat", 10)]})
    s = Settings()
    s.satisfaction.csat_positive_0_10 = 8  # only 8 counts now: 1 of 2
    assert csat(eng, s, None)["overall"]["csat"] == 0.5
    bad = make_engine({"surveys": [ans("c9", "A", 4, "csat", None)]})
    with pytest.raises(DataError, match="c9"):
        csat(bad, s, None)
    bad2 = make_engine({"surveys": [ans("n9", "A", 11)]})
    with pytest.raises(DataError, match="n9"):
        nps(bad2, s, None)
