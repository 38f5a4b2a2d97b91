"""The editorial day (issue 26): an article's life (draft, in review, published, withdrawn),
who wrote it and who published it, an editor's note sending it back, a withdrawal's reason
and time, and a revision kept at every save. Every article that exists is published or
unpublished already, which stay what they were.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("articles", sa.Column("owner_id", sa.Integer(), nullable=True))
    op.add_column(
        "articles",
        sa.Column("published_by", sa.String(320), nullable=False, server_default=""),
    )
    op.add_column(
        "articles", sa.Column("review_note", sa.Text(), nullable=False, server_default="")
    )
    op.add_column(
        "articles", sa.Column("withdrawn_reason", sa.Text(), nullable=False, server_default="")
    )
    op.add_column("articles", sa.Column("withdrawn_at", WHEN, nullable=True))
    op.create_table(
        "article_revisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(400), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_article_revisions_article", "article_revisions", ["article_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_article_revisions_article", table_name="article_revisions")
    op.drop_table("article_revisions")
    op.execute("UPDATE articles SET status = 'unpublished' WHERE status <> 'published'")
    # Plain DROP COLUMN (SQLite 3.35+, PostgreSQL): no table rebuild under the search index.
    for name in ("withdrawn_at", "withdrawn_reason", "review_note", "published_by", "owner_id"):
        op.execute(f"ALTER TABLE articles DROP COLUMN {name}")
