"""The newsroom's second factor: the last TOTP time step used (a code is never taken twice)
and the secret of a set-up not yet confirmed with a code.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.add_column(sa.Column("totp_step", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("totp_pending", sa.String(64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("totp_pending")
        batch.drop_column("totp_step")
