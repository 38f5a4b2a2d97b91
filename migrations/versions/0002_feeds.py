"""Change stamps, feed state and WebSub pings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    stamps = op.create_table(
        "stamps",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.bulk_insert(stamps, [{"name": "articles", "version": 0}])
    op.create_table(
        "feed_state",
        sa.Column("path", sa.String(300), primary_key=True),
        sa.Column("etag", sa.String(80), nullable=False),
        sa.Column("changed_at", WHEN, nullable=False),
    )
    op.create_table(
        "websub_pings",
        sa.Column("feed_url", sa.String(2000), primary_key=True),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
    )
    op.create_index("ix_websub_pings_due_at", "websub_pings", ["due_at"])


def downgrade() -> None:
    op.drop_table("websub_pings")
    op.drop_table("feed_state")
    op.drop_table("stamps")
