"""Service functions of the application capability (``ws.portfolio(...)``, ``ws.users_create(...)`` ...).

Each takes the :class:`retentio.service.Workspace` first and returns plain data.  Figures
come from the other capabilities' service methods; what is read here directly is raw
look-ups (an account's lines, tickets, answers), never a formula.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from retentio.app.cache import CACHE
from retentio.clock import resolve_as_of
from retentio.errors import NotFound, UsageError

BANDS = ("red", "yellow", "green", "thriving")
SORTS = ("name", "mrr", "health", "renewal", "last_activity", "nps", "csm")
SESSION_DAYS = 14


# -- users ---------------------------------------------------------------------------------
def _hasher():
    from pwdlib import PasswordHash

    return PasswordHash.recommended()  # argon2id


def digest(secret: str) -> str:
    """SHA-256 of a random 256-bit secret (tokens, sessions): what is stored at rest."""
    return hashlib.sha256(secret.encode()).hexdigest()


def audit(ws, actor: str, action: str, target: str | None = None, details: dict | None = None, *, session=None) -> None:
    """Record one write in the audit log (in the caller's session when given)."""
    from retentio.store import AuditEntry

    entry = AuditEntry(actor=actor, action=action, target=target, details=details or {})
    if session is not None:
        session.add(entry)
        return
    with ws.app_session() as s:
        s.add(entry)


def _user(s, email: str):
    from sqlalchemy import select

    from retentio.store import User

    u = s.scalars(select(User).where(User.email == (email or "").strip().lower())).one_or_none()
    if u is None:
        raise NotFound(f"no user {email!r}", hint="list users with `retentio users list`")
    return u


def users_create(ws, *, email: str, role: str, password: str | None = None, name: str | None = None,
                 language: str | None = None, team: str | None = None, actor: str = "system") -> dict[str, Any]:
    from sqlalchemy import select

    from retentio.store import User

    if password is not None and len(password) < 8:
        raise UsageError("password: at least 8 characters", hint="choose a longer password")
    if language not in (None, "fr", "en"):
        raise UsageError(f"language {language!r} is not fr or en", hint="choose fr or en")
    with ws.app_session() as s:
        user = User(email=email, name=name or email.split("@")[0], role=role, language=language, team=team)
        if s.scalars(select(User).where(User.email == user.email)).one_or_none() is not None:
            raise UsageError(f"user {user.email} already exists", hint="choose another e-mail, or disable the old user")
        if password is not None:
            user.password_hash = _hasher().hash(password)
        s.add(user)
        s.flush()
        audit(ws, actor, "user.create", f"user:{user.email}", {"role": role}, session=s)
        return user.to_dict()


def users_list(ws) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from retentio.store import User

    with ws.app_session() as s:
        return [u.to_dict() for u in s.scalars(select(User).order_by(User.email))]


def users_disable(ws, email: str, *, actor: str = "system") -> dict[str, Any]:
    from sqlalchemy import delete, update
    from retentio.store import ApiToken, WebSession, utcnow

    with ws.app_session() as s:
        u = _user(s, email)
        u.disabled = True
        s.execute(delete(WebSession).where(WebSession.user_id == u.id))
        s.execute(update(ApiToken).where(ApiToken.user_id == u.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow()))
        audit(ws, actor, "user.disable", f"user:{u.email}", session=s)
        return u.to_dict()


def users_token(ws, email: str, *, name: str = "api", days: int | None = None, actor: str = "system") -> dict[str, Any]:
    """A new API token for the user: the secret is returned once, only its digest is stored."""
    from retentio.store import ApiToken, utcnow

    secret = "rt_" + secrets.token_urlsafe(32)
    with ws.app_session() as s:
        u = _user(s, email)
        if u.disabled:
            raise UsageError(f"user {u.email} is disabled", hint="a disabled user gets no token")
        t = ApiToken(user_id=u.id, name=name, token_hash=digest(secret), prefix=secret[:10],
                     expires_at=utcnow() + timedelta(days=days) if days else None)
        s.add(t)
        s.flush()
        audit(ws, actor, "token.create", f"user:{u.email}", {"token_id": t.id, "name": name}, session=s)
        return {**t.to_dict(), "token": secret, "email": u.email}


def tokens_revoke(ws, token_id: int, *, actor: str = "system") -> None:
    from retentio.store import ApiToken, utcnow

    with ws.app_session() as s:
        t = s.get(ApiToken, token_id)
        if t is None:
            raise NotFound(f"no API token {token_id}")
        t.revoked_at = t.revoked_at or utcnow()
        audit(ws, actor, "token.revoke", f"token:{token_id}", session=s)


def authenticate(ws, email: str, password: str) -> dict[str, Any] | None:
    """The user if the password is right and the user enabled; None otherwise (same time either way)."""
    from sqlalchemy import select

    from retentio.store import User

    h = _hasher()
    with ws.app_session() as s:
        u = s.scalars(select(User).where(User.email == (email or "").strip().lower())).one_or_none()
        if u is None or not u.password_hash:
            h.hash(password or "x")  # spend the same time: no user enumeration by timing
            return None
        ok, new_hash = h.verify_and_update(password or "", u.password_hash)
        if not ok or u.disabled:
            return None
        if new_hash:
            u.password_hash = new_hash
        return u.to_dict()


def _held_secret(s, model, secret: str):
    """(record, its user) of the ``model`` row (an API token or a web session) whose stored
    hash is the hash of ``secret``; None when no row matches.  Secrets are stored hashed only."""
    from sqlalchemy import select

    from retentio.store import User

    return s.execute(select(model, User).join(User, User.id == model.user_id)
                     .where(model.token_hash == digest(secret))).one_or_none()


def authenticate_token(ws, token: str) -> dict[str, Any] | None:
    from retentio.store import ApiToken, utcnow

    if not token:
        return None
    now = utcnow()
    with ws.app_session() as s:
        row = _held_secret(s, ApiToken, token)
        if row is None:
            return None
        t, u = row
        if t.revoked_at is not None or u.disabled or (t.expires_at is not None and t.expires_at < now):
            return None
        if t.last_used_at is None or now - t.last_used_at > timedelta(minutes=5):
            t.last_used_at = now
        return u.to_dict()


def session_create(ws, user_id: int, user_agent: str | None = None) -> str:
    from retentio.store import WebSession, utcnow

    secret = secrets.token_urlsafe(32)
    with ws.app_session() as s:
        s.add(WebSession(user_id=user_id, token_hash=digest(secret), expires_at=utcnow() + timedelta(days=SESSION_DAYS),
                         user_agent=(user_agent or "")[:300]))
    return secret


def session_user(ws, secret: str) -> dict[str, Any] | None:
    from retentio.store import WebSession, utcnow

    if not secret:
        return None
    now = utcnow()
    with ws.app_session() as s:
        row = _held_secret(s, WebSession, secret)
        if row is None:
            return None
        sess, u = row
        if sess.expires_at < now or u.disabled:
            return None
        return u.to_dict()


def session_delete(ws, secret: str) -> None:
    from sqlalchemy import delete

    from retentio.store import WebSession

    with ws.app_session() as s:
        s.execute(delete(WebSession).where(WebSession.token_hash == digest(secret)))


def user_set_language(ws, user_id: int, language: str) -> None:
    from retentio.store import User

    if language not in ("fr", "en"):
        raise UsageError(f"language {language!r} is not fr or en", hint="choose fr or en")
    with ws.app_session() as s:
        u = s.get(User, user_id)
        u.language = language
        audit(ws, u.email, "user.language", f"user:{u.email}", {"language": language}, session=s)


# -- raw look-ups in the analytics data --------------------------------------------------------
TABLES = ("accounts", "account_attributes", "subscriptions", "usage", "tickets", "surveys", "health_scores")


def _on_engine_cursor(ws, sql: str, params: list[Any] | None, read):
    """Run ``sql`` (with ``{accounts}``-style placeholders) on a cursor of the DuckDB engine's
    connection, which has the workspace's file attached already (opening the file costs ~40 ms
    a query), and return ``read(result)``; None when the engine is not DuckDB."""
    eng = ws.engine()
    con = getattr(eng, "con", None)
    if con is None or ws.engine_name != "duckdb":
        return None
    cur = con.cursor()
    try:
        return read(cur.execute(sql.format(**{t: f'ws.main."{t}"' for t in TABLES}), params or []))
    finally:
        cur.close()


def _warehouse_rows(ws, sql: str, params: list[Any] | None) -> list[dict[str, Any]]:
    return ws.warehouse.query(sql.format(**{t: f'"{t}"' for t in TABLES}), params)


def _q(ws, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """A read query on the workspace's analytics tables, written with ``{accounts}``-style
    placeholders: on the DuckDB engine's connection, else through the warehouse."""
    def rows(res):
        names = [d[0] for d in res.description]
        return [dict(zip(names, r)) for r in res.fetchall()]

    out = _on_engine_cursor(ws, sql, params, rows)
    return out if out is not None else _warehouse_rows(ws, sql, params)


def _has_table(ws, name: str) -> bool:
    return bool(_q(ws, "SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = ?", [name])[0]["n"]) \
        if ws.engine_name == "duckdb" else bool(ws.warehouse.query(
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?", [name])[0]["n"])


# -- accounts: ownership, portfolio ----------------------------------------------------------
def _as_of(as_of) -> date:
    return resolve_as_of(as_of)


def _month_index(as_of: date) -> int:
    """The month whose MRR the portfolio shows: the metrics' ``last`` period as of that day,
    so that the portfolio adds up to the overview (clock.last_complete_month counts the
    current month as complete on its last day; the metrics' ``last`` does not)."""
    from retentio.metrics.periods import parse_period

    return parse_period("last", today=as_of).last


def health_day(as_of: date) -> date:
    """The day the pages score health on: the end of the month whose MRR they show (the
    metrics' ``last`` period as of ``as_of``), so that band, trend and MRR describe the same
    moment; scoring on a later day whose usage is not imported yet would show every account
    falling."""
    from retentio.clock import month_end

    m = _month_index(as_of)
    return month_end(m // 12, m % 12 + 1)


def health_or_none(ws, as_of: date) -> list[dict[str, Any]] | None:
    """Health scores (on :func:`health_day` of ``as_of``) when the health capability is
    installed; None when it is not."""
    try:
        fn = ws.health_scores
    except AttributeError:
        return None
    day = health_day(as_of)
    return CACHE.get_or_compute(ws, "health_scores", {}, lambda: fn(as_of=day), day)


def _portfolio_frame(ws, as_of: date):
    import polars as pl

    from retentio.metrics.mrr import account_months

    def build():
        wh = ws.warehouse
        m = _month_index(as_of)
        day = as_of.isoformat()
        eng = ws.engine()
        mrr = eng.collect(account_months(eng, ws.settings, m, m, check=False)).select("account_id", "mrr_cents")
        acc = pl.DataFrame(wh.query(
            """SELECT a.account_id, a.name, c.value AS csm_attr
               FROM accounts a LEFT JOIN account_attributes c ON c.account_id = a.account_id AND c.attribute = ?""",
            [csm_attribute(ws)]),
            schema={"account_id": pl.String, "name": pl.String, "csm_attr": pl.String})
        nps = pl.DataFrame(wh.query(
            """SELECT account_id, arg_max(score, answered_at) AS nps FROM surveys
               WHERE kind = 'nps' AND CAST(answered_at AS DATE) <= CAST(? AS DATE) GROUP BY account_id""", [day]),
            schema={"account_id": pl.String, "nps": pl.Int64})
        act = pl.DataFrame(wh.query(
            """SELECT account_id, CAST(max("timestamp") AS DATE) AS last_activity FROM usage
               WHERE CAST("timestamp" AS DATE) <= CAST(? AS DATE) GROUP BY account_id""", [day]),
            schema={"account_id": pl.String, "last_activity": pl.Date})
        ren = pl.DataFrame(wh.query(
            """SELECT account_id, min(end_date) AS renewal_date FROM subscriptions
               WHERE start_date <= CAST(? AS DATE) AND end_date > CAST(? AS DATE) AND NOT coalesce(is_trial, false)
               GROUP BY account_id""", [day, day]),
            schema={"account_id": pl.String, "renewal_date": pl.Date})
        with ws.app_session() as s:
            from sqlalchemy import select

            from retentio.store import AccountAssignment

            assigned = pl.DataFrame([{"account_id": a, "csm_user": c} for a, c in
                                     s.execute(select(AccountAssignment.account_id, AccountAssignment.csm)
                                               .where(AccountAssignment.csm.is_not(None)))],
                                    schema={"account_id": pl.String, "csm_user": pl.String})
        f = (acc.join(mrr, on="account_id", how="left").join(nps, on="account_id", how="left")
             .join(act, on="account_id", how="left").join(ren, on="account_id", how="left")
             .join(assigned, on="account_id", how="left"))
        f = f.with_columns(
            pl.coalesce("csm_user", "csm_attr").alias("csm"),
            (pl.col("mrr_cents").fill_null(0) / 100).alias("mrr"),
        ).drop("csm_user", "csm_attr", "mrr_cents")
        health = health_or_none(ws, as_of)
        hschema = {"account_id": pl.String, "health_score": pl.Float64, "band": pl.String, "trend_1m": pl.Float64}
        if health:
            h = pl.DataFrame([{"account_id": str(r["account_id"]), "health_score": _num(r.get("score")),
                               "band": r.get("band"), "trend_1m": _num(r.get("trend_1m"))} for r in health], schema=hschema)
            h = h.unique("account_id", keep="first")
        else:
            h = pl.DataFrame(schema=hschema)
        return f.join(h, on="account_id", how="left")

    # Owners also change without an import (a playbook worker, possibly in another process,
    # assigns CSMs): the assignments' count and last change are part of the question.
    return CACHE.get_or_compute(ws, "portfolio_frame", {"owners": _assignments_version(ws)}, build, as_of)


def _assignments_version(ws) -> tuple[int, str]:
    from sqlalchemy import func, select

    from retentio.store import AccountAssignment

    with ws.app_session() as s:
        n, last = s.execute(select(func.count(), func.max(AccountAssignment.updated_at))).one()
    return int(n or 0), str(last)


def _num(v) -> float | None:
    return None if v is None else float(v)


def portfolio(ws, *, as_of=None, q: str | None = None, band: str | None = None, csm: str | None = None,
              segment: str | None = None, customers_only: bool = True, sort: str = "mrr", order: str = "desc",
              limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Every account with name, MRR (last complete month), health band and trend, last NPS,
    last activity, CSM and next renewal date; filtered, sorted, one page: {"items", "total"}."""
    import polars as pl

    day = _as_of(as_of)
    if band is not None and band not in BANDS:
        raise UsageError(f"band {band!r} is not one of {', '.join(BANDS)}", hint="choose red, yellow, green or thriving")
    if sort not in SORTS:
        raise UsageError(f"sort {sort!r} is not one of {', '.join(SORTS)}", hint="e.g. sort=mrr")
    if order not in ("asc", "desc"):
        raise UsageError(f"order {order!r} is not asc or desc", hint="choose asc or desc")
    if limit < 1 or limit > 1000 or offset < 0:
        raise UsageError("limit must be 1-1000 and offset >= 0", hint="e.g. limit=50&offset=0")
    if segment and "=" not in segment:
        raise UsageError(f"segment {segment!r}: expected ATTR=VALUE", hint="e.g. segment=industry=retail")

    def select():
        f = _portfolio_frame(ws, day)
        if customers_only:
            f = f.filter(pl.col("mrr") > 0)
        if q:
            needle = q.strip().lower()
            f = f.filter(pl.col("name").str.to_lowercase().str.contains(needle, literal=True)
                         | pl.col("account_id").str.to_lowercase().str.contains(needle, literal=True))
        if band:
            f = f.filter(pl.col("band") == band)
        if csm:
            f = f.filter(pl.col("csm").str.to_lowercase() == csm.strip().lower())
        if segment:
            attr, _, value = segment.partition("=")
            ids = [r["account_id"] for r in _q(ws,
                "SELECT account_id FROM {account_attributes} WHERE attribute = ? AND value = ?", [attr.strip(), value.strip()])]
            f = f.filter(pl.col("account_id").is_in(ids))
        col = {"health": "health_score", "renewal": "renewal_date"}.get(sort, sort)
        return f.sort([col, "account_id"], descending=[order == "desc", False], nulls_last=True)

    if q:  # free text: not worth keeping
        f = select()
    else:  # the filtered, sorted list is kept, so that paging through it is a slice (100 k accounts: ~50 ms a sort)
        f = CACHE.get_or_compute(ws, "portfolio_sorted", {
            "customers_only": customers_only, "band": band, "csm": csm, "segment": segment, "sort": sort, "order": order,
            "owners": _assignments_version(ws)}, select, day)
    total = f.height
    page = f.slice(offset, limit)
    items = [{"account_id": r["account_id"], "name": r["name"], "mrr": round(r["mrr"], 2), "currency": ws.settings.workspace.base_currency,
              "health_score": r["health_score"], "band": r["band"], "trend_1m": r["trend_1m"], "nps": r["nps"],
              "last_activity": r["last_activity"], "csm": r["csm"], "renewal_date": r["renewal_date"]}
             for r in page.iter_rows(named=True)]
    return {"items": items, "total": total, "as_of": day, "health_available": health_or_none(ws, day) is not None}


def csm_attribute(ws) -> str:
    """The account attribute holding the imported CSM (``playbooks.csm_attribute``, "csm")."""
    pb = getattr(ws.settings, "playbooks", None)
    return getattr(pb, "csm_attribute", None) or "csm"


def account_owner(ws, account_id: str) -> str | None:
    """The CSM owning an account: its assignment in ``account_assignments`` (by a user or a
    playbook), else the account's imported CSM attribute -- the playbooks' rule too."""
    from retentio.store import AccountAssignment

    with ws.app_session() as s:
        a = s.get(AccountAssignment, account_id)
        if a is not None and a.csm:
            return a.csm
    return _attributes_of(ws, account_id).get(csm_attribute(ws))


def owns(user: dict[str, Any], owner: str | None) -> bool:
    if not owner:
        return False
    o = owner.strip().lower()
    return o in {(user.get("email") or "").lower(), (user.get("name") or "").strip().lower()}


def can_write(ws, user: dict[str, Any], account_id: str) -> bool:
    """viewer: never; csm: on the accounts it owns; manager, admin: every account."""
    role = user.get("role")
    if role in ("admin", "manager"):
        return True
    if role == "csm":
        return owns(user, account_owner(ws, account_id))
    return False


def _check_account(ws, account_id: str) -> dict[str, Any]:
    names = CACHE.get_or_compute(ws, "account_names", {}, lambda: {r["account_id"]: r["name"] for r in _q(
        ws, "SELECT account_id, name FROM {accounts}")}, None)
    if account_id not in names:
        raise NotFound(f"no account {account_id!r}", hint="search accounts with GET /api/v1/accounts?q=...")
    return {"account_id": account_id, "name": names[account_id]}


# -- account 360 ------------------------------------------------------------------------------
def account_360(ws, account_id: str, *, as_of=None) -> dict[str, Any]:
    """Everything about one account: attributes, revenue history and movements, subscription
    lines, health, usage, tickets, NPS/CSAT answers with sentiment, pulse, tasks, notes, timeline."""
    import polars as pl

    from retentio.metrics.mrr import account_months
    from retentio.metrics.periods import month_label
    from retentio.satisfaction.sentiment import score_text

    day = _as_of(as_of)
    acc = _check_account(ws, account_id)
    attrs = _attributes_of(ws, account_id)
    m = _month_index(day)

    def history():
        eng = ws.engine()
        from retentio.metrics.mrr import history_first_month

        first = history_first_month(eng)
        if first is None:
            return pl.DataFrame(schema={"account_id": pl.String, "month": pl.Int64, "mrr_cents": pl.Int64})
        # sorted by account: a 360 takes its rows by binary search, not a scan of every account's
        return eng.collect(account_months(eng, ws.settings, max(first, m - 35), m, check=False)).sort(["account_id", "month"])

    hist = CACHE.get_or_compute(ws, "account_month_mrr_sorted", {"last": m}, history, day)
    mine = _rows_of(hist, account_id)
    by_month = {int(r["month"]): r["mrr_cents"] for r in mine.iter_rows(named=True)}
    first_m = min(by_month) if by_month else m
    revenue = [{"month": month_label(k), "mrr": by_month.get(k, 0) / 100} for k in range(max(first_m, m - 35), m + 1)]
    # The same question for every account (the last 12 months), answered once and indexed by account.
    period = f"{month_label(m - 11)}..{month_label(m)}"

    def movements_by_account():
        out: dict[str, list] = {}
        for r in ws.movements(period):
            out.setdefault(r["account_id"], []).append(r)
        return out

    movements = CACHE.get_or_compute(ws, "movements_by_account", {"period": period}, movements_by_account, day).get(account_id, [])
    subs = _account_rows(ws, "subscriptions_by_account", """SELECT account_id, subscription_id, plan, start_date, end_date,
                         amount, billing_period_months, currency, is_trial, quantity, kind, canceled_at FROM {subscriptions}""",
                         [], account_id, ["start_date"], [False]).drop("account_id").to_dicts()
    health_all = health_or_none(ws, day)
    health = None
    if health_all is not None:
        by_id = CACHE.get_or_compute(ws, "health_by_account", {}, lambda: {str(h.get("account_id")): h for h in reversed(health_all)},
                                     health_day(day))
        health = by_id.get(account_id)
    health_history = None
    if health_all is not None:
        # The stored history (the health capability's table health_scores, as its
        # health_history reads it), without a refresh here: a refresh writes the warehouse,
        # which would drop every cached figure; the health page refreshes it.
        points = []
        if CACHE.get_or_compute(ws, "has_table", {"t": "health_scores"}, lambda: _has_table(ws, "health_scores"), None):
            points = _q(ws, "SELECT day, scorecard, score, band FROM {health_scores} WHERE account_id = ? AND day <= ? "
                            "ORDER BY day", [account_id, day])
        health_history = {"account_id": account_id, "as_of": day, "points": points}
    def usage_by_month():
        # events and distinct active users per account and month, the last 365 days: one scan
        # of the usage table for all accounts, then a look-up per account
        return pl.DataFrame(_q(ws, """SELECT account_id, strftime(CAST("timestamp" AS DATE), '%Y-%m') AS month,
                                      count(*) AS events, count(DISTINCT user_id) AS active_users FROM {usage}
                                      WHERE CAST("timestamp" AS DATE) <= CAST(? AS DATE)
                                        AND CAST("timestamp" AS DATE) > CAST(? AS DATE) - INTERVAL 365 DAY
                                      GROUP BY 1, 2""", [day.isoformat(), day.isoformat()]),
                            schema={"account_id": pl.String, "month": pl.String, "events": pl.Int64, "active_users": pl.Int64}
                            ).sort(["account_id", "month"])

    usage_all = CACHE.get_or_compute(ws, "usage_by_month_sorted", {}, usage_by_month, day)
    usage = _rows_of(usage_all, account_id).drop("account_id").to_dicts()
    tickets = _account_rows(ws, "tickets_by_account", """SELECT account_id, ticket_id, created_at, resolved_at, status,
                            priority, topic, subject FROM {tickets} WHERE CAST(created_at AS DATE) <= CAST(? AS DATE)""",
                            [day.isoformat()], account_id, ["created_at"], [True]).head(50).drop("account_id").to_dicts()
    answers = _account_rows(ws, "surveys_by_account", """SELECT account_id, response_id, answered_at, kind, score, scale,
                            comment FROM {surveys} WHERE CAST(answered_at AS DATE) <= CAST(? AS DATE)""",
                            [day.isoformat()], account_id, ["answered_at"], [True]).head(50).drop("account_id").to_dicts()
    for a in answers:
        s = score_text(a.get("comment"))
        a["sentiment"] = None if s is None else s.label
    out = {
        "account_id": account_id, "name": acc["name"], "as_of": day, "currency": ws.settings.workspace.base_currency,
        "attributes": attrs, "csm": account_owner(ws, account_id),
        "mrr": revenue[-1]["mrr"] if revenue else 0.0,
        "revenue_history": revenue, "movements": movements, "subscriptions": subs,
        "health": health, "health_available": health_all is not None, "health_history": health_history,
        "usage": usage, "tickets": tickets, "surveys": answers,
        "pulse": work_pulse(ws, account_id), "tasks": _with_playbook_names(ws, work_tasks(ws, account_id=account_id, status=None)),
        "notes": work_notes(ws, account_id),
        "playbook_runs": work_playbook_runs(ws, account_id),
    }
    out["timeline"] = _timeline(out)
    return out


def _frame(ws, sql: str, params: list[Any] | None = None):
    """:func:`_q` as a polars DataFrame."""
    import warnings

    import polars as pl

    def frame(res):
        to_arrow = getattr(res, "to_arrow_table", None) or res.fetch_arrow_table  # DuckDB 2 renamed it
        with warnings.catch_warnings():  # "an extra copy of the rows": made once per data version
            warnings.simplefilter("ignore")
            return pl.from_arrow(to_arrow())

    out = _on_engine_cursor(ws, sql, params, frame)
    return out if out is not None else pl.DataFrame(_warehouse_rows(ws, sql, params))


def _account_rows(ws, name: str, sql: str, params: list[Any], account_id: str, order: list[str], descending: list[bool]):
    """One account's rows of a whole-table query, kept in the cache sorted by account (then
    ``order``) and sliced by binary search: at 100 k accounts a filtered scan per request of
    account_attributes, tickets and surveys cost 10-30 ms each."""
    def build():
        return _frame(ws, sql, params).sort(["account_id", *order], descending=[False, *descending], nulls_last=True)

    return _rows_of(CACHE.get_or_compute(ws, name, {"params": params}, build, None), account_id)


def _attributes_of(ws, account_id: str) -> dict[str, Any]:
    rows = _account_rows(ws, "attributes_by_account", "SELECT account_id, attribute, value FROM {account_attributes}", [],
                         account_id, ["attribute"], [False])
    return dict(zip(rows.get_column("attribute").to_list(), rows.get_column("value").to_list()))


def _rows_of(frame, account_id: str):
    """The rows of one account in a frame sorted by ``account_id``: two binary searches
    (O(log n)) instead of a filter over every account's rows (O(n): ~3.6 M rows at 100 k
    accounts × 36 months)."""
    col = frame.get_column("account_id")
    lo, hi = int(col.search_sorted(account_id, side="left")), int(col.search_sorted(account_id, side="right"))
    return frame.slice(lo, hi - lo)


def getattr_or_none(ws, name: str):
    try:
        return getattr(ws, name)
    except AttributeError:
        return None


def _ts(v) -> str:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return datetime.combine(v, time()).isoformat()
    return str(v)


def _timeline(a: dict[str, Any]) -> list[dict[str, Any]]:
    ev: list[dict[str, Any]] = []
    for mv in a["movements"]:
        sign = -1 if mv["type"] in ("contraction", "churn") else 1
        ev.append({"at": mv["month"] + "-01T00:00:00", "kind": "movement", "text": f"{mv['type']} {sign * mv['amount']:+.2f}"})
    for s in a["subscriptions"]:
        ev.append({"at": _ts(s["start_date"]), "kind": "subscription", "text": f"{s['plan']} started"})
        if s.get("canceled_at"):
            ev.append({"at": _ts(s["canceled_at"]), "kind": "subscription", "text": f"{s['plan']} canceled"})
    for t in a["tickets"]:
        ev.append({"at": _ts(t["created_at"]), "kind": "ticket", "text": t.get("subject") or t["ticket_id"]})
    for r in a["surveys"]:
        ev.append({"at": _ts(r["answered_at"]), "kind": r["kind"], "text": f"{r['score']}" + (f" — {r['comment']}" if r.get("comment") else "")})
    for p in a["pulse"]:
        ev.append({"at": _ts(p["rated_at"]), "kind": "pulse", "text": f"{p['score']}/5 {p.get('comment') or ''}".strip()})
    for t in a["tasks"]:
        ev.append({"at": _ts(t["created_at"]), "kind": "task", "text": t["title"]})
    for n in a["notes"]:
        ev.append({"at": _ts(n["created_at"]), "kind": "note", "text": n["body"][:200]})
    for r in a.get("playbook_runs") or []:
        ev.extend(_playbook_events(r))
    ev.sort(key=lambda e: e["at"], reverse=True)
    return ev[:100]


# -- playbook runs of an account ------------------------------------------------------------
# What a playbook did to an account (retentio.playbooks writes these tables): shown in the
# account 360 (its runs and their actions) and in its timeline.
ACTION_END_EVENTS = {"done": "done", "dead": "failed", "skipped": "skipped", "canceled": "canceled", "retrying": "retrying"}


def work_playbook_runs(ws, account_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The account's playbook runs, newest first, each with its actions (in order)."""
    from sqlalchemy import select

    from retentio.store import PlaybookAction, PlaybookRun

    with ws.app_session() as s:
        runs = list(s.scalars(select(PlaybookRun).where(PlaybookRun.account_id == account_id)
                              .order_by(PlaybookRun.created_at.desc(), PlaybookRun.id.desc()).limit(limit)))
        if not runs:
            return []
        acts: dict[int, list[dict[str, Any]]] = {}
        for a in s.scalars(select(PlaybookAction).where(PlaybookAction.run_id.in_([r.id for r in runs]))
                           .order_by(PlaybookAction.run_id, PlaybookAction.position)):
            p = a.params or {}
            acts.setdefault(a.run_id, []).append({
                "id": a.id, "position": a.position, "type": a.type, "status": a.status, "recipient": a.recipient,
                "title": p.get("title") or p.get("subject") or p.get("tag") or p.get("playbook"),
                "due_at": a.due_at, "created_at": a.created_at, "updated_at": a.updated_at, "done_at": a.done_at,
                "attempts": a.attempts, "error": a.last_error})
        return [{"id": r.id, "playbook": r.playbook, "trigger": r.trigger, "reason": r.reason, "status": r.status,
                 "as_of": r.as_of, "created_at": r.created_at, "closed_at": r.closed_at, "closed_reason": r.closed_reason,
                 "parent_run_id": r.parent_run_id, "actions": acts.get(r.id, [])} for r in runs]


def _playbook_events(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Timeline events of one run: started (with why), each action planned, then done /
    failed / skipped / canceled (or a failed attempt being retried), and the run closed."""
    name = r["playbook"]
    base = {"playbook": name, "run_id": r["id"]}
    ev = [{"at": _ts(r["created_at"]), "kind": "playbook", "event": "run_started", **base,
           "detail": r["reason"] or None, "text": f"{name} started" + (f": {r['reason']}" if r["reason"] else "")}]
    for a in r["actions"]:
        what = a["type"] + (f" {a['title']!s}" if a.get("title") else "") + (f" to {a['recipient']}" if a.get("recipient") else "")
        act = {**base, "action": a["type"], "action_id": a["id"], "status": a["status"]}
        ev.append({"at": _ts(a["created_at"]), "kind": "playbook_action", "event": "planned", **act,
                   "detail": what, "text": f"{name}: {what} planned"})
        end = ACTION_END_EVENTS.get(a["status"])
        if end:
            when = a["done_at"] if a["status"] != "retrying" and a["done_at"] else a["updated_at"]
            why = a.get("error")
            ev.append({"at": _ts(when), "kind": "playbook_action", "event": end, **act,
                       "detail": what + (f" ({why})" if why else ""),
                       "text": f"{name}: {what} {end}" + (f": {why}" if why else "")})
    if r["closed_at"]:
        ev.append({"at": _ts(r["closed_at"]), "kind": "playbook", "event": "run_closed", **base,
                   "detail": r["closed_reason"], "text": f"{name} closed" + (f": {r['closed_reason']}" if r["closed_reason"] else "")})
    return ev


# -- worklist ------------------------------------------------------------------------------
def worklist(ws, user: dict[str, Any], *, as_of=None, limit: int = 50) -> dict[str, Any]:
    """A CSM's open tasks and accounts needing action, most urgent first: band (red, yellow),
    falling trend, MRR at risk, nearest renewal.  Managers and admins see every account."""
    import polars as pl

    day = _as_of(as_of)
    # a CSM's own open tasks (owner = their e-mail, or their name: a playbook's task for "the
    # account's CSM" carries the imported csm attribute, a name); others see every open task
    tasks = work_tasks(ws, owner=_owner_keys(user) if user["role"] == "csm" else None, status="open")
    _with_playbook_names(ws, tasks)
    f = _portfolio_frame(ws, day).filter(pl.col("mrr") > 0)
    if user["role"] == "csm":
        keys = [(user.get("email") or "").lower(), (user.get("name") or "").strip().lower()]
        f = f.filter(pl.col("csm").str.to_lowercase().is_in(keys))
    horizon = day + timedelta(days=90)
    band_rank = pl.when(pl.col("band") == "red").then(0).when(pl.col("band") == "yellow").then(1).otherwise(2)
    # urgency: red before yellow, then the steepest fall, the most MRR at risk, the nearest renewal
    need = f.filter((pl.col("band").is_in(["red", "yellow"])) | (pl.col("renewal_date") <= horizon))
    need = need.with_columns(band_rank.alias("_b")).sort(
        ["_b", "trend_1m", "mrr", "renewal_date"], descending=[False, False, True, False], nulls_last=True)
    items = []
    for r in need.head(limit).iter_rows(named=True):
        reasons = []
        if r["band"] in ("red", "yellow"):
            reasons.append({"reason": "health", "band": r["band"]})
        if r["trend_1m"] is not None and r["trend_1m"] < 0:
            reasons.append({"reason": "health_falling", "trend_1m": r["trend_1m"]})
        if r["renewal_date"] is not None and r["renewal_date"] <= horizon:
            reasons.append({"reason": "renewal", "date": r["renewal_date"]})
        items.append({"account_id": r["account_id"], "name": r["name"], "mrr": round(r["mrr"], 2), "band": r["band"],
                      "trend_1m": r["trend_1m"], "renewal_date": r["renewal_date"], "csm": r["csm"], "reasons": reasons})
    tasks.sort(key=lambda t: (t["due_at"] is None, t["due_at"] or datetime.max.replace(tzinfo=timezone.utc)))
    return {"as_of": day, "tasks": tasks, "accounts": items, "total_accounts": need.height,
            "health_available": health_or_none(ws, day) is not None}


# -- tasks, notes, pulse ------------------------------------------------------------------------
def _owner_keys(user: dict[str, Any]) -> list[str]:
    """What a user can be called in an owner field: e-mail, name (lower-cased; cf. :func:`owns`)."""
    return [k for k in ((user.get("email") or "").strip().lower(), (user.get("name") or "").strip().lower()) if k]


def _with_playbook_names(ws, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``playbook`` (the name of the playbook whose run made it, else None) to each task."""
    from sqlalchemy import select

    from retentio.store import PlaybookRun

    ids = {t["playbook_run_id"] for t in tasks if t.get("playbook_run_id")}
    names: dict[int, str] = {}
    if ids:
        with ws.app_session() as s:
            names = dict(s.execute(select(PlaybookRun.id, PlaybookRun.playbook).where(PlaybookRun.id.in_(ids))).all())
    for t in tasks:
        t["playbook"] = names.get(t.get("playbook_run_id"))
    return tasks


def work_tasks(ws, *, account_id: str | None = None, owner: str | list[str] | None = None, status: str | None = "open",
               limit: int = 500) -> list[dict[str, Any]]:
    from sqlalchemy import func, select

    from retentio.store import Task

    q = select(Task)
    if account_id:
        q = q.where(Task.account_id == account_id)
    if owner:
        keys = [owner] if isinstance(owner, str) else list(owner)
        q = q.where(func.lower(Task.owner).in_([k.strip().lower() for k in keys]))
    if status:
        q = q.where(Task.status == status)
    with ws.app_session() as s:
        return [t.to_dict() for t in s.scalars(q.order_by(Task.id.desc()).limit(limit))]


def _due(v) -> datetime | None:
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=timezone.utc)
    if isinstance(v, date):
        return datetime.combine(v, time(), tzinfo=timezone.utc)
    try:
        return _due(date.fromisoformat(str(v)))
    except ValueError:
        raise UsageError(f"due {v!r} is not a date", hint="give YYYY-MM-DD") from None


def work_task_create(ws, *, actor: str, account_id: str, title: str, due=None, description: str | None = None,
                     priority: str = "normal", owner: str | None = None) -> dict[str, Any]:
    from retentio.store import TASK_PRIORITIES, Task

    _check_account(ws, account_id)
    title = (title or "").strip()
    if not title:
        raise UsageError("title is empty", hint="give the task a title")
    if priority not in TASK_PRIORITIES:
        raise UsageError(f"priority {priority!r} is not one of {', '.join(TASK_PRIORITIES)}", hint="e.g. normal")
    with ws.app_session() as s:
        t = Task(account_id=account_id, title=title[:300], description=description, priority=priority,
                 owner=(owner or actor).lower(), due_at=_due(due), created_by=actor)
        s.add(t)
        s.flush()
        audit(ws, actor, "task.create", f"account:{account_id}", {"task_id": t.id, "title": t.title}, session=s)
        return t.to_dict()


def work_task_update(ws, task_id: int, *, actor: str, status: str | None = None, title: str | None = None,
                     due=None, note: str | None = None) -> dict[str, Any]:
    from retentio.store import TASK_STATUSES, Task, utcnow

    with ws.app_session() as s:
        t = s.get(Task, task_id)
        if t is None:
            raise NotFound(f"no task {task_id}", hint="list tasks with GET /api/v1/tasks")
        before = t.to_dict()
        if status is not None:
            if status not in TASK_STATUSES:
                raise UsageError(f"status {status!r} is not one of {', '.join(TASK_STATUSES)}", hint="e.g. done")
            t.status = status
            t.closed_at = utcnow() if status != "open" else None
            t.closed_note = note
        if title:
            t.title = title[:300]
        if due is not None:
            t.due_at = _due(due)
        audit(ws, actor, "task.update", f"account:{t.account_id}",
              {"task_id": t.id, "status": [before["status"], t.status]}, session=s)
        return t.to_dict()


def task_account(ws, task_id: int) -> str:
    from retentio.store import Task

    with ws.app_session() as s:
        t = s.get(Task, task_id)
        if t is None:
            raise NotFound(f"no task {task_id}", hint="list tasks with GET /api/v1/tasks")
        return t.account_id


def work_notes(ws, account_id: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from retentio.store import Note

    with ws.app_session() as s:
        return [n.to_dict() for n in s.scalars(select(Note).where(Note.account_id == account_id).order_by(Note.id.desc()).limit(200))]


def work_note_create(ws, *, actor: str, account_id: str, body: str) -> dict[str, Any]:
    from retentio.store import Note

    _check_account(ws, account_id)
    body = (body or "").strip()
    if not body:
        raise UsageError("note is empty", hint="write something")
    with ws.app_session() as s:
        n = Note(account_id=account_id, body=body[:8000], author=actor)
        s.add(n)
        s.flush()
        audit(ws, actor, "note.create", f"account:{account_id}", {"note_id": n.id}, session=s)
        return n.to_dict()


def work_pulse(ws, account_id: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from retentio.store import CsmPulse

    with ws.app_session() as s:
        return [p.to_dict() for p in s.scalars(select(CsmPulse).where(CsmPulse.account_id == account_id)
                                                .order_by(CsmPulse.rated_at.desc()).limit(50))]


def work_pulse_create(ws, *, actor: str, account_id: str, score: int | None = None, colour: str | None = None,
                      comment: str | None = None, rated_at: datetime | None = None) -> dict[str, Any]:
    from retentio.store import PULSE_COLOURS, CsmPulse, utcnow

    _check_account(ws, account_id)
    if colour is not None:
        if colour not in PULSE_COLOURS:
            raise UsageError(f"colour {colour!r} is not red, yellow or green", hint="choose red, yellow or green")
        score = PULSE_COLOURS[colour] if score is None else score
    if score is None or not 1 <= int(score) <= 5:
        raise UsageError("score must be 1-5 (or give a colour)", hint="1 = at risk ... 5 = thriving")
    with ws.app_session() as s:
        p = CsmPulse(account_id=account_id, score=int(score), colour=colour, comment=comment, author=actor,
                     rated_at=rated_at or utcnow())
        s.add(p)
        s.flush()
        audit(ws, actor, "pulse.create", f"account:{account_id}", {"score": p.score}, session=s)
        return p.to_dict()


def health_band_history(ws) -> list[dict[str, Any]]:
    """Accounts per band at each stored day of the health history (empty before a refresh)."""
    rows = ws.warehouse.query("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'health_scores'")
    if not rows or not rows[0]["n"]:
        return []
    out: dict[Any, dict[str, Any]] = {}
    for r in ws.warehouse.query("SELECT day, coalesce(band, 'not_scored') AS band, count(*) AS n FROM health_scores "
                                "GROUP BY 1, 2 ORDER BY 1"):
        out.setdefault(r["day"], {"day": r["day"]})[r["band"]] = r["n"]
    return list(out.values())


def assign_csm(ws, account_id: str, csm: str | None, *, actor: str) -> dict[str, Any]:
    """Set (or with ``csm`` None, remove) the application's owner of an account; it overrides
    the account's ``csm`` attribute in the portfolio, the worklist and write rights."""
    from retentio.store import AccountAssignment, utcnow

    _check_account(ws, account_id)
    with ws.app_session() as s:
        row = s.get(AccountAssignment, account_id)
        before = row.csm if row else None
        if csm:
            csm = csm.strip()
            row = row or AccountAssignment(account_id=account_id)
            # a hand-over by a user: no longer a round-robin member of a team
            row.csm, row.team, row.assigned_by, row.updated_at = csm, None, actor, utcnow()
            s.add(row)
        elif row is not None:
            if row.touch_tier is None:
                s.delete(row)
            else:  # keep the touch tier a playbook set
                row.csm, row.team, row.assigned_by, row.updated_at = None, None, actor, utcnow()
        audit(ws, actor, "account.assign_csm", f"account:{account_id}", {"csm": [before, csm]}, session=s)
    CACHE.invalidate(ws)  # the portfolio holds the owners
    return {"account_id": account_id, "csm": account_owner(ws, account_id)}


# -- saved views ----------------------------------------------------------------------------
VIEW_PAGES = ("portfolio", "overview", "cohorts", "segments")


def views_list(ws, owner: str, page: str | None = None) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from retentio.store import SavedView

    q = select(SavedView).where(SavedView.owner == owner.lower())
    if page:
        q = q.where(SavedView.page == page)
    with ws.app_session() as s:
        return [v.to_dict() for v in s.scalars(q.order_by(SavedView.name))]


def view_save(ws, *, owner: str, name: str, page: str, params: dict[str, Any]) -> dict[str, Any]:
    from retentio.store import SavedView

    name = (name or "").strip()
    if not name:
        raise UsageError("the view needs a name", hint="e.g. red accounts of EMEA")
    if page not in VIEW_PAGES:
        raise UsageError(f"page {page!r} is not one of {', '.join(VIEW_PAGES)}", hint="e.g. portfolio")
    clean = {str(k)[:50]: str(v)[:200] for k, v in (params or {}).items() if v not in (None, "")}
    with ws.app_session() as s:
        v = SavedView(owner=owner.lower(), name=name[:200], page=page, params=clean)
        s.add(v)
        s.flush()
        audit(ws, owner, "view.save", f"view:{v.id}", {"name": v.name, "page": page}, session=s)
        return v.to_dict()


def view_delete(ws, view_id: int, *, owner: str) -> None:
    from retentio.store import SavedView

    with ws.app_session() as s:
        v = s.get(SavedView, view_id)
        if v is None or v.owner != owner.lower():  # someone else's view does not exist for you
            raise NotFound(f"no saved view {view_id}", hint="list yours with GET /api/v1/views")
        s.delete(v)
        audit(ws, owner, "view.delete", f"view:{view_id}", session=s)
