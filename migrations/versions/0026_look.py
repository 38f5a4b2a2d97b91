"""The digest's look, set in the newsroom (issue 27): ``look`` holds the one row of what an
admin chose (a JSON object; a field not in it follows the settings and schedules.yaml), and
``look_logos`` every logo uploaded, by the SHA-256 of its bytes; ``editions.look`` the look an
edition was first rendered with.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "look",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chosen", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", WHEN, nullable=False),
        sa.Column("changed_by", sa.String(400), nullable=False),
    )
    op.create_table(
        "look_logos",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("created_by", sa.String(400), nullable=False),
    )
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("look", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("look")
    op.drop_table("look_logos")
    op.drop_table("look")
