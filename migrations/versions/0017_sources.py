"""Sources of articles (press feeds, a site's CMS): each source's polling and WebSub state,
and the items seen, once each.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False, server_default=""),
        sa.Column("label", sa.String(300), nullable=False, server_default=""),
        sa.Column("mode", sa.String(20), nullable=False, server_default="inbox"),
        sa.Column("url", sa.String(2000), nullable=False, server_default=""),
        sa.Column("categories", sa.Text(), nullable=False, server_default=""),
        sa.Column("etag", sa.String(500), nullable=False, server_default=""),
        sa.Column("last_modified", sa.String(100), nullable=False, server_default=""),
        sa.Column("last_poll_at", WHEN, nullable=True),
        sa.Column("next_poll_at", WHEN, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_error", sa.Text(), nullable=False, server_default=""),
        sa.Column("items_seen", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("hub", sa.String(2000), nullable=False, server_default=""),
        sa.Column("topic", sa.String(2000), nullable=False, server_default=""),
        sa.Column("secret", sa.String(100), nullable=False, server_default=""),
        sa.Column("websub_state", sa.String(20), nullable=False, server_default=""),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "source_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=False, server_default=""),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("body_html", sa.Text(), nullable=False, server_default=""),
        sa.Column("image", sa.String(2000), nullable=False, server_default=""),
        sa.Column("author", sa.String(200), nullable=False, server_default=""),
        sa.Column("link", sa.String(2000), nullable=False, server_default=""),
        sa.Column("published", WHEN, nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="new"),
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("articles.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("first_seen", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.UniqueConstraint("source", "key"),
    )
    op.create_index("ix_source_items_status", "source_items", ["status", "first_seen", "id"])
    op.create_index("ix_source_items_link", "source_items", ["source", "link"])
    op.create_index("ix_source_items_article", "source_items", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_source_items_article", "source_items")
    op.drop_index("ix_source_items_link", "source_items")
    op.drop_index("ix_source_items_status", "source_items")
    op.drop_table("source_items")
    op.drop_table("sources")
