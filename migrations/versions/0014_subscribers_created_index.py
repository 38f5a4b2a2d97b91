"""The newsroom's growth chart counts sign-ups by day: an index on when subscribers were added.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_subscribers_created_at", "subscribers", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_subscribers_created_at", "subscribers")
