"""The newsroom: the people who sign in to the admin, and the audit trail of every change.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False, server_default=""),
        sa.Column("totp_secret", sa.String(64), nullable=False, server_default=""),
        sa.Column("recovery_codes", sa.Text(), nullable=False, server_default=""),
        sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("link_nonce", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("signed_in_at", WHEN, nullable=True),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor", sa.String(400), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("subject_kind", sa.String(30), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("subject_label", sa.String(500), nullable=False, server_default=""),
        sa.Column("before", sa.Text(), nullable=False, server_default=""),
        sa.Column("after", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_audit_subject", "audit", ["subject_kind", "subject_id", "at"])
    op.create_index("ix_audit_at", "audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_at", "audit")
    op.drop_index("ix_audit_subject", "audit")
    op.drop_table("audit")
    op.drop_table("staff")
