"""Sending processes register with a heartbeat, so a dead one's leases go back at once.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "send_workers",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("proc_start", sa.String(40), nullable=False),
        sa.Column("started_at", WHEN, nullable=False),
        sa.Column("beat_at", WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("send_workers")
