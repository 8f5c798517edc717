"""The REST API under /api/v1 (docs/api.md).

Every figure endpoint returns the text of :func:`retentio.output.dumps` applied to the same
service call as the CLI's ``--format json``: the same bytes, cached by question.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Path as PathParam, Query, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from retentio import clock
from retentio.app.cache import CACHE
from retentio.app.security import AppError, current_user, forbidden, require_role, require_write, unauthenticated
from retentio.output import dumps

router = APIRouter(prefix="/api/v1")

JSON = "application/json"


def api_user(request: Request) -> dict[str, Any]:
    user = current_user(request)
    if user is None:
        raise unauthenticated()
    # A browser session may call the API, but a write then needs the CSRF header.
    if getattr(request.state, "auth", None) == "session" and request.method not in ("GET", "HEAD", "OPTIONS"):
        from retentio.app.security import CSRF_HEADER, check_csrf

        check_csrf(request, request.headers.get(CSRF_HEADER))
    return user


User = Annotated[dict, Depends(api_user)]


def _ws(request: Request):
    return request.app.state.ws


def _filters(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise AppError(422, "usage_error", f"filter {item!r}: expected ATTR=VALUE", "e.g. filter=industry=retail")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def figure(request: Request, method: str, args: dict[str, Any], compute) -> Response:
    """The JSON text of a figure question, computed once per (question, data version, day)."""
    ws = _ws(request)
    text = CACHE.get_or_compute(ws, "json:" + method, args, lambda: dumps(compute()), clock.today())
    return Response(content=text, media_type=JSON)


Filter = Annotated[list[str] | None, Query(description="ATTR=VALUE, repeatable (the CLI's --filter).")]
Period = Annotated[str, Query(description="YYYY-MM, YYYY-Qn, YYYY, FROM..TO, last, last-N.", max_length=40)]


# -- public ------------------------------------------------------------------------------------
class Health(BaseModel):
    status: Literal["ok"]


@router.get("/health", response_model=Health, tags=["system"], summary="Liveness (no authentication)")
def health() -> dict[str, str]:
    return {"status": "ok"}


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"]


@router.post("/auth/token", response_model=TokenOut, tags=["auth"],
             summary="OAuth2 password flow: e-mail and password for a bearer token (14 days)")
def token(request: Request, username: Annotated[str, Form(max_length=320)], password: Annotated[str, Form(max_length=1000)]) -> dict:
    from retentio.app.service import authenticate, users_token

    request.app.state.login_limiter.hit("token:" + (request.client.host if request.client else "?"))
    ws = _ws(request)
    user = authenticate(ws, username, password)
    if user is None:
        raise AppError(401, "invalid_credentials", "wrong e-mail or password, or the user is disabled",
                       "check the e-mail and password", headers={"WWW-Authenticate": "Bearer"})
    t = users_token(ws, user["email"], name="oauth2", days=14, actor=user["email"])
    return {"access_token": t["token"], "token_type": "bearer"}


@router.get("/me", tags=["auth"], summary="The authenticated user")
def me(user: User) -> dict:
    return {k: user[k] for k in ("id", "email", "name", "role", "language", "team")}


# -- figures (same JSON as the CLI) ---------------------------------------------------------------
AsOfQ = Annotated[date | None, Query(description="Day of the question (default today); the CLI's --as-of.")]
Limit = Annotated[int, Query(ge=0, le=1_000_000, description="Rows to return (0: all); the CLI's --limit.")]
SortQ = Annotated[str | None, Query(max_length=100, description="A column; -column: descending (the CLI's --sort).")]


def _day(as_of: date | None) -> str | None:
    return None if as_of is None else as_of.isoformat()


@router.get("/metrics", tags=["figures"], summary="= retentio metrics --period P [--by A] [--filter ..] [--series] --format json")
def metrics(request: Request, user: User, period: Period, by: Annotated[str | None, Query(max_length=100)] = None,
            filter: Filter = None, series: bool = False, as_of: AsOfQ = None) -> Response:
    from retentio.output import metrics_result

    f = _filters(filter)
    return figure(request, "metrics", {"period": period, "by": by, "filter": f, "series": series, "as_of": _day(as_of)},
                  lambda: metrics_result(_ws(request), period, by=by, filters=f, series=series, as_of=as_of))


@router.get("/movements", tags=["figures"], summary="= retentio movements --format json")
def movements(request: Request, user: User, period: Period,
              type: Annotated[Literal["new", "expansion", "contraction", "churn", "reactivation"] | None, Query()] = None,
              filter: Filter = None, limit: Limit = 20, sort: SortQ = None, as_of: AsOfQ = None) -> Response:
    from retentio.output import movements_result

    f = _filters(filter)
    args = {"period": period, "type": type, "filter": f, "limit": limit, "sort": sort, "as_of": _day(as_of)}
    return figure(request, "movements", args, lambda: movements_result(
        _ws(request), period, type=type, filters=f, limit=limit, sort=sort, as_of=as_of))


@router.get("/explain/{metric}", tags=["figures"], summary="= retentio explain METRIC --format json")
def explain(request: Request, user: User, metric: Annotated[str, PathParam(max_length=100)], period: Period,
            filter: Filter = None, top: Annotated[int, Query(ge=0, le=1000)] = 10, as_of: AsOfQ = None) -> Response:
    f = _filters(filter)
    return figure(request, "explain", {"metric": metric, "period": period, "filter": f, "top": top, "as_of": _day(as_of)},
                  lambda: _ws(request).explain(metric, period, filters=f, top=top, as_of=as_of))


@router.get("/cohorts", tags=["figures"], summary="= retentio cohorts --format json")
def cohorts(request: Request, user: User, grain: Literal["month", "quarter"] = "month",
            measure: Literal["mrr", "logos", "arpa"] = "mrr", values: Literal["relative", "absolute"] = "relative",
            segment: Annotated[str | None, Query(max_length=100)] = None,
            through: Annotated[str | None, Query(max_length=20)] = None, filter: Filter = None,
            as_of: AsOfQ = None) -> Response:
    f = _filters(filter)
    args = {"grain": grain, "measure": measure, "values": values, "segment": segment, "through": through, "filter": f,
            "as_of": _day(as_of)}
    return figure(request, "cohorts", args, lambda: _ws(request).cohorts(
        grain=grain, measure=measure, values=values, segment=segment, through=through, filters=f, as_of=as_of))


EngagementMetric = Literal["usage", "adoption", "key-time", "lifecycle", "ces", "ttfv", "onboarding", "trials"]


@router.get("/engagement/{metric}", tags=["figures"], summary="= retentio engagement METRIC --format json")
def engagement(request: Request, user: User, metric: EngagementMetric, period: Period = "last",
               by: Annotated[str | None, Query(max_length=100, description="ttfv, onboarding, trials: an account attribute")] = None,
               daily: bool = False, overall: bool = False, limit: Limit = 20, sort: SortQ = None,
               as_of: AsOfQ = None) -> Response:
    """usage, key-time and ces are lists of accounts: sorted by ``sort`` and cut to ``limit``."""
    from retentio.output import engagement_result

    kw: dict[str, Any] = {"daily": daily, "per_account": not overall} if metric == "usage" else {}
    grouped = by if metric in ("ttfv", "onboarding", "trials") else None
    args = {"metric": metric, "period": period, "by": grouped, "limit": limit, "sort": sort, "as_of": _day(as_of), **kw}
    return figure(request, "engagement", args, lambda: engagement_result(
        _ws(request), metric, period=period, by=grouped, limit=limit, sort=sort, as_of=as_of, **kw)[1])


@router.get("/satisfaction/{metric}", tags=["figures"], summary="= retentio satisfaction METRIC --format json")
def satisfaction(request: Request, user: User, metric: Literal["nps", "csat", "tickets", "sentiment"],
                 period: Annotated[str, Query(max_length=40, description="as for metrics, or 'all' (nps, csat)")] = "last",
                 by: Annotated[list[str] | None, Query()] = None, texts: bool = False, flagged: bool = False,
                 limit: Limit = 20, sort: SortQ = None, as_of: AsOfQ = None) -> Response:
    """sentiment is a list of account-months: sorted by ``sort`` and cut to ``limit``."""
    from retentio.output import satisfaction_result

    grouped = by if metric in ("nps", "csat") else None
    args = {"metric": metric, "period": period, "by": grouped, "texts": texts, "flagged": flagged, "limit": limit,
            "sort": sort, "as_of": _day(as_of)}
    return figure(request, "satisfaction", args, lambda: satisfaction_result(
        _ws(request), metric, period=period, by=grouped, texts=texts, flagged=flagged, limit=limit, sort=sort,
        as_of=as_of)[2])


@router.get("/analyze/nps-vs-churn", tags=["figures"], summary="= retentio analyze nps-vs-churn --format json")
def nps_vs_churn(request: Request, user: User, months: Annotated[int, Query(ge=1, le=60)] = 6,
                 as_of: AsOfQ = None) -> Response:
    """Do detractors churn more than promoters in the ``months`` after their answer?"""
    return figure(request, "nps_vs_churn", {"months": months, "as_of": _day(as_of)},
                  lambda: _ws(request).nps_vs_churn(months, as_of))


# -- accounts ------------------------------------------------------------------------------------
Band = Literal["red", "yellow", "green", "thriving"]
Sort = Literal["name", "mrr", "health", "renewal", "last_activity", "nps", "csm"]
AsOf = Annotated[date | None, Query(description="Day of the question (default today).")]


class AccountRow(BaseModel):
    account_id: str
    name: str
    mrr: float
    currency: str
    health_score: float | None
    band: str | None
    trend_1m: float | None
    nps: int | None
    last_activity: date | None
    csm: str | None
    renewal_date: date | None


class AccountPage(BaseModel):
    items: list[AccountRow]
    total: int


@router.get("/accounts", response_model=AccountPage, tags=["accounts"], summary="The portfolio: search, filter, sort, page")
def accounts(request: Request, user: User, limit: Annotated[int, Query(ge=1, le=1000)] = 50,
             offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0, q: Annotated[str | None, Query(max_length=200)] = None,
             band: Band | None = None, segment: Annotated[str | None, Query(max_length=200, description="ATTR=VALUE")] = None,
             csm: Annotated[str | None, Query(max_length=320)] = None, sort: Sort = "mrr",
             order: Literal["asc", "desc"] = "desc", all_accounts: bool = False, as_of: AsOf = None) -> dict:
    from retentio.app.service import portfolio

    page = portfolio(_ws(request), as_of=as_of, q=q, band=band, csm=csm, segment=segment, customers_only=not all_accounts,
                     sort=sort, order=order,
                     limit=limit, offset=offset)
    return {"items": page["items"], "total": page["total"]}


@router.get("/accounts/{account_id}", tags=["accounts"], summary="Account 360 as JSON")
def account(request: Request, user: User, account_id: Annotated[str, PathParam(max_length=200)], as_of: AsOf = None) -> Response:
    from retentio.app.service import account_360

    return Response(content=dumps(account_360(_ws(request), account_id, as_of=as_of)), media_type=JSON)


class CsmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csm: str | None = Field(default=None, max_length=320, description="a user's e-mail or name; null: back to the account's csm attribute")


@router.put("/accounts/{account_id}/csm", tags=["accounts"], summary="Assign the account's CSM (manager, admin)")
def account_csm(request: Request, user: User, account_id: Annotated[str, PathParam(max_length=200)], body: CsmIn) -> Response:
    from retentio.app.service import assign_csm

    require_role(user, "manager", "assign CSMs")
    return Response(dumps(assign_csm(_ws(request), account_id, body.csm, actor=user["email"])), media_type=JSON)


# -- health (the health capability, when installed) ---------------------------------------------
def _health_method(request: Request, name: str):
    try:
        return getattr(_ws(request), name)
    except AttributeError:
        raise AppError(404, "not_available", f"{name} is not available: the health capability is not installed",
                       "install or enable the health capability") from None


@router.get("/health-scores", tags=["health"], summary="Health scores of every account")
def health_scores(request: Request, user: User, as_of: AsOf = None,
                  scorecard: Annotated[str | None, Query(max_length=100)] = None,
                  band: Literal["red", "yellow", "green", "thriving", "none"] | None = None) -> Response:
    fn = _health_method(request, "health_scores")
    return figure(request, "health_scores", {"as_of": str(as_of), "scorecard": scorecard, "band": band},
                  lambda: fn(as_of=as_of, scorecard=scorecard, band=band))


@router.get("/health-scores/history", tags=["health"], summary="Health history (of one account)")
def health_history(request: Request, user: User, account_id: Annotated[str, Query(max_length=200)],
                   as_of: AsOf = None) -> Response:
    """= retentio health history ACCOUNT --format json (the stored history, not refreshed here)."""
    fn = _health_method(request, "health_history")
    return Response(dumps(fn(account_id, as_of=as_of, refresh=False)), media_type=JSON)


@router.get("/health-scores/{account_id}/explain", tags=["health"], summary="Why an account has its score")
def health_explain(request: Request, user: User, account_id: Annotated[str, PathParam(max_length=200)],
                   as_of: AsOf = None, scorecard: Annotated[str | None, Query(max_length=100)] = None) -> Response:
    fn = _health_method(request, "health_explain")
    return figure(request, "health_explain", {"account": account_id, "as_of": str(as_of), "scorecard": scorecard},
                  lambda: fn(account_id, as_of=as_of, scorecard=scorecard))


@router.get("/health-scores/backtest", tags=["health"], summary="Backtest of the active scorecards")
def health_backtest(request: Request, user: User, as_of: AsOf = None,
                    scorecard: Annotated[str | None, Query(max_length=100)] = None,
                    horizon: Annotated[int | None, Query(ge=1, le=24)] = None,
                    outcome: Literal["churn", "churn_or_contraction"] = "churn") -> Response:
    fn = _health_method(request, "health_backtest")
    args = {"as_of": as_of, "scorecard": scorecard, "horizon": horizon, "outcome": outcome}
    return figure(request, "health_backtest", {k: str(v) for k, v in args.items()}, lambda: fn(**args))


# -- tasks, notes, pulse -----------------------------------------------------------------------
class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=300)
    due: date | None = None
    description: str | None = Field(default=None, max_length=4000)
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    owner: str | None = Field(default=None, max_length=320)


class TaskPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["open", "done", "canceled"] | None = None
    title: str | None = Field(default=None, min_length=1, max_length=300)
    due: date | None = None
    note: str | None = Field(default=None, max_length=4000)


@router.get("/tasks", tags=["work"], summary="Tasks (filter by account, owner, status)")
def tasks(request: Request, user: User, account_id: Annotated[str | None, Query(max_length=200)] = None,
          owner: Annotated[str | None, Query(max_length=320)] = None,
          status: Literal["open", "done", "canceled"] | None = "open") -> Response:
    from retentio.app.service import work_tasks

    return Response(dumps(work_tasks(_ws(request), account_id=account_id, owner=owner, status=status)), media_type=JSON)


@router.post("/tasks", status_code=201, tags=["work"], summary="Create a task on an account")
def task_create(request: Request, user: User, body: TaskIn) -> Response:
    from retentio.app.service import _check_account, work_task_create

    ws = _ws(request)
    if user["role"] == "viewer":
        raise forbidden("create tasks")
    _check_account(ws, body.account_id)
    require_write(_ws(request), user, body.account_id)
    t = work_task_create(ws, actor=user["email"], account_id=body.account_id, title=body.title, due=body.due,
                         description=body.description, priority=body.priority, owner=body.owner)
    return Response(dumps(t), status_code=201, media_type=JSON)


@router.patch("/tasks/{task_id}", tags=["work"], summary="Close, reopen, rename or re-date a task")
def task_update(request: Request, user: User, task_id: Annotated[int, PathParam(ge=1, le=2**62)], body: TaskPatch) -> Response:
    from retentio.app.service import task_account, work_task_update

    ws = _ws(request)
    if user["role"] == "viewer":
        raise forbidden("update tasks")
    require_write(_ws(request), user, task_account(ws, task_id))
    t = work_task_update(ws, task_id, actor=user["email"], status=body.status, title=body.title, due=body.due, note=body.note)
    return Response(dumps(t), media_type=JSON)


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=8000)


@router.get("/accounts/{account_id}/notes", tags=["work"], summary="Notes on an account")
def notes(request: Request, user: User, account_id: Annotated[str, PathParam(max_length=200)]) -> Response:
    from retentio.app.service import _check_account, work_notes

    _check_account(_ws(request), account_id)
    return Response(dumps(work_notes(_ws(request), account_id)), media_type=JSON)


@router.post("/notes", status_code=201, tags=["work"], summary="Add a note to an account")
def note_create(request: Request, user: User, body: NoteIn) -> Response:
    from retentio.app.service import _check_account, work_note_create

    if user["role"] == "viewer":
        raise forbidden("write notes")
    _check_account(_ws(request), body.account_id)
    require_write(_ws(request), user, body.account_id)
    n = work_note_create(_ws(request), actor=user["email"], account_id=body.account_id, body=body.body)
    return Response(dumps(n), status_code=201, media_type=JSON)


class PulseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str = Field(min_length=1, max_length=200)
    score: int | None = Field(default=None, ge=1, le=5)
    colour: Literal["red", "yellow", "green"] | None = None
    comment: str | None = Field(default=None, max_length=4000)


@router.get("/accounts/{account_id}/pulse", tags=["work"], summary="CSM pulse ratings of an account")
def pulse(request: Request, user: User, account_id: Annotated[str, PathParam(max_length=200)]) -> Response:
    from retentio.app.service import _check_account, work_pulse

    _check_account(_ws(request), account_id)
    return Response(dumps(work_pulse(_ws(request), account_id)), media_type=JSON)


@router.post("/pulse", status_code=201, tags=["work"], summary="Rate an account (CSM pulse, 1-5 or a colour)")
def pulse_create(request: Request, user: User, body: PulseIn) -> Response:
    from retentio.app.service import _check_account, work_pulse_create

    if user["role"] == "viewer":
        raise forbidden("rate accounts")
    _check_account(_ws(request), body.account_id)
    require_write(_ws(request), user, body.account_id)
    if body.score is None and body.colour is None:
        raise AppError(422, "usage_error", "give a score (1-5) or a colour", "e.g. {\"score\": 2}")
    p = work_pulse_create(_ws(request), actor=user["email"], account_id=body.account_id, score=body.score,
                          colour=body.colour, comment=body.comment)
    return Response(dumps(p), status_code=201, media_type=JSON)


# -- imports ---------------------------------------------------------------------------------
Entity = Literal["accounts", "subscriptions", "usage", "tickets", "surveys", "costs", "fx-rates"]
MAX_UPLOAD = 200 * 1024 * 1024


def run_import(request: Request, user: dict, entity: str, upload: UploadFile, replace: bool = False) -> dict[str, Any]:
    """Save the upload to a temporary file, import it, drop cached figures; the report as data."""
    from retentio.app.service import audit

    require_role(user, "manager", "import data")
    ws = _ws(request)
    name = Path(upload.filename or "upload.csv").name
    suffix = "".join(Path(name).suffixes[-1:]) or ".csv"
    if suffix.lower() not in (".csv", ".parquet", ".xlsx", ".json"):
        raise AppError(422, "usage_error", f"file {name!r}: unsupported type {suffix}", "upload a .csv, .parquet or .xlsx file")
    with tempfile.TemporaryDirectory(prefix="retentio-upload-") as tmp:
        path = Path(tmp) / name
        size = 0
        with open(path, "wb") as out:
            while chunk := upload.file.read(1 << 20):
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise AppError(413, "too_large", f"file larger than {MAX_UPLOAD // (1 << 20)} MiB", "import it with the CLI")
                out.write(chunk)
        with CACHE.compute_lock(ws):
            report = ws.import_file(entity, path, replace=replace)
        CACHE.invalidate(ws)
    data = report.to_dict()
    quarantined = [r for r in ws.quarantine(entity) if Path(r.get("file") or "").name == name][-500:]
    audit(ws, user["email"], "import", f"entity:{entity}", {"file": name, "accepted": data.get("rows_accepted"),
                                                            "quarantined": data.get("rows_quarantined")})
    return {"report": data, "quarantined": quarantined}


@router.post("/imports", status_code=201, tags=["imports"], summary="Upload a file: the import report and its quarantined rows")
def imports(request: Request, user: User, entity: Annotated[Entity, Form()], file: Annotated[UploadFile, File()],
            replace: Annotated[bool, Form()] = False) -> Response:
    return Response(dumps(run_import(request, user, entity, file, replace)), status_code=201, media_type=JSON)


@router.get("/quarantine", tags=["imports"], summary="= retentio quarantine --format json")
def quarantine(request: Request, user: User, entity: Entity | None = None,
               limit: Annotated[int | None, Query(ge=0, le=100_000)] = None) -> Response:
    return Response(dumps(_ws(request).quarantine(entity, limit=limit)), media_type=JSON)


# -- saved views --------------------------------------------------------------------------------
class ViewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    page: Literal["portfolio", "overview", "cohorts", "segments"]
    params: dict[str, str] = Field(default_factory=dict, max_length=20)


@router.get("/views", tags=["work"], summary="My saved views")
def views(request: Request, user: User, page: Literal["portfolio", "overview", "cohorts", "segments"] | None = None) -> Response:
    from retentio.app.service import views_list

    return Response(dumps(views_list(_ws(request), user["email"], page)), media_type=JSON)


@router.post("/views", status_code=201, tags=["work"], summary="Save a view (a page and its filters)")
def view_create(request: Request, user: User, body: ViewIn) -> Response:
    from retentio.app.service import view_save

    v = view_save(_ws(request), owner=user["email"], name=body.name, page=body.page, params=body.params)
    return Response(dumps(v), status_code=201, media_type=JSON)


@router.delete("/views/{view_id}", status_code=204, tags=["work"], summary="Delete one of my saved views")
def view_remove(request: Request, user: User, view_id: Annotated[int, PathParam(ge=1, le=2**62)]) -> Response:
    from retentio.app.service import view_delete

    view_delete(_ws(request), view_id, owner=user["email"])
    return Response(status_code=204)


# -- worklist, users ----------------------------------------------------------------------------
@router.get("/worklist", tags=["work"], summary="My open tasks and accounts needing action, most urgent first")
def worklist(request: Request, user: User, as_of: AsOf = None) -> Response:
    from retentio.app.service import worklist as wl

    return Response(dumps(wl(_ws(request), user, as_of=as_of)), media_type=JSON)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    role: Literal["admin", "manager", "csm", "viewer"]
    password: str = Field(min_length=8, max_length=1000)
    name: str | None = Field(default=None, max_length=200)
    language: Literal["fr", "en"] | None = None
    team: str | None = Field(default=None, max_length=100)


@router.get("/users", tags=["admin"], summary="Users (admin)")
def users(request: Request, user: User) -> Response:
    from retentio.app.service import users_list

    require_role(user, "admin", "list users")
    return Response(dumps(users_list(_ws(request))), media_type=JSON)


@router.post("/users", status_code=201, tags=["admin"], summary="Create a user (admin)")
def user_create(request: Request, user: User, body: UserIn) -> Response:
    from retentio.app.service import users_create

    require_role(user, "admin", "create users")
    u = users_create(_ws(request), email=body.email, role=body.role, password=body.password, name=body.name,
                     language=body.language, team=body.team, actor=user["email"])
    return Response(dumps(u), status_code=201, media_type=JSON)
