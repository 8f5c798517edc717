"""The FastAPI application: REST API + web dashboard on one workspace.

``create_app(workspace)`` builds it; ``retentio serve`` runs ``app_from_env`` under uvicorn.
Errors of every route come out in one shape, ``{"error": {"code", "message", "hint",
"details"}}`` (the web pages show the same message on an error page).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from retentio import clock
from retentio.app.security import CSRF_COOKIE, SECURITY_HEADERS, AppError, RateLimiter, current_user
from retentio.errors import ConfigError, DataError, NotFound, RetentioError, UsageError

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              406: "not_acceptable", 413: "too_large", 415: "unsupported_media_type", 422: "validation_error",
              429: "rate_limited", 500: "internal_error"}


def _status(exc: RetentioError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, (UsageError, DataError)):
        return 422
    if isinstance(exc, ConfigError):
        return 503
    return 500


def error_body(status: int, code: str, message: str, hint: str | None = None, details: Any = None) -> dict:
    return {"error": {"code": code, "message": message, "hint": hint, "details": details if details is not None else {}}}


def _wants_html(request: Request) -> bool:
    path = request.url.path
    api = path.startswith("/api/v1/") or path == "/api/openapi.json"
    return not api and "text/html" in request.headers.get("accept", "")


def create_app(workspace: str | os.PathLike | None = None, *, secure_cookies: bool | None = None,
               login_limit: tuple[int, float] = (10, 300.0)) -> FastAPI:
    from retentio.service import Workspace

    ws = Workspace(workspace)
    app = FastAPI(title="Retentio API", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  description="Customer Success figures, accounts and work. Every figure endpoint returns the JSON "
                              "of the matching `retentio ... --format json` command.")
    app.state.ws = ws
    app.state.secure_cookies = (os.environ.get("RETENTIO_SECURE_COOKIES") == "1") if secure_cookies is None else secure_cookies
    app.state.login_limiter = RateLimiter(*login_limit)

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        if request.url.path.startswith(("/api/", "/accounts", "/portfolio", "/worklist")):
            response.headers.setdefault("cache-control", "no-store")
        new = getattr(request.state, "new_csrf", None)
        if new and not request.cookies.get(CSRF_COOKIE):
            response.set_cookie(CSRF_COOKIE, new, httponly=True, samesite="strict", secure=app.state.secure_cookies, path="/")
        return response

    def render_error(request: Request, status: int, body: dict, headers: dict | None = None):
        if status == 401 and _wants_html(request):
            return RedirectResponse("/login?next=" + request.url.path, status_code=303)
        if _wants_html(request):
            from retentio.app.web import error_page

            return error_page(request, status, body["error"])
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError):
        return render_error(request, exc.status, error_body(exc.status, exc.code, exc.message, exc.hint, exc.details), exc.headers)

    @app.exception_handler(RetentioError)
    async def retentio_error(request: Request, exc: RetentioError):
        status = _status(exc)
        return render_error(request, status, error_body(status, exc.code, exc.message, exc.hint, exc.details))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = [{"loc": [str(x) for x in e.get("loc", ())], "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"][1:] or first["loc"]) or "request"
        return render_error(request, 422, error_body(422, "validation_error", f"{where}: {first['msg']}",
                                                     "fix the parameter and send the request again", {"errors": errors}))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404:
            message = f"no route {request.url.path}"
        return render_error(request, exc.status_code, error_body(exc.status_code, code, message,
                                                                 "see /api/docs for the routes" if exc.status_code in (404, 405) else None),
                            getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        import logging

        logging.getLogger("retentio.app").exception("internal error on %s", request.url.path)
        return JSONResponse(error_body(500, "internal_error", f"internal error: {type(exc).__name__}",
                                       "see the server log; report it if it persists"), status_code=500)

    from retentio.app import api, web

    app.include_router(api.router)
    app.include_router(web.router)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(request: Request):
        if current_user(request) is None:
            from retentio.app.security import unauthenticated

            raise unauthenticated()
        return JSONResponse(app.openapi())

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js():
        import plotly

        return FileResponse(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", media_type="text/javascript",
                            headers={"cache-control": "public, max-age=86400"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str):
        path = (STATIC / name).resolve()
        if path.parent != STATIC or not path.is_file():
            raise AppError(404, "not_found", f"no static file {name}")
        media = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}.get(path.suffix, "application/octet-stream")
        return FileResponse(path, media_type=media, headers={"cache-control": "public, max-age=3600"})

    return app


def warm_up(app: FastAPI) -> None:
    """Compute the figures of the first pages (overview, portfolio) in the background, so the
    first person to open them does not wait; failures are left for the page to report."""
    import threading

    def run() -> None:
        from retentio.app.cache import CACHE
        from retentio.app.service import portfolio
        from retentio.output import metrics_result

        ws = app.state.ws
        try:
            CACHE.get_or_compute(ws, "metrics", {"period": "last", "filter": None},
                                 lambda: metrics_result(ws, "last"), clock.today())
            CACHE.get_or_compute(ws, "metrics_series", {"period": "last-12", "filter": None},
                                 lambda: ws.metrics_series("last-12"), clock.today())
            top = portfolio(ws, limit=1)["items"]
            if top:  # the 360's shared parts: movements, usage by month, health
                from retentio.app.service import account_360

                account_360(ws, top[0]["account_id"])
        except Exception:  # noqa: BLE001 - the page will show the error
            pass

    threading.Thread(target=run, name="retentio-warm-up", daemon=True).start()


def app_from_env() -> FastAPI:
    """uvicorn factory: the workspace from $RETENTIO_WORKSPACE (set by ``retentio serve``)."""
    app = create_app(os.environ.get("RETENTIO_WORKSPACE"))
    warm_up(app)
    return app


__all__ = ["HTMLResponse", "app_from_env", "create_app", "error_body"]
