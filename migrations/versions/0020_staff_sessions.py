"""Newsroom sessions kept in the database, and sign-in attempts counted there (issue 24).

``staff_sessions``: one row per signed-in browser, named by the SHA-256 of the random id its
cookie carries; gone at sign-out, "sign out everywhere", a new password, a role change and
the person's removal. ``signin_attempts``: wrong passwords and codes counted per address,
client and person, shared by every daemon on the database. Sessions from before (a signed
cookie naming a person and an epoch) end: everyone signs in again once.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column(
            "staff_id", sa.Integer(), sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("seen_at", WHEN, nullable=False),
    )
    op.create_index("ix_staff_sessions_staff", "staff_sessions", ["staff_id"])
    op.create_table(
        "signin_attempts",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("window_start", WHEN, nullable=False),
    )
    op.create_index("ix_signin_attempts_window_start", "signin_attempts", ["window_start"])


def downgrade() -> None:
    op.drop_index("ix_signin_attempts_window_start", "signin_attempts")
    op.drop_table("signin_attempts")
    op.drop_index("ix_staff_sessions_staff", "staff_sessions")
    op.drop_table("staff_sessions")
