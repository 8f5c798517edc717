"""playbook_runs, playbook_actions (the outbox), playbook_attempts, account_tags,
account_assignments, notifications

Written by hand to match the playbooks section of retentio/store/models.py.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "playbook_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("playbook", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.String(length=100), nullable=False),
        sa.Column("occurrence", sa.String(length=300), nullable=False),
        sa.Column("dedupe_key", sa.String(length=700), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("parent_run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("closed_at", _TS, nullable=True),
        sa.Column("closed_reason", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_runs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_playbook_runs_dedupe_key")),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_playbook_runs_status")),
    )
    for col in ("playbook", "account_id", "as_of", "status"):
        op.create_index(op.f(f"ix_playbook_runs_{col}"), "playbook_runs", [col], unique=False)
    op.create_table(
        "playbook_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("recipient", sa.String(length=2000), nullable=True),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", _TS, nullable=True),
        sa.Column("last_error", sa.String(length=4000), nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("done_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_actions")),
        sa.ForeignKeyConstraint(["run_id"], ["playbook_runs.id"], name=op.f("fk_playbook_actions_run_id_playbook_runs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_playbook_actions_idempotency_key")),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'retrying', 'done', 'skipped', 'dead', 'canceled')",
            name=op.f("ck_playbook_actions_status"),
        ),
    )
    for col in ("run_id", "status", "due_at"):
        op.create_index(op.f(f"ix_playbook_actions_{col}"), "playbook_actions", [col], unique=False)
    op.create_table(
        "playbook_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=4000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_attempts")),
        sa.ForeignKeyConstraint(["action_id"], ["playbook_actions.id"],
                                name=op.f("fk_playbook_attempts_action_id_playbook_actions")),
    )
    op.create_index(op.f("ix_playbook_attempts_action_id"), "playbook_attempts", ["action_id"], unique=False)
    op.create_table(
        "account_tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tags")),
        sa.UniqueConstraint("account_id", "tag", name=op.f("uq_account_tags_account_id_tag")),
    )
    op.create_index(op.f("ix_account_tags_account_id"), "account_tags", ["account_id"], unique=False)
    op.create_table(
        "account_assignments",
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("csm", sa.String(length=320), nullable=True),
        sa.Column("team", sa.String(length=100), nullable=True),
        sa.Column("touch_tier", sa.String(length=16), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_assignments")),
    )
    op.create_index(op.f("ix_account_assignments_csm"), "account_assignments", ["csm"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.String(length=4000), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("read_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(op.f("ix_notifications_recipient"), "notifications", ["recipient"], unique=False)
    op.create_index(op.f("ix_notifications_account_id"), "notifications", ["account_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notifications_account_id"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_recipient"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_account_assignments_csm"), table_name="account_assignments")
    op.drop_table("account_assignments")
    op.drop_index(op.f("ix_account_tags_account_id"), table_name="account_tags")
    op.drop_table("account_tags")
    op.drop_index(op.f("ix_playbook_attempts_action_id"), table_name="playbook_attempts")
    op.drop_table("playbook_attempts")
    for col in ("due_at", "status", "run_id"):
        op.drop_index(op.f(f"ix_playbook_actions_{col}"), table_name="playbook_actions")
    op.drop_table("playbook_actions")
    for col in ("status", "as_of", "account_id", "playbook"):
        op.drop_index(op.f(f"ix_playbook_runs_{col}"), table_name="playbook_runs")
    op.drop_table("playbook_runs")
