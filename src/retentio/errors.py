"""One error hierarchy for the whole product.

Every error a user can cause carries a one-line ``message``, a ``hint`` saying what to do,
and ``details`` (plain data: file, row, column, value ...).  The CLI prints
``message`` and ``hint`` on one line each and exits with ``exit_code``; the API returns
``{"error": {"code", "message", "hint", "details"}}``.  Nothing else should reach a user.
"""

from __future__ import annotations

from typing import Any


class RetentioError(Exception):
    """Base class: a problem the user can understand and fix."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "hint": self.hint, "details": self.details}}

    def __str__(self) -> str:  # one line, hint included, for logs and tracebacks
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class DataError(RetentioError):
    """The data is wrong: unreadable file, missing column, missing FX rate ..."""

    code = "data_error"
    exit_code = 1


class ConfigError(RetentioError):
    """The workspace or its configuration is wrong or missing."""

    code = "config_error"
    exit_code = 1


class UsageError(RetentioError):
    """The request itself is malformed: bad period, unknown metric, unknown option value."""

    code = "usage_error"
    exit_code = 2


class NotFound(RetentioError):
    code = "not_found"
    exit_code = 1


class EngineUnavailable(RetentioError):
    """An engine was asked for whose runtime is missing (PySpark without Java, ...)."""

    code = "engine_unavailable"
    exit_code = 1


class WorkspaceVersionError(ConfigError):
    """The workspace was made by another version of Retentio."""

    code = "workspace_version"


__all__ = ["ConfigError", "DataError", "EngineUnavailable", "NotFound", "RetentioError", "UsageError",
    "WorkspaceVersionError"]
