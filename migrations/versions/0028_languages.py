"""Readers in their own language (issue 29): a story's language (a BCP 47 tag; empty means the
site's default) and the key that links it to its translations; a member's language (of the
site and mail) and the languages of the stories they read, and the same asked for by a
sign-up until it is confirmed.

Revision ID: 0028
Revises: 0022
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("language", sa.String(35), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("translation_key", sa.String(200), nullable=False, server_default="")
        )
    op.create_index("ix_articles_language", "articles", ["language", "published_at"])
    op.create_index("ix_articles_translation_key", "articles", ["translation_key"])
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(sa.Column("language", sa.String(35), nullable=False, server_default=""))
        batch.add_column(sa.Column("languages", sa.String(200), nullable=False, server_default=""))
    with op.batch_alter_table("confirmations") as batch:
        batch.add_column(sa.Column("language", sa.String(35), nullable=False, server_default=""))
        batch.add_column(sa.Column("languages", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("confirmations") as batch:
        batch.drop_column("languages")
        batch.drop_column("language")
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("languages")
        batch.drop_column("language")
    op.drop_index("ix_articles_translation_key", table_name="articles")
    op.drop_index("ix_articles_language", table_name="articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("translation_key")
        batch.drop_column("language")
