"""One-off editions and audiences (issue 27): breaking news (one story, sent now) and plain
messages are editions of another ``kind``; an ``audience`` is a saved filter over members;
members say whether they want breaking news (``subscribers.breaking``).

The column's default is true, so new sign-ups get breaking news; members who joined before
it existed never chose it, so the migration sets theirs to false: they keep what they chose
(the digests) until they tick it on their preferences page.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audiences",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("filter", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("created_by", sa.String(400), nullable=False, server_default=""),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="digest"))
        batch.add_column(sa.Column("audience", sa.String(100), nullable=False, server_default=""))
        batch.add_column(sa.Column("audience_filter", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("body", sa.Text(), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("in_archive", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.add_column(
        "subscribers",
        sa.Column("breaking", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    # Members who joined before breaking news existed never chose it.
    op.execute(sa.text("UPDATE subscribers SET breaking = :off").bindparams(off=False))


def downgrade() -> None:
    op.execute("ALTER TABLE subscribers DROP COLUMN breaking")  # SQLite 3.35 or newer
    with op.batch_alter_table("editions") as batch:
        for column in ("in_archive", "body", "audience_filter", "audience", "kind"):
            batch.drop_column(column)
    op.drop_table("audiences")
