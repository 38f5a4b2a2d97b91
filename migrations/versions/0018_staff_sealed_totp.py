"""The second factor's secrets are kept sealed (AES-GCM, base64): room for the longer values.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        for column in ("totp_secret", "totp_pending"):
            batch.alter_column(column, type_=sa.String(200), existing_type=sa.String(64))


def downgrade() -> None:
    with op.batch_alter_table("staff") as batch:
        for column in ("totp_secret", "totp_pending"):
            batch.alter_column(column, type_=sa.String(64), existing_type=sa.String(200))
