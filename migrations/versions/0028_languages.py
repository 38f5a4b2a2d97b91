"""Readers in their own language (issue 29): a story's language (a BCP 47 tag; empty means the
site's default) and the key that links it to its translations; a member's language (of the
site and mail) and the languages of the stories they read, and the same asked for by a
sign-up until it is confirmed.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE ADD/DROP COLUMN on both databases (SQLite has both since 3.35): a batch
# copy of ``articles`` would drop the table under the search index's triggers (0022).
COLUMNS = {
    "articles": [
        sa.Column("language", sa.String(35), nullable=False, server_default=""),
        sa.Column("translation_key", sa.String(200), nullable=False, server_default=""),
    ],
    "subscribers": [
        sa.Column("language", sa.String(35), nullable=False, server_default=""),
        sa.Column("languages", sa.String(200), nullable=False, server_default=""),
    ],
    "confirmations": [
        sa.Column("language", sa.String(35), nullable=False, server_default=""),
        sa.Column("languages", sa.String(200), nullable=True),
    ],
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        for column in columns:
            op.add_column(table, column)
    op.create_index("ix_articles_language", "articles", ["language", "published_at"])
    op.create_index("ix_articles_translation_key", "articles", ["translation_key"])


def downgrade() -> None:
    op.drop_index("ix_articles_translation_key", table_name="articles")
    op.drop_index("ix_articles_language", table_name="articles")
    for table, columns in COLUMNS.items():
        for column in reversed(columns):
            op.drop_column(table, column.name)
