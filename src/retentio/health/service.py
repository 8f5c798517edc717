"""Health scores as service functions (``ws.health_scores(...)`` etc., see capability.py).

Every score is computed from :func:`retentio.features.account_features` on the scoring day
(data known on that day) plus the CSM pulse still valid on that day, with the scorecard the
account is assigned to.  See docs/health.md.
"""

from __future__ import annotations

import csv
import os
from contextlib import nullcontext
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from retentio.clock import last_complete_month, resolve_as_of
from retentio.errors import ConfigError, DataError, NotFound, UsageError
from retentio.health.scorecard import PULSE, Scorecard, assign, check_cards, dump_yaml, load_yaml, parse_scorecard
from retentio.health.scoring import Result, next_band_change, peer_percentiles, score_account

CARD_DIR = "health"
ARROW_STEP = 5.0  # a change of at least 5 points shows an arrow up or down


# -- cards -----------------------------------------------------------------------------------
def _known_figures(ws) -> set[str]:
    from retentio.features import FEATURES

    attrs = {r["attribute"] for r in ws.warehouse.query("SELECT DISTINCT attribute FROM account_attributes")}
    # only the attributes offered as features (health.attributes: static ones) can be read
    return {f.name for f in FEATURES} | (attrs & set(ws.settings.health.attributes))


def _data_present(ws) -> bool:
    c = ws.counts()
    return any(c.get(k, 0) for k in ("usage", "tickets", "surveys"))


def load_cards(ws) -> tuple[list[Scorecard], str]:
    """The workspace's cards (health/*.yaml) or, when there are none, the shipped ones with
    the default chosen by the data present; and where they came from."""
    from retentio.health import defaults

    folder = Path(ws.path) / CARD_DIR
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")) if folder.is_dir() else []
    known = _known_figures(ws)
    if files:
        cards = [load_yaml(p, known) for p in files]
        check_cards(cards)
        return cards, str(folder)
    rich = _data_present(ws)
    cards = [parse_scorecard(dict(defaults.COMMERCIAL, default=not rich), "shipped:commercial", None),
             parse_scorecard(dict(defaults.STANDARD, default=rich), "shipped:standard", None)]
    return cards, "shipped"


def health_cards(ws) -> dict[str, Any]:
    """The scorecards in force (workspace files or shipped), as their YAML documents."""
    cards, source = load_cards(ws)
    return {"source": source, "cards": [dict(c.to_dict(), source=c.source) for c in cards]}


def _pick(cards: list[Scorecard], name: str | None) -> Scorecard | None:
    if name is None:
        return None
    for c in cards:
        if c.name == name:
            return c
    raise NotFound(f"no scorecard named {name!r}", hint="choose one of: " + ", ".join(c.name for c in cards))


def health_init(ws, *, force: bool = False) -> list[str]:
    """Write the shipped cards into health/ (to edit them); returns the files written."""
    from retentio.health import defaults

    folder = Path(ws.path) / CARD_DIR
    folder.mkdir(exist_ok=True)
    rich = _data_present(ws)
    out = []
    for d, is_default in ((defaults.COMMERCIAL, not rich), (defaults.STANDARD, rich)):
        p = folder / f"{d['name']}.yaml"
        if p.exists() and not force:
            raise ConfigError(f"{p} exists", hint="pass force=True to overwrite it")
        p.write_text(dump_yaml(parse_scorecard(dict(d, default=is_default), str(p), None)), encoding="utf-8")
        out.append(str(p))
    return out


# -- pulse -----------------------------------------------------------------------------------
COLOURS = {"red": 1, "orange": 2, "yellow": 3, "light-green": 4, "green": 5}


def _account_names(ws) -> dict[str, str]:
    return {r["account_id"]: r["name"] for r in ws.warehouse.query("SELECT account_id, name FROM accounts")}


def _pulses(ws) -> list[tuple[str, date, int]]:
    from sqlalchemy import select

    from retentio.store.models import CsmPulse

    with ws.app_session() as s:
        rows = s.execute(select(CsmPulse.account_id, CsmPulse.rated_at, CsmPulse.score, CsmPulse.id)).all()
    return sorted(((a, r.astimezone(timezone.utc).date() if r.tzinfo else r.date(), int(sc), i) for a, r, sc, i in rows),
                  key=lambda t: (t[0], t[1], t[3]))


def pulse_on(pulses: list[tuple], account: str, day: date, expiry_days: int) -> int | None:
    """The account's last pulse rated on or before ``day`` and less than ``expiry_days`` old."""
    best = None
    for a, rated, score, *_ in pulses:
        if a == account and rated <= day and (day - rated).days < expiry_days:
            best = score
    return best


def _parse_pulse_score(score: Any, colour: str | None, where: str) -> tuple[int, str | None]:
    if (score is None or score == "") and colour:
        c = colour.strip().lower()
        if c not in COLOURS:
            raise DataError(f"{where}: colour {colour!r} is not a pulse colour", hint="use " + ", ".join(COLOURS))
        return COLOURS[c], c
    try:
        s = int(score)
    except (TypeError, ValueError):
        raise DataError(f"{where}: score {score!r} is not an integer", hint="a pulse score is 1 (at risk) to 5 (thriving)") from None
    if not 1 <= s <= 5:
        raise DataError(f"{where}: score {s} is outside 1-5", hint="a pulse score is 1 (at risk) to 5 (thriving)")
    return s, (colour or None)


def health_pulse(ws, account: str, *, score: int | None = None, colour: str | None = None, comment: str | None = None,
                 author: str | None = None, rated_at: date | datetime | str | None = None) -> dict[str, Any]:
    """Record a CSM's rating (1-5 or a colour) of an account; it counts for pulse_expiry_days."""
    from retentio.store.models import CsmPulse

    if account not in _account_names(ws):
        raise NotFound(f"account {account!r} not found", hint="check the id: retentio health score lists the accounts")
    s, c = _parse_pulse_score(score, colour, "pulse")
    when = _when(rated_at)
    p = CsmPulse(account_id=account, score=s, colour=c, comment=comment, author=author or _author(), rated_at=when)
    with ws.app_session() as sess:
        sess.add(p)
        sess.flush()
        out = p.to_dict()
    out["expires_after_days"] = ws.settings.health.pulse_expiry_days
    return out


def _author() -> str:
    return os.environ.get("RETENTIO_USER") or os.environ.get("USER") or "cli"


def _when(v: date | datetime | str | None) -> datetime:
    if v is None or v == "":
        return datetime.now(timezone.utc)
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=timezone.utc)
    d = resolve_as_of(v) if not isinstance(v, date) else v
    if isinstance(v, str) and "T" in v:
        dt = datetime.fromisoformat(v)
        return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    return datetime(d.year, d.month, d.day, 12, tzinfo=timezone.utc)


def import_csm_pulse(ws, file: str | os.PathLike) -> dict[str, Any]:
    """Import CSM pulses from a CSV: account_id, score (1-5) or colour, comment, author, rated_at.
    The whole file is checked first; one bad row refuses the file (nothing written)."""
    from retentio.store.models import CsmPulse

    path = Path(file)
    if not path.exists():
        raise NotFound(f"{path}: no such file", hint="give the path of a CSV with columns account_id, score, comment, author, rated_at")
    names = _account_names(ws)
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or [])
        if "account_id" not in cols or not ({"score", "colour"} & cols):
            raise DataError(f"{path}: needs columns account_id and score (or colour)",
                            hint="columns: account_id, score, colour, comment, author, rated_at")
        for i, r in enumerate(reader, start=2):
            where = f"{path}: row {i}"
            a = (r.get("account_id") or "").strip()
            if a not in names:
                raise DataError(f"{where}: account {a!r} not found", hint="import the accounts first, or fix the id")
            s, c = _parse_pulse_score(r.get("score"), r.get("colour"), where)
            try:
                when = _when((r.get("rated_at") or "").strip() or None)
            except Exception:
                raise DataError(f"{where}: rated_at {r.get('rated_at')!r} is not a date", hint="write YYYY-MM-DD") from None
            rows.append(CsmPulse(account_id=a, score=s, colour=c, comment=(r.get("comment") or None),
                                 author=(r.get("author") or "").strip() or _author(), rated_at=when))
    with ws.app_session() as sess:
        sess.add_all(rows)
    return {"file": str(path), "imported": len(rows)}


# -- scoring ---------------------------------------------------------------------------------
# Account-days whose features are computed together: a pass holds them (and the engine's
# intermediates) at once.  One day at 1 M accounts (~450 k customers) peaked at 2.2 GB, three
# days at 4.9 GB; 100 k accounts (~45 k customers) score six days a pass.
ACCOUNT_DAYS_PER_PASS = 300_000


def _customers_estimate(ws, day: date) -> int:
    """Accounts with a paid line active on ``day`` (the size of a day's features, to plan passes)."""
    rows = ws.warehouse.query(
        "SELECT count(DISTINCT account_id) AS n FROM subscriptions "
        "WHERE NOT is_trial AND start_date <= ? AND (end_date IS NULL OR end_date > ?)", [day, day])
    return int(rows[0]["n"] or 0) if rows else 0


def day_passes(ws, days: list[date]) -> list[list[date]]:
    """``days`` (ascending) in passes of at most :data:`ACCOUNT_DAYS_PER_PASS` account-days."""
    days = sorted(set(days))
    if not days:
        return []
    per = max(1, ACCOUNT_DAYS_PER_PASS // max(1, _customers_estimate(ws, days[-1])))
    return [days[i:i + per] for i in range(0, len(days), per)]


def score_days(ws, days: list[date], *, scorecard: str | None = None, cards: list[Scorecard] | None = None,
               keep_rows: bool | frozenset[str] = True, keep_measures: bool = True,
               scores_only: frozenset[date] | set[date] = frozenset()) -> list[dict[str, Any]]:
    """Score every customer on each day: [{account_id, day, card, result, row}] (``row``: the
    account's features, or None unless ``keep_rows``; when ``keep_rows`` is a set of feature
    names, only those features are kept; without ``keep_measures`` each result
    keeps its score, band, missing inputs and group scores but not its per-measure details.
    A dict of features and a list of measure results per account and day are most of the
    memory of a large book: ten objects per measure card and account-day).  The entries of
    the days in ``scores_only`` are {account_id, day, score} only.  See :func:`scored_passes`."""
    return [r for part in scored_passes(ws, days, scorecard=scorecard, cards=cards, keep_rows=keep_rows,
                                        keep_measures=keep_measures, scores_only=scores_only) for r in part]


def _only_score(account_id: str, day: date, score: float | None) -> dict[str, Any]:
    # a score is a few dozen bytes; a result with its group scores ~2.6 kB
    return {"account_id": account_id, "day": day, "score": score}


def scored_passes(ws, days: list[date], *, scorecard: str | None = None, cards: list[Scorecard] | None = None,
                  keep_rows: bool | frozenset[str] = True, keep_measures: bool = True,
                  scores_only: frozenset[date] | set[date] = frozenset()) -> Iterator[list[dict[str, Any]]]:
    """The entries of :func:`score_days`, a pass of days at a time (:func:`day_passes`): a
    caller that stores them (``health_refresh``) holds one pass's results at once.  The
    passes share their texts' sentiment scores, and what a pass caches in the engine is
    dropped at its end (the last pass's stays)."""
    from retentio.features import account_features

    if cards is None:
        cards, _ = load_cards(ws)
    forced = _pick(cards, scorecard)
    pulses = _pulses(ws) if any(m.feature == PULSE for c in cards for m in c.measures) else []
    hs = ws.settings.health
    by_account: dict[str, list[tuple]] = {}
    for p in pulses:
        by_account.setdefault(p[0], []).append(p)
    text_scores: dict[str, float | None] = {}
    passes = day_passes(ws, days)
    for i, chunk in enumerate(passes):
        engine = ws.engine()
        with engine.transient_cache() if i < len(passes) - 1 else nullcontext():
            feats = account_features(engine, ws.settings, chunk, text_scores=text_scores)
        part = []
        for row in feats.iter_rows(named=True):
            mine = by_account.get(row["account_id"])
            row[PULSE] = pulse_on(mine, row["account_id"], row["day"], hs.pulse_expiry_days) if mine else None
            card = forced or assign(cards, row)
            res = score_account(card, row, hs)
            if row["day"] in scores_only and card.model != "peer_percentile":
                part.append(_only_score(row["account_id"], row["day"], res.score))
                continue
            if not keep_measures:
                res.measures = []
            kept = (row if keep_rows is True else {k: row.get(k) for k in keep_rows}) if keep_rows else None
            part.append({"account_id": row["account_id"], "day": row["day"], "card": card,
                         "result": res, "row": kept,
                         "peer": row.get(card.peer_attribute) if card.model == "peer_percentile" else None})
        del feats
        # peer percentiles: per day and card (a day is never split between passes)
        groups: dict[tuple, list[dict]] = {}
        for r in part:
            if "card" in r and r["card"].model == "peer_percentile":
                groups.setdefault((r["day"], r["card"].name), []).append(r)
        for rs in groups.values():
            peer_percentiles([r["result"] for r in rs], [r["peer"] for r in rs], hs)
        if groups and scores_only:
            part = [_only_score(r["account_id"], r["day"], r["result"].score)
                    if r["day"] in scores_only and "result" in r else r for r in part]
        yield part


def _month_end_before(d: date, months: int) -> date:
    from retentio.features.compute import add_months

    return add_months(d, -months)


def _arrow(delta: float | None) -> str | None:
    if delta is None:
        return None
    return "↑" if delta >= ARROW_STEP else "↓" if delta <= -ARROW_STEP else "→"


def health_scores(ws, *, as_of: date | str | None = None, scorecard: str | None = None,
                  band: str | None = None) -> list[dict[str, Any]]:
    """One entry per customer account on ``as_of``: score, band, trend over 1 and 3 months,
    missing inputs and group scores, with the scorecard applied."""
    d = resolve_as_of(as_of)
    if band is not None and band not in ("red", "yellow", "green", "thriving", "none"):
        raise UsageError(f"band {band!r} is not a band", hint="choose red, yellow, green, thriving or none (not scored)")
    d1, d3 = _month_end_before(d, 1), _month_end_before(d, 3)
    # the trends need only the scores of the month ends before (1.3 M results at 1 M accounts
    # were 3.4 GB of Python objects)
    scored = score_days(ws, [d, d1, d3], scorecard=scorecard, keep_rows=False, keep_measures=False,
                        scores_only={d1, d3} - {d})
    prev = {(r["account_id"], r["day"]): r["score"] for r in scored if r["day"] != d}
    names = _account_names(ws)
    playbooks = ws.settings.health.playbooks
    out = []
    for r in scored:
        if r["day"] != d:
            continue
        res: Result = r["result"]
        t1 = _delta(res.score, prev.get((r["account_id"], d1)))
        t3 = _delta(res.score, prev.get((r["account_id"], d3)))
        if band is not None and (res.band or "none") != band:
            continue
        out.append({"account_id": r["account_id"], "account_name": names.get(r["account_id"]),
                    "scorecard": res.scorecard, "score": res.score, "band": res.band, "trend_1m": t1,
                    "trend_3m": t3, "arrow": _arrow(t1), "missing": res.missing,
                    "groups": {k: v for k, v in res.groups.items()},
                    "playbook": playbooks.get(res.band) if res.band else None})
    return sorted(out, key=lambda e: (e["score"] is None, e["score"] if e["score"] is not None else 0, e["account_id"]))


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def health_summary(ws, *, as_of: date | str | None = None) -> dict[str, Any]:
    """Band counts on as_of (for the demo and dashboards)."""
    rows = health_scores(ws, as_of=as_of)
    counts = {b: 0 for b in ("red", "yellow", "green", "thriving")}
    counts["not_scored"] = 0
    for r in rows:
        counts[r["band"] or "not_scored"] += 1
    return {"as_of": resolve_as_of(as_of), "accounts": len(rows), "bands": counts}


def health_explain(ws, account: str, *, as_of: date | str | None = None, scorecard: str | None = None) -> dict[str, Any]:
    """Each measure's raw value, 0-100 score, weight and contribution, the missing inputs, the
    scorecard and the smallest change that reaches the next band."""
    d = resolve_as_of(as_of)
    names = _account_names(ws)
    if account not in names:
        raise NotFound(f"account {account!r} not found", hint="retentio health score lists the scored accounts")
    scored = [r for r in score_days(ws, [d], scorecard=scorecard) if r["account_id"] == account]
    if not scored:
        raise NotFound(f"account {account!r} is not a customer on {d}", hint="health scores cover paying accounts only")
    r = scored[0]
    res: Result = r["result"]
    card: Scorecard = r["card"]
    return {"account_id": account, "account_name": names[account], "as_of": d, "scorecard": card.name,
            "scorecard_source": card.source, "model": card.model, "criteria": card.criteria,
            "score": res.score, "band": res.band, "reason": res.reason, "missing": res.missing,
            "missing_policy": ws.settings.health.missing_policy, "groups": res.groups,
            "measures": [m.to_dict() for m in res.measures],
            "next_band": next_band_change(card, res, ws.settings.health),
            "playbook": ws.settings.health.playbooks.get(res.band) if res.band else None}


def _month_ends(first: date, last: date) -> list[date]:
    from retentio.clock import month_end

    out = []
    y, m = first.year, first.month
    while True:
        e = month_end(y, m)
        if e > last:
            break
        out.append(e)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _first_day(ws) -> date | None:
    rows = ws.warehouse.query("SELECT min(start_date) AS d FROM subscriptions WHERE NOT is_trial")
    return rows[0]["d"] if rows and rows[0]["d"] else None


def health_refresh(ws, *, as_of: date | str | None = None, full: bool = False) -> dict[str, Any]:
    """Store the scores of every account at every month end from the first paid month to
    ``as_of``, and on ``as_of``, in the warehouse table health_scores.  Incremental: only the
    days not stored yet, the last stored month end (late data may change it) and ``as_of``
    are computed; ``full`` recomputes everything (after editing a scorecard).  Returns the
    band transitions of the days computed (events for playbooks)."""
    import pyarrow as pa

    d = resolve_as_of(as_of)
    first = _first_day(ws)
    if first is None:
        return {"as_of": d, "days_computed": 0, "rows": 0, "transitions": []}
    days = _month_ends(first, d)
    if d not in days:
        days.append(d)
    stored_days = set() if full else {r["day"] for r in ws.warehouse.read_health_scores()}
    last_me = max((x for x in stored_days if x in days[:-1] or x == d), default=None)
    todo = [x for x in days if x not in stored_days or x == d or (last_me is not None and x >= last_me)]
    rows = {"account_id": [], "day": [], "scorecard": [], "score": [], "band": [], "missing": []}
    # A pass at a time (scored_passes; peer percentiles are per day), each pass's results
    # made columns at once: the features and results of the whole history were 4 GB at 100 k
    # accounts.
    for part in scored_passes(ws, todo, keep_rows=False, keep_measures=False):
        for r in part:
            res = r["result"]
            rows["account_id"].append(r["account_id"])
            rows["day"].append(r["day"])
            rows["scorecard"].append(res.scorecard)
            rows["score"].append(res.score)
            rows["band"].append(res.band)
            rows["missing"].append(" ".join(res.missing))
    table = pa.table({"account_id": pa.array(rows["account_id"], pa.string()), "day": pa.array(rows["day"], pa.date32()),
                      "scorecard": pa.array(rows["scorecard"], pa.string()), "score": pa.array(rows["score"], pa.float64()),
                      "band": pa.array(rows["band"], pa.string()), "missing": pa.array(rows["missing"], pa.string())})
    ws._invalidate()  # the engines hold the analytics file open read-only
    import duckdb

    try:
        ws.warehouse.write_health_scores(table, todo)
    except duckdb.Error as exc:
        raise ConfigError(f"{ws.warehouse.path}: cannot store the health scores ({exc})",
                          hint="another Retentio process, or another Workspace object of this one, holds the analytics "
                               "file open: close it (Workspace.close()) and retry") from None
    todo_set = set(todo)
    events = [t for t in _transitions(ws.warehouse.read_health_scores()) if t["day"] in todo_set]
    return {"as_of": d, "days_computed": len(todo), "rows": table.num_rows, "transitions": events}


def _transitions(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Band changes between consecutive stored days of each account (None = not scored)."""
    out, prev = [], {}
    for r in sorted(stored, key=lambda r: (r["account_id"], r["day"])):
        a = r["account_id"]
        if a in prev and prev[a] != r["band"]:
            out.append({"account_id": a, "day": r["day"], "from": prev[a], "to": r["band"]})
        prev[a] = r["band"]
    return sorted(out, key=lambda t: (t["day"], t["account_id"]))


def health_history(ws, account: str, *, as_of: date | str | None = None, refresh: bool = True) -> dict[str, Any]:
    """The account's stored scores at every month end (and as of each refresh), with band
    transitions as events; ``refresh`` first brings the stored history up to ``as_of``."""
    d = resolve_as_of(as_of)
    if account not in _account_names(ws):
        raise NotFound(f"account {account!r} not found", hint="retentio health score lists the scored accounts")
    if refresh:
        health_refresh(ws, as_of=d)
    stored = [r for r in ws.warehouse.read_health_scores(account) if r["day"] <= d]
    points = [{"day": r["day"], "scorecard": r["scorecard"], "score": r["score"], "band": r["band"],
               "missing": r["missing"].split() if r["missing"] else []} for r in stored]
    return {"account_id": account, "as_of": d, "points": points,
            "transitions": [{k: v for k, v in t.items() if k != "account_id"} for t in _transitions(stored)]}


# -- backtest --------------------------------------------------------------------------------
OUTCOMES = ("churn", "churn_or_contraction")


def _customers_by_month(ws, last_month: int) -> dict[tuple[str, int], int]:
    """(account, month) -> MRR in cents at the month end, customers only (metrics.mrr)."""
    from retentio.metrics.mrr import account_month_mrr

    eng = ws.engine()
    cm = eng.collect(account_month_mrr(eng, ws.settings, last=last_month).select("account_id", "month", "mrr_cents"))
    return {(a, int(m)): int(c) for a, m, c in cm.iter_rows()}


def _backtest_rows(ws, as_of: date, horizon: int, scorecard: str | None, cards: list[Scorecard] | None = None,
                   outcome: str = "churn", details: bool | frozenset[str] = True
                   ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Scored account-months with their outcome, and the left-out counts.  Outcome of the
    account-month m: churn = not a customer at some month end among m+1 .. m+horizon;
    churn_or_contraction = or its MRR at one of those month ends below its MRR at m."""
    from retentio.clock import month_end

    if horizon < 1:
        raise UsageError("horizon must be at least 1 month", hint="e.g. horizon=3")
    if outcome not in OUTCOMES:
        raise UsageError(f"outcome {outcome!r} is not an outcome", hint="choose one of: " + ", ".join(OUTCOMES))
    first = _first_day(ws)
    if first is None:
        raise DataError("no paid subscription line: nothing to backtest", hint="import subscriptions first")
    y, m = last_complete_month(as_of)
    last_m = y * 12 + m - 1
    all_days = _month_ends(first, month_end(y, m))
    judged = [dd for dd in all_days if (dd.year * 12 + dd.month - 1) + horizon <= last_m]
    late = [dd for dd in all_days if dd not in judged]
    customers = _customers_by_month(ws, last_m)
    left_out = {"horizon_past_as_of": sum(1 for (_a, mm) in customers
                                          if any(mm == dd.year * 12 + dd.month - 1 for dd in late)),
                "not_scored": 0}
    if not judged:
        return [], left_out
    rows = []
    # ``details``: the features row and measure results of each account-month, or only the
    # features named (a fit re-scores its rows); a backtest reads only scores and bands:
    # 1.5 M rows at 100 k accounts were GBs
    for r in score_days(ws, judged, scorecard=scorecard, cards=cards, keep_rows=details,
                        keep_measures=details is True):
        res = r["result"]
        if res.score is None:
            left_out["not_scored"] += 1
            continue
        mm = r["day"].year * 12 + r["day"].month - 1
        a = r["account_id"]
        later = [customers.get((a, k), 0) for k in range(mm + 1, mm + horizon + 1)]
        if outcome == "churn":
            churned = any(v == 0 for v in later)
        else:
            churned = any(v < customers.get((a, mm), 0) for v in later)
        rows.append({"account_id": r["account_id"], "month": mm, "card": r["card"], "result": res,
                     "score": res.score, "band": res.band, "churned": churned, "row": r["row"]})
    return rows, left_out


def _evaluate(rows: list[dict[str, Any]], settings) -> dict[str, Any]:
    from retentio.health.evaluate import report

    hs = settings.health
    return report([r["score"] for r in rows], [r["band"] for r in rows], [r["churned"] for r in rows],
                  n_boot=hs.bootstrap, seed=hs.seed)


def health_backtest(ws, *, as_of: date | str | None = None, scorecard: str | None = None,
                    horizon: int | None = None, outcome: str = "churn") -> dict[str, Any]:
    """Score every account at each past month end with the data known then and compare with
    churn (or churn or contraction) within ``horizon`` months; overall and per scorecard."""
    d = resolve_as_of(as_of)
    h = horizon or ws.settings.health.horizon_months
    rows, left_out = _backtest_rows(ws, d, h, scorecard, outcome=outcome, details=False)
    out = {"scorecard": scorecard or "all", "horizon_months": h, "outcome": outcome, "as_of": d,
           **_evaluate(rows, ws.settings), "left_out": left_out}
    months = sorted({r["month"] for r in rows})
    from retentio.metrics.periods import month_label

    out["months"] = [month_label(months[0]), month_label(months[-1])] if months else None
    per = {}
    for name in sorted({r["card"].name for r in rows}):
        per[name] = _evaluate([r for r in rows if r["card"].name == name], ws.settings)
    out["per_scorecard"] = per
    return out


# -- fit -------------------------------------------------------------------------------------
def health_fit(ws, *, as_of: date | str | None = None, horizon: int | None = None, scorecard: str | None = None,
               write: str | None = None, train_share: float = 0.6) -> dict[str, Any]:
    """Measure weights from a regularised logistic regression fitted on the earlier months
    (``train_share`` of the scored months) and the configured and fitted cards' backtests on
    the later months, side by side.  ``write``: save the fitted card as health/<write>.yaml."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from retentio.health.evaluate import auc

    d = resolve_as_of(as_of)
    h = horizon or ws.settings.health.horizon_months
    cards, _src = load_cards(ws)
    base = _pick(cards, scorecard) or next(c for c in cards if c.default)
    if base.model not in ("weighted", "worst_of", "peer_percentile"):
        raise UsageError(f"scorecard {base.name!r} ({base.model}) has no 0-100 measure scores to fit",
                         hint="fit a weighted card: scorecard=NAME of a weighted card")
    # each account-month keeps only the features the card reads (its whole features row and
    # measure results were ~4 kB, 7 GB at 100 k accounts); its measures are scored again
    hs = ws.settings.health
    read = frozenset({m.feature for m in base.measures} | {PULSE, base.peer_attribute})
    rows, _left = _backtest_rows(ws, d, h, base.name, cards, details=read)
    months = sorted({r["month"] for r in rows})
    if len(months) < 3:
        raise DataError("too few months to fit and test", hint="a fit needs at least 3 scored month ends")
    cut = months[max(1, int(len(months) * train_share)) - 1]
    names = [m.name for m in base.measures]

    def matrix(rs):
        X = np.full((len(rs), len(names)), np.nan)
        for i, r in enumerate(rs):
            for mr in score_account(base, r["row"], hs).measures:
                if mr.raw is not None and not mr.missing:
                    X[i, names.index(mr.name)] = base_measure(mr.name).score(mr.raw)
        return X

    def base_measure(n):
        return next(m for m in base.measures if m.name == n)

    train = [r for r in rows if r["month"] <= cut]
    test = [r for r in rows if r["month"] > cut]
    Xtr = matrix(train)
    ytr = np.array([r["churned"] for r in train])
    seen = ~np.isnan(Xtr)
    means = np.where(seen.any(axis=0), np.nansum(Xtr, axis=0) / np.maximum(seen.sum(axis=0), 1), 50.0)
    fill = means  # a measure never seen in training: 50, and constant, so its weight is 0
    Xtr = np.where(np.isnan(Xtr), fill, Xtr)
    sd = Xtr.std(axis=0)
    sd[sd == 0] = 1.0
    mu = Xtr.mean(axis=0)
    if ytr.all() or (~ytr).all():
        raise DataError("the training months hold only one outcome", hint="a fit needs churners and non-churners")
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit((Xtr - mu) / sd, ytr)
    coef = model.coef_[0] / sd  # per point of measure score
    raw_w = np.maximum(-coef, 0.0)
    weights = {n: (float(100 * w / raw_w.sum()) if raw_w.sum() > 0 else 0.0) for n, w in zip(names, raw_w)}
    fitted = Scorecard(name=write or f"{base.name}-fitted", model="weighted",
                       description=f"Weights fitted on {len(train)} account-months (to {_label(cut)}), "
                                   f"horizon {h} months, from {base.name}",
                       criteria=base.criteria, default=base.default, priority=base.priority, groups=[])
    from retentio.health.scorecard import Group, Measure

    ms = []
    for n in names:
        if weights[n] <= 0:
            continue
        m = base_measure(n)
        ms.append(Measure(**{**m.__dict__, "weight": round(weights[n], 2)}))
    fitted.groups = [Group("Fitted", 100.0, ms)]
    # Both cards are judged on the same test account-months: those both could score.
    conf_rows, fit_rows = [], []
    for r in test:
        res = score_account(fitted, r["row"], hs)
        if res.score is not None:
            conf_rows.append({"score": r["score"], "band": r["band"], "churned": r["churned"]})
            fit_rows.append({"score": res.score, "band": res.band, "churned": r["churned"]})
    out = {"scorecard": base.name, "horizon_months": h, "train_months": [_label(months[0]), _label(cut)],
           "test_months": [_label(min(r["month"] for r in test)), _label(months[-1])] if test else None,
           "test_account_months_left_out": len(test) - len(conf_rows),
           "weights": weights, "configured": _evaluate(conf_rows, ws.settings) if conf_rows else None,
           "fitted": _evaluate(fit_rows, ws.settings) if fit_rows else None,
           "train_auc_fitted_model": auc(-model.decision_function((Xtr - mu) / sd), ytr)}
    if write:
        folder = Path(ws.path) / CARD_DIR
        folder.mkdir(exist_ok=True)
        existing = list(folder.glob("*.yaml")) + list(folder.glob("*.yml"))
        fitted.default = not existing  # the folder's first card must be its default
        p = folder / f"{write}.yaml"
        if p.exists():
            raise ConfigError(f"{p} exists", hint="choose another name or remove the file")
        p.write_text(dump_yaml(fitted), encoding="utf-8")
        out["written"] = str(p)
    if not test:
        out["test_months"] = None
    return out


def _label(m: int) -> str:
    from retentio.metrics.periods import month_label

    return month_label(m)
