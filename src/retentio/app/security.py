"""Authentication, roles, CSRF, login rate limit and security headers of the application."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from typing import Any

from fastapi import Request

SESSION_COOKIE = "retentio_session"
CSRF_COOKIE = "retentio_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

ROLE_RANK = {"viewer": 0, "csm": 1, "manager": 2, "admin": 3}


class AppError(Exception):
    """An HTTP error in the one error shape {"error": {"code", "message", "hint", "details"}}."""

    def __init__(self, status: int, code: str, message: str, hint: str | None = None,
                 details: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint
        self.details = details or {}
        self.headers = headers or {}


def unauthenticated() -> AppError:
    return AppError(401, "unauthenticated", "authentication required",
                    "send Authorization: Bearer TOKEN (POST /api/v1/auth/token) or log in", headers={"WWW-Authenticate": "Bearer"})


def forbidden(what: str) -> AppError:
    return AppError(403, "forbidden", f"your role may not {what}", "ask an admin for a role that can")


def current_user(request: Request) -> dict[str, Any] | None:
    """The user of this request: a bearer token, else the session cookie; None if neither is valid."""
    cached = getattr(request.state, "user", "unset")
    if cached != "unset":
        return cached
    ws = request.app.state.ws
    user = None
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        from retentio.app.service import authenticate_token

        user = authenticate_token(ws, auth[7:].strip())
        request.state.auth = "bearer"
    else:
        secret = request.cookies.get(SESSION_COOKIE)
        if secret:
            from retentio.app.service import session_user

            user = session_user(ws, secret)
            request.state.auth = "session"
    request.state.user = user
    return user


def require_role(user: dict[str, Any], role: str, what: str) -> None:
    if ROLE_RANK.get(user.get("role"), -1) < ROLE_RANK[role]:
        raise forbidden(what)


def require_write(ws, user: dict[str, Any], account_id: str) -> None:
    """403 unless ``user`` may write on the account (service.can_write: viewer never, csm on
    its own accounts, manager and admin everywhere); the API and the web pages both ask here."""
    from retentio.app.service import can_write

    if not can_write(ws, user, account_id):
        raise forbidden(f"write on account {account_id}")


# -- CSRF: double submit ------------------------------------------------------------------
def csrf_token(request: Request) -> str:
    """The CSRF token of this browser (set as a cookie by the middleware when missing)."""
    tok = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not tok:
        tok = secrets.token_urlsafe(32)
        request.state.new_csrf = tok
    return tok


def check_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise AppError(403, "csrf_failed", "the form's CSRF token is missing or wrong",
                       "reload the page and submit the form again")


# -- login rate limit ----------------------------------------------------------------------
class RateLimiter:
    """At most ``limit`` attempts per ``window`` seconds per key (client address), in memory."""

    def __init__(self, limit: int = 10, window: float = 300.0):
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                retry = int(q[0] + self.window - now) + 1
                raise AppError(429, "rate_limited", "too many login attempts", f"wait {retry} s and try again",
                               {"retry_after_seconds": retry}, headers={"Retry-After": str(retry)})
            q.append(now)
            if len(self._hits) > 10_000:  # bounded memory: forget the oldest keys
                for k in list(self._hits)[:5_000]:
                    del self._hits[k]


SECURITY_HEADERS = {
    # Scripts only from the app itself (no inline script); Plotly styles its SVG inline.
    "content-security-policy": ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
                                "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
}
