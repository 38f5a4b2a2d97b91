"""An edition's figures: tracked links and who followed them, unsubscribes through an edition's
links, figures kept when deliveries are pruned, and an index for its progress and send rate.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_edition_status", "deliveries", ["edition_id", "status", "sent_at"]
    )
    op.create_table(
        "tracked_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "edition_id",
            sa.Integer(),
            sa.ForeignKey("editions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("url_hash", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("readers", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("ignored", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", WHEN, nullable=False),
        sa.UniqueConstraint("edition_id", "url_hash"),
    )
    op.create_table(
        "link_readers",
        sa.Column(
            "link_id",
            sa.Integer(),
            sa.ForeignKey("tracked_links.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("reader", sa.String(64), primary_key=True),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("at", WHEN, nullable=True),
    )
    op.create_table(
        "edition_unsubscribes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "edition_id",
            sa.Integer(),
            sa.ForeignKey("editions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey("subscribers.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("sent_at", WHEN, nullable=False),
        sa.Column("at", WHEN, nullable=False),
    )
    op.create_index("ix_edition_unsubscribes_edition", "edition_unsubscribes", ["edition_id", "at"])
    op.create_table(
        "edition_figures",
        sa.Column(
            "edition_id",
            sa.Integer(),
            sa.ForeignKey("editions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("bounced", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.Column("kept_at", WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("edition_figures")
    op.drop_index("ix_edition_unsubscribes_edition", "edition_unsubscribes")
    op.drop_table("edition_unsubscribes")
    op.drop_table("link_readers")
    op.drop_table("tracked_links")
    op.drop_index("ix_deliveries_edition_status", "deliveries")
