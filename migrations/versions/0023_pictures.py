"""The site's own pictures (issue 26): ``pictures`` (one a picture, with its alt text, caption
and credit), ``picture_files`` (each rendition's bytes, content-addressed, so every daemon
serves them from the database), ``picture_fetches`` (imported stories' image addresses whose
fetch failed, and when to try again), and ``articles.picture_id``.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pictures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("alt", sa.Text(), nullable=False),
        sa.Column("caption", sa.Text(), nullable=False),
        sa.Column("credit", sa.String(300), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("source_url", sa.String(2000), nullable=False),
        sa.Column("created_by", sa.String(320), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "picture_files",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column(
            "picture_id",
            sa.Integer(),
            sa.ForeignKey("pictures.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(30), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_picture_files_picture_id", "picture_files", ["picture_id"])
    op.create_table(
        "picture_fetches",
        sa.Column("url", sa.String(2000), primary_key=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("next_try_at", WHEN, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        # A plain ADD COLUMN: a batch rebuild of ``articles`` would drop the table that
        # categories, corrections and editions point at (ON DELETE CASCADE).
        op.execute("ALTER TABLE articles ADD COLUMN picture_id INTEGER REFERENCES pictures (id)")
    else:
        op.add_column("articles", sa.Column("picture_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "articles_picture_id_fkey",
            "articles",
            "pictures",
            ["picture_id"],
            ["id"],
        )
    op.create_index("ix_articles_picture_id", "articles", ["picture_id"])


def downgrade() -> None:
    op.drop_index("ix_articles_picture_id", "articles")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE articles DROP COLUMN picture_id")
    else:
        op.drop_constraint("articles_picture_id_fkey", "articles", type_="foreignkey")
        op.drop_column("articles", "picture_id")
    op.drop_table("picture_fetches")
    op.drop_index("ix_picture_files_picture_id", "picture_files")
    op.drop_table("picture_files")
    op.drop_table("pictures")
