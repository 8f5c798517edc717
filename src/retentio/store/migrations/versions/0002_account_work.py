"""csm_pulse, tasks, notes

What CSMs record about accounts, shared by health (the CSM pulse measure), the application
(worklist, account 360) and playbooks (tasks they create).  Written by hand to match
retentio/store/models.py.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "csm_pulse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.String(length=4000), nullable=True),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csm_pulse")),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_csm_pulse_score")),
    )
    op.create_index(op.f("ix_csm_pulse_account_id"), "csm_pulse", ["account_id"], unique=False)
    op.create_index(op.f("ix_csm_pulse_rated_at"), "csm_pulse", ["rated_at"], unique=False)
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.String(length=4000), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=320), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("playbook_run_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_note", sa.String(length=4000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.CheckConstraint("status IN ('open', 'done', 'canceled')", name=op.f("ck_tasks_status")),
        sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f("ck_tasks_priority")),
    )
    op.create_index(op.f("ix_tasks_account_id"), "tasks", ["account_id"], unique=False)
    op.create_index(op.f("ix_tasks_status"), "tasks", ["status"], unique=False)
    op.create_index(op.f("ix_tasks_owner"), "tasks", ["owner"], unique=False)
    op.create_index(op.f("ix_tasks_playbook_run_id"), "tasks", ["playbook_run_id"], unique=False)
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("body", sa.String(length=8000), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(op.f("ix_notes_account_id"), "notes", ["account_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_notes_account_id"), table_name="notes")
    op.drop_table("notes")
    for ix in ("playbook_run_id", "owner", "status", "account_id"):
        op.drop_index(op.f(f"ix_tasks_{ix}"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index(op.f("ix_csm_pulse_rated_at"), table_name="csm_pulse")
    op.drop_index(op.f("ix_csm_pulse_account_id"), table_name="csm_pulse")
    op.drop_table("csm_pulse")
