"""one table of account ownership: the application's csm_assignments (0003) merged into the
playbooks' account_assignments (0005), which gains ``assigned_by``

Why this one: account_assignments is the richer table (CSM, round-robin team, touch tier,
the run that set them) and the playbooks' pinned behaviour reads and writes it; the
application needs only (account, CSM, who set it).

Data: an account assigned only by a user gets a row (``assigned_by``, ``updated_at`` = when
it was assigned).  An account assigned both ways keeps the newer CSM (a user's assignment
replaces an older playbook one, then without its round-robin team; the touch tier and
``run_id`` stay); a playbook's newer assignment is kept.  Downgrade puts the users'
assignments back into csm_assignments and removes the rows that only held them.

Written by hand to match retentio/store/models.py.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def _aware(v):
    """Timestamps as stored: naive UTC on SQLite, aware on PostgreSQL; compare them as aware."""
    if v is None:
        return datetime.min.replace(tzinfo=timezone.utc)
    if isinstance(v, str):  # SQLite may hand back text
        v = datetime.fromisoformat(v)
    return v if v.tzinfo else v.replace(tzinfo=timezone.utc)


def _tables():
    md = sa.MetaData()
    old = sa.Table("csm_assignments", md,
                   sa.Column("id", sa.Integer), sa.Column("account_id", sa.String(200)), sa.Column("csm", sa.String(320)),
                   sa.Column("assigned_by", sa.String(320)), sa.Column("assigned_at", _TS))
    new = sa.Table("account_assignments", md,
                   sa.Column("account_id", sa.String(200)), sa.Column("csm", sa.String(320)),
                   sa.Column("team", sa.String(100)), sa.Column("touch_tier", sa.String(16)),
                   sa.Column("run_id", sa.Integer), sa.Column("updated_at", _TS),
                   sa.Column("assigned_by", sa.String(320)))
    return old, new


def upgrade() -> None:
    with op.batch_alter_table("account_assignments") as batch:
        batch.add_column(sa.Column("assigned_by", sa.String(length=320), nullable=True))
    old, new = _tables()
    conn = op.get_bind()
    have = {r.account_id: r for r in conn.execute(sa.select(new.c.account_id, new.c.csm, new.c.updated_at))}
    for r in conn.execute(sa.select(old.c.account_id, old.c.csm, old.c.assigned_by, old.c.assigned_at)).all():
        cur = have.get(r.account_id)
        if cur is None:
            conn.execute(new.insert().values(account_id=r.account_id, csm=r.csm, assigned_by=r.assigned_by,
                                             updated_at=r.assigned_at))
        elif not cur.csm or _aware(r.assigned_at) >= _aware(cur.updated_at):
            conn.execute(new.update().where(new.c.account_id == r.account_id).values(
                csm=r.csm, team=None, assigned_by=r.assigned_by,
                updated_at=max(_aware(r.assigned_at), _aware(cur.updated_at))))
    op.drop_index(op.f("ix_csm_assignments_csm"), table_name="csm_assignments")
    op.drop_table("csm_assignments")


def downgrade() -> None:
    op.create_table(
        "csm_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("csm", sa.String(length=320), nullable=False),
        sa.Column("assigned_by", sa.String(length=320), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csm_assignments")),
        sa.UniqueConstraint("account_id", name=op.f("uq_csm_assignments_account_id")),
    )
    op.create_index(op.f("ix_csm_assignments_csm"), "csm_assignments", ["csm"], unique=False)
    old, new = _tables()
    conn = op.get_bind()
    mine = conn.execute(sa.select(new.c.account_id, new.c.csm, new.c.assigned_by, new.c.updated_at).where(
        new.c.assigned_by.is_not(None), new.c.csm.is_not(None))).all()
    for r in mine:
        conn.execute(old.insert().values(account_id=r.account_id, csm=r.csm, assigned_by=r.assigned_by,
                                         assigned_at=r.updated_at))
    conn.execute(new.delete().where(new.c.assigned_by.is_not(None), new.c.touch_tier.is_(None), new.c.run_id.is_(None)))
    with op.batch_alter_table("account_assignments") as batch:
        batch.drop_column("assigned_by")
