"""The newsroom's articles and reports: an article keeps the Markdown it was written in (so
the admin can edit it again), and a report resolved with a correction points at it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "articles", sa.Column("body_markdown", sa.Text(), nullable=False, server_default="")
    )
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("correction_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_reports_correction_id",
            "corrections",
            ["correction_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_constraint("fk_reports_correction_id", type_="foreignkey")
        batch.drop_column("correction_id")
    op.drop_column("articles", "body_markdown")
