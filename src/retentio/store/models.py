"""Application-state tables (SQLAlchemy 2 typed ORM).

The analytics data (accounts, subscriptions, usage ...) lives in the workspace's DuckDB
file; this database holds what the application itself creates and must keep: users and
their role, and an audit log of who did what.  Later capabilities (scores, tasks,
playbook runs, ...) add their tables here *and* an Alembic revision under
``retentio/store/migrations/versions``, then bump ``retentio.store.HEAD_REVISION``
(``retentio.store.pending_changes`` and tests/store fail while the two disagree).

Portable by construction: every type works on SQLite and PostgreSQL; roles are a string
with a CHECK constraint rather than a PostgreSQL ENUM type (no ``CREATE TYPE`` to migrate);
timestamps are stored in UTC and always come back timezone-aware, whatever the backend.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Final

from sqlalchemy import JSON, Boolean, CheckConstraint, DateTime, ForeignKey, MetaData, String, TypeDecorator, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

from retentio.errors import UsageError

# Named constraints, so that later migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES: Final = ("admin", "manager", "csm", "viewer")
"""admin: everything incl. users and settings; manager: writes on every account; csm: works
its own accounts (tasks, notes, pulse, playbooks); viewer: reads."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC, returned timezone-aware (UTC) on every backend.

    SQLite has no time zones and returns naive values; PostgreSQL ``timestamptz`` returns
    the session's zone.  Normalising both ways keeps values comparable across backends.
    Naive datetimes are refused: a naive value could be in any zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs a timezone-aware datetime (use datetime.now(timezone.utc))")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class User(Base):
    """A person using the Retentio application (web app, API, playbook owner)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'manager', 'csm', 'viewer')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased and stripped: e-mail addresses are compared case-insensitively.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # -- the application (revision 0003) --
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2 (pwdlib); None: cannot log in
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    language: Mapped[str | None] = mapped_column(String(8))  # "fr" | "en"; None: the browser's
    team: Mapped[str | None] = mapped_column(String(100))

    @validates("email")
    def _email(self, _key: str, value: str) -> str:
        value = (value or "").strip().lower()
        local, at, domain = value.partition("@")
        if not at or not local or "." not in domain or " " in value:
            raise UsageError(f"user email {value!r} is not an e-mail address", hint="give an address such as ana@example.com")
        return value

    @validates("role")
    def _role(self, _key: str, value: str) -> str:
        if value not in ROLES:
            raise UsageError(f"user role {value!r} is not one of {', '.join(ROLES)}", hint="choose admin, manager, csm or viewer")
        return value

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role, "created_at": self.created_at,
                "disabled": self.disabled, "language": self.language, "team": self.team}

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r}, role={self.role!r})"


class AuditEntry(Base):
    """One thing someone (or something: ``system``, a playbook) did, kept for accountability.

    ``actor`` is a user's e-mail or a system name; ``action`` a dotted verb such as
    ``user.create`` or ``playbook.run``; ``target`` what was acted on (``account:A-42``);
    ``details`` plain JSON (before/after values, counts, ...).
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(300), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "actor": self.actor, "action": self.action,
                "target": self.target, "details": self.details}

    def __repr__(self) -> str:
        return f"AuditEntry(id={self.id!r}, actor={self.actor!r}, action={self.action!r}, target={self.target!r})"


# -- Account work shared by health, the application and playbooks -------------------------
# Accounts live in the analytics database; these rows refer to them by ``account_id``
# (no foreign key across the two databases).

PULSE_COLOURS: Final = {"red": 1, "yellow": 3, "green": 5}
"""A CSM may rate an account 1-5 or by colour; a colour is stored with its score."""

TASK_STATUSES: Final = ("open", "done", "canceled")
TASK_PRIORITIES: Final = ("low", "normal", "high", "urgent")


class CsmPulse(Base):
    """A CSM's own rating of an account (1 = at risk ... 5 = thriving), with a comment.

    A manual health measure: it counts in the score until ``settings.health.pulse_expiry_days``
    after ``rated_at``, so a stale opinion stops counting.
    """

    __tablename__ = "csm_pulse"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(200), index=True)
    score: Mapped[int] = mapped_column()
    colour: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(String(4000))
    author: Mapped[str] = mapped_column(String(320))
    rated_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "account_id": self.account_id, "score": self.score, "colour": self.colour,
                "comment": self.comment, "author": self.author, "rated_at": self.rated_at}


class Task(Base):
    """Something a CSM has to do about an account: made by hand, by the API or by a playbook.

    ``source`` is ``manual`` or ``playbook``; a playbook's task carries its run id
    (``playbook_run_id``) so that it can close itself when its trigger clears.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'done', 'canceled')", name="status"),
        CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name="priority"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(String(4000))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    owner: Mapped[str | None] = mapped_column(String(320), index=True)  # a user's e-mail
    due_at: Mapped[datetime | None] = mapped_column()
    source: Mapped[str] = mapped_column(String(32), default="manual")
    playbook_run_id: Mapped[int | None] = mapped_column(index=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_note: Mapped[str | None] = mapped_column(String(4000))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "id", "account_id", "title", "description", "status", "priority", "owner", "due_at", "source",
            "playbook_run_id", "created_by", "created_at", "closed_at", "closed_note")}


class Note(Base):
    """A free-text note on an account (call summary, context), shown in the account 360."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(200), index=True)
    body: Mapped[str] = mapped_column(String(8000))
    author: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "account_id": self.account_id, "body": self.body, "author": self.author,
                "created_at": self.created_at}


# -- Playbooks (retentio.playbooks; docs/playbooks.md) -------------------------------------
# A run is one account (or the portfolio, account_id "*") entering one playbook for one
# trigger occurrence; its actions are the outbox the worker delivers; every delivery
# attempt is recorded.  Revision 0005.

from datetime import date as _date  # noqa: E402

from sqlalchemy import Date, ForeignKey, Integer, UniqueConstraint  # noqa: E402

RUN_STATUSES: Final = ("open", "closed")
ACTION_STATUSES: Final = ("pending", "running", "retrying", "done", "skipped", "dead", "canceled")


class PlaybookRun(Base):
    """One entry of an account into a playbook.  ``dedupe_key`` = playbook | account |
    trigger occurrence, unique: the same occurrence never starts two runs."""

    __tablename__ = "playbook_runs"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    playbook: Mapped[str] = mapped_column(String(200), index=True)
    account_id: Mapped[str] = mapped_column(String(200), index=True)
    trigger: Mapped[str] = mapped_column(String(100))
    occurrence: Mapped[str] = mapped_column(String(300))
    dedupe_key: Mapped[str] = mapped_column(String(700), unique=True)
    as_of: Mapped[_date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    level: Mapped[bool] = mapped_column(default=False)  # stays open until the trigger clears
    reason: Mapped[str] = mapped_column(String(2000), default="")
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parent_run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_reason: Mapped[str | None] = mapped_column(String(2000))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "id", "playbook", "account_id", "trigger", "occurrence", "dedupe_key", "as_of", "status", "level",
            "reason", "parent_run_id", "created_at", "closed_at", "closed_reason")}


class PlaybookAction(Base):
    """One action of a run: the outbox row the worker claims (lease), delivers and records.

    ``idempotency_key`` is unique (run, position, recipient) and is sent with the delivery
    (webhook header, e-mail Message-ID) so that a receiver can drop a repeat."""

    __tablename__ = "playbook_actions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'running', 'retrying', 'done', 'skipped', 'dead', 'canceled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("playbook_runs.id"), index=True)
    position: Mapped[int] = mapped_column()
    type: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    recipient: Mapped[str | None] = mapped_column(String(2000))
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(4000))
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "id", "run_id", "position", "type", "params", "recipient", "idempotency_key", "status", "due_at",
            "attempts", "last_error", "result", "created_at", "updated_at", "done_at")}


class PlaybookAttempt(Base):
    """One delivery attempt of an action: written when it starts (outcome ``running``) and
    again when it ends (``ok``, ``error``); an attempt left ``running`` by a killed worker
    becomes ``interrupted`` when another worker takes the action over."""

    __tablename__ = "playbook_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("playbook_actions.id"), index=True)
    number: Mapped[int] = mapped_column()
    worker: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    error: Mapped[str | None] = mapped_column(String(4000))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "id", "action_id", "number", "worker", "started_at", "finished_at", "outcome", "error")}


class AccountTag(Base):
    """A tag on an account, added by hand or by a playbook run."""

    __tablename__ = "account_tags"
    __table_args__ = (UniqueConstraint("account_id", "tag"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[str] = mapped_column(String(200), index=True)
    tag: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccountAssignment(Base):
    """Who owns an account, and its touch tier, as set in the application: by a playbook
    (``run_id``; ``team`` for a round-robin assignment) or by a user on the account 360 page
    (``assigned_by``).  The one table of ownership (revision 0006 merged the application's
    former ``csm_assignments`` into it): a ``csm`` here takes precedence over the imported
    ``csm`` attribute in the playbooks, the portfolio, the worklist and write rights."""

    __tablename__ = "account_assignments"
    account_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    csm: Mapped[str | None] = mapped_column(String(320), index=True)
    team: Mapped[str | None] = mapped_column(String(100))
    touch_tier: Mapped[str | None] = mapped_column(String(16))
    run_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # -- revision 0006 --
    assigned_by: Mapped[str | None] = mapped_column(String(320))  # a user's e-mail; None: a playbook

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("account_id", "csm", "team", "touch_tier", "run_id", "updated_at",
                                               "assigned_by")}


class Notification(Base):
    """An in-app notification for a user (worklist bell); ``read_at`` is set when seen."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    account_id: Mapped[str | None] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(String(4000))
    run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "id", "recipient", "account_id", "title", "body", "run_id", "created_at", "read_at")}
# -- The application (web app and REST API: retentio.app) -------------------------------
# API tokens and browser sessions are stored as SHA-256 digests of random 256-bit secrets:
# the secret itself is shown once and never stored.


class ApiToken(Base):
    """A revocable bearer token for scripts (``Authorization: Bearer ...``)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # the token's first characters, to recognise it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("id", "user_id", "name", "prefix", "created_at", "expires_at",
                                               "last_used_at", "revoked_at")}


class WebSession(Base):
    """A logged-in browser: the cookie holds the secret, this row its digest and expiry."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime | None] = mapped_column()
    user_agent: Mapped[str | None] = mapped_column(String(300))


class SavedView(Base):
    """A named set of page filters (portfolio, overview ...) kept for a user."""

    __tablename__ = "saved_views"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200))
    page: Mapped[str] = mapped_column(String(50))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("id", "owner", "name", "page", "params", "created_at")}
