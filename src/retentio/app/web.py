"""The web dashboard: server-rendered Jinja2 pages, Plotly charts served by the app, no inline script."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from retentio import clock
from retentio.app.cache import CACHE
from retentio.app.i18n import Formatter, pick_language
from retentio.app.security import (
    CSRF_FIELD, SESSION_COOKIE, AppError, check_csrf, csrf_token, current_user, require_role,
    require_write,
)

router = APIRouter(include_in_schema=False)
TEMPLATES = Path(__file__).resolve().parent / "templates"
env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True,
                  lstrip_blocks=True)
env.filters["tojson_attr"] = lambda v: json.dumps(v, default=str)

KPIS = [  # (key, kind) in the order of the overview
    ("mrr", "money"), ("arr", "money"), ("customers", "int"), ("nrr", "pct"), ("grr", "pct"),
    ("customer_churn_rate", "pct"), ("gross_mrr_churn_rate", "pct"), ("net_mrr_churn_rate", "pct"),
    ("quick_ratio", "ratio"), ("ltv", "money"), ("cs_magic_number", "ratio"), ("cs_headwind", "pct"),
    ("cs_tailwind", "pct"),
]
SEGMENT_ATTRS_MAX_VALUES = 30
LABELS = {  # what a person reads for each figure key (translated through the catalog)
    "mrr": "MRR", "arr": "ARR", "customers": "Customers", "nrr": "Net revenue retention", "grr": "Gross revenue retention",
    "customer_churn_rate": "Customer churn", "gross_mrr_churn_rate": "Gross MRR churn", "net_mrr_churn_rate": "Net MRR churn",
    "quick_ratio": "Quick ratio", "ltv": "Lifetime value", "cs_magic_number": "CS Magic Number", "cs_headwind": "CS Headwind",
    "cs_tailwind": "CS Tailwind", "arpa": "ARPA",
}
PERIOD_LABELS = {"last": "Last month", "last-3": "Last 3 months", "last-12": "Last 12 months"}
MOVEMENT_SIGN = {"new": 1, "expansion": 1, "reactivation": 1, "contraction": -1, "churn": -1}
env.globals.update(LABELS=LABELS, PERIOD_LABELS=PERIOD_LABELS, MOVEMENT_SIGN=MOVEMENT_SIGN)


def _ws(request: Request):
    return request.app.state.ws


def web_user(request: Request) -> dict[str, Any]:
    user = current_user(request)
    if user is None:
        raise AppError(401, "unauthenticated", "log in first", headers={})
    return user


def lang_of(request: Request, user: dict | None) -> str:
    return pick_language((user or {}).get("language"), request.headers.get("accept-language"),
                         request.cookies.get("retentio_lang"))


def render(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    user = ctx.pop("user", None) or getattr(request.state, "user", None)
    if user == "unset":
        user = None
    lang = lang_of(request, user)
    ws = _ws(request)
    fmt = Formatter(lang, ws.settings.workspace.base_currency)
    html = env.get_template(template).render(
        request=request, user=user, lang=lang, _=fmt.gettext, fmt=fmt, csrf=csrf_token(request),
        csrf_field=CSRF_FIELD, path=request.url.path, urlencode=urlencode, **ctx)
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, error: dict) -> HTMLResponse:
    return render(request, "error.html", status=status, error=error)


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    check_csrf(request, form.get(CSRF_FIELD))
    return dict(form)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _safe_next(nxt: str | None) -> str:
    return nxt if nxt and nxt.startswith("/") and not nxt.startswith("//") else "/"


# -- login -------------------------------------------------------------------------------------
@router.get("/login")
def login_page(request: Request, next: str | None = None):
    return render(request, "login.html", next=_safe_next(next), error=None, user={})


@router.post("/login")
async def login(request: Request):
    from retentio.app.service import authenticate, session_create

    form = await _form(request)
    request.app.state.login_limiter.hit("login:" + (request.client.host if request.client else "?"))
    user = authenticate(_ws(request), str(form.get("email", "")), str(form.get("password", "")))
    if user is None:
        return render(request, "login.html", status=401, next=_safe_next(form.get("next")), user={},
                      error="Wrong e-mail or password.")
    secret = session_create(_ws(request), user["id"], request.headers.get("user-agent"))
    resp = _redirect(_safe_next(form.get("next")))
    resp.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax", secure=request.app.state.secure_cookies,
                    max_age=14 * 86400, path="/")
    return resp


@router.post("/logout")
async def logout(request: Request):
    from retentio.app.service import session_delete

    await _form(request)
    if request.cookies.get(SESSION_COOKIE):
        session_delete(_ws(request), request.cookies[SESSION_COOKIE])
    resp = _redirect("/login")
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.post("/language")
async def language(request: Request):
    from retentio.app.service import user_set_language

    user = web_user(request)
    form = await _form(request)
    lang = str(form.get("language", "en"))
    user_set_language(_ws(request), user["id"], lang)
    return _redirect(_safe_next(str(form.get("next") or "/")))


# -- overview ---------------------------------------------------------------------------------
def _cached(request: Request, method: str, args: dict, compute):
    return CACHE.get_or_compute(_ws(request), method, args, compute, clock.today())


def segment_options(request: Request) -> list[tuple[str, str]]:
    ws = _ws(request)

    def build():
        rows = ws.warehouse.query(
            """SELECT attribute, value FROM account_attributes WHERE attribute IN (
                 SELECT attribute FROM account_attributes GROUP BY attribute HAVING count(DISTINCT value) <= ?)
               GROUP BY attribute, value ORDER BY attribute, value""", [SEGMENT_ATTRS_MAX_VALUES])
        return [(r["attribute"], r["value"]) for r in rows]

    return _cached(request, "segment_options", {}, build)


def _filter_arg(segment: str | None) -> dict[str, str] | None:
    if not segment:
        return None
    k, eq, v = segment.partition("=")
    if not eq:
        raise AppError(422, "usage_error", f"segment {segment!r}: expected ATTR=VALUE", "pick a segment in the list")
    return {k: v}


def period_options() -> list[str]:
    from retentio.clock import last_complete_month

    y, m = last_complete_month(clock.today())
    out = ["last", "last-3", "last-12"]
    idx = y * 12 + m - 1
    out += [f"{(idx - k) // 12}-{(idx - k) % 12 + 1:02d}" for k in range(24)]
    out += [f"{y - k}" for k in range(1, 3)]
    return out


@router.get("/")
def overview(request: Request, period: Annotated[str, Query(max_length=40)] = "last",
             segment: Annotated[str | None, Query(max_length=200)] = None):
    from retentio.output import metrics_result

    user = web_user(request)
    ws = _ws(request)
    filters = _filter_arg(segment)
    fig = _cached(request, "metrics", {"period": period, "filter": filters}, lambda: metrics_result(ws, period, filters=filters))
    last = fig["period"].split("..")[-1]
    series = _cached(request, "metrics_series", {"period": f"last-12", "filter": filters},
                     lambda: ws.metrics_series("last-12", filters=filters))
    mv = fig.get("movements", {})
    tr = Formatter(lang_of(request, user)).gettext
    steps = ["start", "new", "expansion", "reactivation", "contraction", "churn", "end"]
    waterfall = {
        "data": [{"type": "waterfall", "orientation": "v",
                  "measure": ["absolute", "relative", "relative", "relative", "relative", "relative", "total"],
                  "x": [tr(x) for x in steps],
                  "y": [fig.get("mrr_start") or 0, mv.get("new", 0), mv.get("expansion", 0), mv.get("reactivation", 0),
                        -(mv.get("contraction") or 0), -(mv.get("churn") or 0), 0],
                  "connector": {"line": {"color": "#999"}},
                  "increasing": {"marker": {"color": "#2e7d32"}}, "decreasing": {"marker": {"color": "#c62828"}},
                  "totals": {"marker": {"color": "#1565c0"}}}],
        "layout": {"margin": {"t": 10, "r": 10, "b": 40, "l": 70}, "height": 300, "showlegend": False,
                   "yaxis": {"range": _bridge_range(fig)}},
        "links": {tr(t): t for t in steps[1:-1]},  # a click on a bar lists its movements
    }
    trend = {
        "data": [{"type": "scatter", "mode": "lines+markers", "x": [r["period"] for r in series],
                  "y": [r["mrr"] for r in series], "line": {"color": "#1565c0"}}],
        "layout": {"margin": {"t": 10, "r": 10, "b": 40, "l": 70}, "height": 300, "showlegend": False},
    }
    from retentio.output import rounded

    shown = rounded(fig.to_dict())  # the values of metrics --format json (rates 4 significant digits)
    kpis = []
    for key, kind in KPIS:
        b = fig.get("benchmarks", {}).get(key)
        kpis.append({"key": key, "kind": kind, "value": shown.get(key), "status": b["status"] if b else None,
                     "reference": b["reference"] if b else None})
    return render(request, "overview.html", user=user, fig=fig, kpis=kpis, period=period, segment=segment or "",
                  segments=segment_options(request), periods=period_options(), waterfall=waterfall, trend=trend,
                  last_month=last)


@router.get("/explain/{metric}")
def explain(request: Request, metric: str, period: Annotated[str, Query(max_length=40)] = "last",
            segment: Annotated[str | None, Query(max_length=200)] = None):
    user = web_user(request)
    ws = _ws(request)
    filters = _filter_arg(segment)
    e = _cached(request, "explain", {"metric": metric, "period": period, "filter": filters, "top": 20},
                lambda: ws.explain(metric, period, filters=filters, top=20))
    kind = dict(KPIS).get(metric) or ("pct" if metric.endswith(("_rate", "_share")) or metric in ("crr", "gross_margin")
                                      else "money" if _is_money(metric) else "ratio")
    names = _names(ws, [r["account_id"] for r in e.get("accounts", []) if "account_id" in r])
    # the account rows carry account_name (shown in the account link) and csm
    cols = [c for c in (e.accounts[0] if e.accounts else {}) if not (c == "account_name" and "account_id" in e.accounts[0])]
    return render(request, "explain.html", user=user, e=e, period=period, segment=segment or "", kind=kind, names=names,
                  cols=cols, is_money=_is_money)


def _is_money(key: str) -> bool:
    """An input or column of an explanation that is an amount of money (shown with the currency)."""
    from retentio.figures import unit_of

    return unit_of(key) == "money" or "mrr" in key or key in ("change", "amount", "arpa", "revenue", "cost")


@router.get("/movements")
def movements_page(request: Request, period: Annotated[str, Query(max_length=40)] = "last",
                   type: Annotated[str | None, Query(max_length=20)] = None,
                   segment: Annotated[str | None, Query(max_length=200)] = None):
    user = web_user(request)
    ws = _ws(request)
    filters = _filter_arg(segment)
    from retentio.output import movements_result

    # = GET /api/v1/movements?limit=500: the largest 500 (amounts are sizes), and how many in all
    data = _cached(request, "movements", {"period": period, "type": type, "filter": filters, "limit": 500},
                   lambda: movements_result(ws, period, type=type, filters=filters, limit=500))
    rows = data["rows"]
    names = _names(ws, [r["account_id"] for r in rows])
    return render(request, "movements.html", user=user, rows=rows, names=names, period=period, type=type or "",
                  segment=segment or "", count=data["count"], shown=data["shown"])


def _bridge_range(fig: dict) -> list[float]:
    """A y range that shows the movements: from a little under the lowest running total."""
    mv = fig.get("movements", {})
    run = [fig.get("mrr_start") or 0.0]
    for k, sign in (("new", 1), ("expansion", 1), ("reactivation", 1), ("contraction", -1), ("churn", -1)):
        run.append(run[-1] + sign * (mv.get(k) or 0.0))
    lo, hi = min(run), max(run)
    pad = max((hi - lo) * 0.6, hi * 0.01, 1.0)
    return [max(0.0, lo - pad), hi + pad * 0.5]


def _names(ws, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    return {r["account_id"]: r["name"] for r in ws.warehouse.query(
        f"SELECT account_id, name FROM accounts WHERE account_id IN ({marks})", list(ids))}


# -- cohorts, segments --------------------------------------------------------------------------
@router.get("/cohorts")
def cohorts(request: Request, measure: Annotated[str, Query(pattern="^(mrr|logos|arpa)$")] = "mrr",
            grain: Annotated[str, Query(pattern="^(month|quarter)$")] = "month",
            segment: Annotated[str | None, Query(max_length=200)] = None):
    user = web_user(request)
    ws = _ws(request)
    filters = _filter_arg(segment)
    c = _cached(request, "cohorts", {"measure": measure, "grain": grain, "filter": filters},
                lambda: ws.cohorts(measure=measure, grain=grain, values="relative", filters=filters))
    rows = c["rows"][-24:]
    width = max((len(r["values"]) for r in rows), default=0)
    z = [[(r["values"][k] * 100 if k < len(r["values"]) and r["values"][k] is not None else None) for k in range(width)] for r in rows]
    heat = {"data": [{"type": "heatmap", "z": z, "x": list(range(width)), "y": [f"{r['cohort']} ({r['size']})" for r in rows],
                      # 100 % light, losses red, gains green
                      "colorscale": [[0, "#c62828"], [0.45, "#ffcc80"], [0.625, "#f1f8e9"], [1, "#1b5e20"]],
                      "zmin": 50, "zmax": 130, "hoverongaps": False,
                      "colorbar": {"title": {"text": "%"}}}],
            "layout": {"margin": {"t": 10, "r": 10, "b": 50, "l": 110}, "height": 640,
                       "xaxis": {"title": {"text": "age (months)" if grain == "month" else "age (quarters)"}},
                       "yaxis": {"autorange": "reversed", "type": "category"}}}
    return render(request, "cohorts.html", user=user, c=c, heat=heat, measure=measure, grain=grain, segment=segment or "",
                  segments=segment_options(request))


@router.get("/segments")
def segments(request: Request, by: Annotated[str, Query(max_length=100)] = "industry",
             period: Annotated[str, Query(max_length=40)] = "last"):
    user = web_user(request)
    ws = _ws(request)
    fig = _cached(request, "metrics_by", {"period": period, "by": by}, lambda: ws.metrics(period, by=by))
    attrs = sorted({a for a, _ in segment_options(request)} | {"touch", "plan", "cohort", "churn_reason"})
    keys = ("mrr", "customers", "customer_churn_rate", "gross_mrr_churn_rate", "nrr", "grr", "arpa", "quick_ratio")

    def row(g, f):
        return {"group": g, **{k: f.get(k) for k in keys}, "churned_mrr": (f.get("movements") or {}).get("churn")}

    rows = [row(g, f) for g, f in fig["groups"].items()]
    total = row("total", fig["overall"]) if fig.get("overall") else None
    return render(request, "segments.html", user=user, rows=rows, total=total, by=by, period=period, attrs=attrs, fig=fig,
                  periods=period_options())


# -- portfolio -----------------------------------------------------------------------------------
def _portfolio_args(q, band, csm, segment, sort, order):
    return {"q": q or None, "band": band or None, "csm": csm or None, "segment": segment or None,
            "sort": sort, "order": order}


@router.get("/portfolio")
def portfolio(request: Request, q: Annotated[str | None, Query(max_length=200)] = None,
              band: Annotated[str | None, Query(pattern="^(|red|yellow|green|thriving)$")] = None,
              csm: Annotated[str | None, Query(max_length=320)] = None,
              segment: Annotated[str | None, Query(max_length=200)] = None,
              sort: Annotated[str, Query(pattern="^(name|mrr|health|renewal|last_activity|nps|csm)$")] = "mrr",
              order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
              page: Annotated[int, Query(ge=1, le=100_000)] = 1):
    from retentio.app.service import portfolio as pf

    user = web_user(request)
    size = 50
    args = _portfolio_args(q, band, csm, segment, sort, order)
    res = pf(_ws(request), **args, limit=size, offset=(page - 1) * size)
    csms = sorted({r for r in _csm_names(request) if r})
    pages = max(1, -(-res["total"] // size))
    query = {k: v for k, v in args.items() if v}
    from retentio.app.service import views_list

    return render(request, "portfolio.html", user=user, res=res, args=args, page=page, pages=pages, csms=csms,
                  segments=segment_options(request), query=query, views=views_list(_ws(request), user["email"], "portfolio"))


@router.post("/views")
async def save_view(request: Request):
    from retentio.app.service import view_save

    user = web_user(request)
    form = await _form(request)
    params = {k: str(v) for k, v in form.items() if k in ("q", "band", "csm", "segment", "sort", "order") and v}
    view_save(_ws(request), owner=user["email"], name=str(form.get("name", "")), page="portfolio", params=params)
    return _redirect("/portfolio?" + urlencode(params))


@router.post("/views/{view_id}/delete")
async def delete_view(request: Request, view_id: int):
    from retentio.app.service import view_delete

    user = web_user(request)
    await _form(request)
    view_delete(_ws(request), view_id, owner=user["email"])
    return _redirect("/portfolio")


def _csm_names(request: Request) -> list[str]:
    ws = _ws(request)
    return _cached(request, "csm_names", {}, lambda: [r["value"] for r in ws.warehouse.query(
        "SELECT DISTINCT value FROM account_attributes WHERE attribute = 'csm' ORDER BY 1")])


@router.get("/portfolio.csv")
def portfolio_csv(request: Request, q: Annotated[str | None, Query(max_length=200)] = None,
                  band: Annotated[str | None, Query(pattern="^(|red|yellow|green|thriving)$")] = None,
                  csm: Annotated[str | None, Query(max_length=320)] = None,
                  segment: Annotated[str | None, Query(max_length=200)] = None,
                  sort: Annotated[str, Query(pattern="^(name|mrr|health|renewal|last_activity|nps|csm)$")] = "mrr",
                  order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc"):
    from retentio.app.service import portfolio as pf

    web_user(request)
    res = pf(_ws(request), **_portfolio_args(q, band, csm, segment, sort, order), limit=1000, offset=0)
    items, total, off = list(res["items"]), res["total"], 1000
    while off < total:
        items += pf(_ws(request), **_portfolio_args(q, band, csm, segment, sort, order), limit=1000, offset=off)["items"]
        off += 1000
    buf = io.StringIO()
    cols = ["account_id", "name", "mrr", "currency", "health_score", "band", "trend_1m", "nps", "last_activity", "csm", "renewal_date"]
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in items:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in cols})
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": 'attachment; filename="portfolio.csv"'})


# -- account 360 ---------------------------------------------------------------------------------
@router.get("/accounts/{account_id}")
def account(request: Request, account_id: str):
    from retentio.app.service import account_360, can_write

    user = web_user(request)
    ws = _ws(request)
    a = account_360(ws, account_id)
    rev = {"data": [{"type": "bar", "x": [r["month"] for r in a["revenue_history"]], "y": [r["mrr"] for r in a["revenue_history"]],
                     "marker": {"color": "#1565c0"}}],
           "layout": {"margin": {"t": 10, "r": 10, "b": 40, "l": 60}, "height": 240}}
    usage = {"data": [{"type": "scatter", "mode": "lines+markers", "name": "active users", "x": [r["month"] for r in a["usage"]],
                       "y": [r["active_users"] for r in a["usage"]]},
                      {"type": "bar", "name": "events", "yaxis": "y2", "opacity": 0.3, "x": [r["month"] for r in a["usage"]],
                       "y": [r["events"] for r in a["usage"]]}],
             "layout": {"margin": {"t": 10, "r": 50, "b": 40, "l": 50}, "height": 240, "legend": {"orientation": "h"},
                        "yaxis2": {"overlaying": "y", "side": "right"}}}
    points = (a.get("health_history") or {}).get("points") or []
    health_chart = None
    if points:
        health_chart = {"data": [{"type": "scatter", "mode": "lines+markers", "x": [str(h["day"]) for h in points],
                                  "y": [h["score"] for h in points], "line": {"color": "#1565c0"}}],
                        "layout": {"margin": {"t": 10, "r": 10, "b": 40, "l": 40}, "height": 200,
                                   "yaxis": {"range": [0, 100]}}}
    return render(request, "account.html", user=user, a=a, rev=rev, usage=usage, health_chart=health_chart,
                  csm_choices=sorted(set(_csm_names(request)) | {u["name"] for u in _users_for_assignment(request)}),
                  writable=can_write(ws, user, account_id), today=clock.today(),
                  default_due=(clock.today() + timedelta(days=7)).isoformat())


def _users_for_assignment(request: Request) -> list[dict]:
    from retentio.app.service import users_list

    return [u for u in users_list(_ws(request)) if u["role"] == "csm" and not u["disabled"]]


@router.post("/accounts/{account_id}/tasks")
async def account_task(request: Request, account_id: str):
    from retentio.app.service import _check_account, work_task_create

    user = web_user(request)
    form = await _form(request)
    _check_account(_ws(request), account_id)
    require_write(_ws(request), user, account_id)
    work_task_create(_ws(request), actor=user["email"], account_id=account_id, title=str(form.get("title", "")),
                     due=form.get("due") or None, priority=str(form.get("priority") or "normal"))
    return _redirect(f"/accounts/{account_id}#tasks")


@router.post("/accounts/{account_id}/notes")
async def account_note(request: Request, account_id: str):
    from retentio.app.service import _check_account, work_note_create

    user = web_user(request)
    form = await _form(request)
    _check_account(_ws(request), account_id)
    require_write(_ws(request), user, account_id)
    work_note_create(_ws(request), actor=user["email"], account_id=account_id, body=str(form.get("body", "")))
    return _redirect(f"/accounts/{account_id}#notes")


@router.post("/accounts/{account_id}/pulse")
async def account_pulse(request: Request, account_id: str):
    from retentio.app.service import _check_account, work_pulse_create

    user = web_user(request)
    form = await _form(request)
    _check_account(_ws(request), account_id)
    require_write(_ws(request), user, account_id)
    try:
        score = int(form.get("score") or 0)
    except ValueError:
        score = 0
    work_pulse_create(_ws(request), actor=user["email"], account_id=account_id, score=score or None,
                      comment=str(form.get("comment") or "") or None)
    CACHE.invalidate(_ws(request))  # the pulse counts in health scores
    return _redirect(f"/accounts/{account_id}#pulse")


@router.post("/accounts/{account_id}/csm")
async def account_csm(request: Request, account_id: str):
    from retentio.app.service import assign_csm

    user = web_user(request)
    require_role(user, "manager", "assign CSMs")
    form = await _form(request)
    assign_csm(_ws(request), account_id, str(form.get("csm") or "").strip() or None, actor=user["email"])
    return _redirect(f"/accounts/{account_id}")


@router.post("/tasks/{task_id}/status")
async def task_status(request: Request, task_id: int):
    from retentio.app.service import task_account, work_task_update

    user = web_user(request)
    form = await _form(request)
    account_id = task_account(_ws(request), task_id)
    require_write(_ws(request), user, account_id)
    work_task_update(_ws(request), task_id, actor=user["email"], status=str(form.get("status", "done")))
    return _redirect(_safe_next(str(form.get("next") or f"/accounts/{account_id}#tasks")))


# -- worklist, health ------------------------------------------------------------------------
@router.get("/worklist")
def worklist(request: Request):
    from retentio.app.service import worklist as wl

    user = web_user(request)
    return render(request, "worklist.html", user=user, w=wl(_ws(request), user))


@router.get("/health")
def health(request: Request, backtest: bool = False):
    from retentio.app.service import getattr_or_none, health_band_history, health_or_none

    user = web_user(request)
    ws = _ws(request)
    scores = health_or_none(ws, clock.today())
    run_backtest, backtest = backtest, None
    counts = history_chart = None
    bands = ("red", "yellow", "green", "thriving")
    if scores is not None:
        counts = {b: sum(1 for s in scores if s.get("band") == b) for b in bands}
        counts["not_scored"] = sum(1 for s in scores if not s.get("band"))
        bt = getattr_or_none(ws, "health_backtest")
        if bt is not None and run_backtest:  # scores every past month end: minutes on a big book, so on demand
            backtest = _cached(request, "health_backtest", {}, bt)
        rows = _cached(request, "health_band_history", {}, lambda: health_band_history(ws))
        if rows:
            colours = {"red": "#c62828", "yellow": "#f9a825", "green": "#66bb6a", "thriving": "#1b5e20"}
            history_chart = {"data": [{"type": "bar", "name": b, "x": [str(r["day"]) for r in rows],
                                       "y": [r.get(b, 0) for r in rows], "marker": {"color": colours[b]}} for b in bands],
                             "layout": {"barmode": "stack", "height": 300, "margin": {"t": 10, "r": 10, "b": 40, "l": 50},
                                        "legend": {"orientation": "h"}}}
    return render(request, "health.html", user=user, scores=scores, counts=counts, backtest=backtest,
                  history_chart=history_chart, backtest_asked=run_backtest)


@router.post("/health/refresh")
async def health_refresh(request: Request):
    from retentio.app.service import audit

    user = web_user(request)
    require_role(user, "manager", "refresh the health history")
    await _form(request)
    ws = _ws(request)
    with CACHE.compute_lock(ws):
        out = ws.health_refresh()
    CACHE.invalidate(ws)
    audit(ws, user["email"], "health.refresh", None, {"days_computed": out["days_computed"], "rows": out["rows"]})
    return _redirect("/health")


@router.get("/accounts/{account_id}/health")
def account_health(request: Request, account_id: str):
    from retentio.app.service import _check_account, getattr_or_none

    user = web_user(request)
    ws = _ws(request)
    acc = _check_account(ws, account_id)
    fn = getattr_or_none(ws, "health_explain")
    if fn is None:
        raise AppError(404, "not_available", "health is not configured", "set up health scores first")
    from retentio.app.service import health_day

    day = health_day(clock.today())  # the day the portfolio and the 360 score on
    e = _cached(request, "health_explain", {"account": account_id, "day": str(day)}, lambda: fn(account_id, as_of=day))
    return render(request, "health_explain.html", user=user, e=e, acc=acc)


# -- import ----------------------------------------------------------------------------------
ENTITIES = ("accounts", "subscriptions", "usage", "tickets", "surveys", "costs", "fx-rates")


@router.get("/import")
def import_page(request: Request):
    user = web_user(request)
    ws = _ws(request)
    return render(request, "import.html", user=user, entities=ENTITIES, result=None, history=list(reversed(ws.imports()))[:10])


@router.post("/import")
async def import_upload(request: Request, file: Annotated[UploadFile, File()], entity: Annotated[str, Form()],
                        csrf_token_: Annotated[str, Form(alias="csrf_token")] = "",
                        replace: Annotated[str | None, Form()] = None):
    from retentio.app.api import run_import

    user = web_user(request)
    check_csrf(request, csrf_token_)
    if entity not in ENTITIES:
        raise AppError(422, "usage_error", f"entity {entity!r} is not one of {', '.join(ENTITIES)}", "pick one in the list")
    result = run_import(request, user, entity, file, bool(replace))
    return render(request, "import.html", user=user, entities=ENTITIES, result=result,
                  history=list(reversed(_ws(request).imports()))[:10])


# -- admin --------------------------------------------------------------------------------------
@router.get("/admin/users")
def admin_users(request: Request, token: str | None = None):
    from retentio.app.service import users_list

    user = web_user(request)
    require_role(user, "admin", "manage users")
    return render(request, "users.html", user=user, users=users_list(_ws(request)), token=None)


@router.post("/admin/users")
async def admin_users_post(request: Request):
    from retentio.app.service import users_create, users_disable, users_list, users_token

    user = web_user(request)
    require_role(user, "admin", "manage users")
    form = await _form(request)
    action = form.get("action")
    ws = _ws(request)
    token = None
    if action == "create":
        users_create(ws, email=str(form.get("email", "")), role=str(form.get("role", "viewer")),
                     password=str(form.get("password", "")), name=str(form.get("name") or "") or None, actor=user["email"])
    elif action == "disable":
        users_disable(ws, str(form.get("email", "")), actor=user["email"])
    elif action == "token":
        token = users_token(ws, str(form.get("email", "")), name=str(form.get("name") or "web"), actor=user["email"])
    else:
        raise AppError(422, "usage_error", f"unknown action {action!r}", "use the page's buttons")
    return render(request, "users.html", user=user, users=users_list(ws), token=token)


@router.get("/api/docs")
def api_docs(request: Request):
    web_user(request)
    spec = request.app.openapi()
    ops = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                       "description": p.get("description") or "",
                       "schema": json.dumps(p.get("schema", {}), default=str)[:160]} for p in op.get("parameters", [])]
            body = None
            rb = op.get("requestBody", {}).get("content", {})
            if rb:
                ctype, content = next(iter(rb.items()))
                ref = content.get("schema", {}).get("$ref", "")
                body = f"{ctype} {ref.rsplit('/', 1)[-1]}"
            ops.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""), "tags": op.get("tags", []),
                        "params": params, "body": body, "responses": sorted(op.get("responses", {}))})
    return render(request, "api_docs.html", user=getattr(request.state, "user", None), ops=ops, spec=spec)
