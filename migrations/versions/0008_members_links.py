"""Subscriber ids never reused, per-subscriber link keys, sign-up requests kept apart from the
subscriber until confirmed, one-time access links, and the outbox (issue 16, issue 17).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Unsubscribe links already in readers' inboxes keep working this long (then a fresh digest's
# links, which are bound to the subscriber's key, have long replaced them).
LEGACY_GRACE = timedelta(days=60)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # On SQLite the table is rebuilt with AUTOINCREMENT, so a deleted id is never handed out
    # again (store.migrate turns foreign keys off meanwhile, as SQLite's docs ask); PostgreSQL's
    # sequence never reuses a value already.
    with op.batch_alter_table(
        "subscribers",
        recreate="always" if sqlite else "auto",
        table_kwargs={"sqlite_autoincrement": True},
    ) as batch:
        batch.add_column(sa.Column("link_key", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("legacy_links_until", sa.DateTime(timezone=True)))
    subscribers = sa.table(
        "subscribers",
        sa.column("id", sa.Integer()),
        sa.column("link_key", sa.String()),
        sa.column("legacy_links_until", sa.DateTime(timezone=True)),
    )
    until = datetime.now(UTC) + LEGACY_GRACE
    bind = op.get_bind()
    for (subscriber_id,) in bind.execute(sa.select(subscribers.c.id)).all():
        bind.execute(
            subscribers.update()
            .where(subscribers.c.id == subscriber_id)
            .values(
                link_key=secrets.token_urlsafe(24),
                legacy_links_until=until.replace(tzinfo=None) if sqlite else until,
            )
        )
    with op.batch_alter_table("confirmations") as batch:
        batch.alter_column("subscriber_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="confirm"))
        batch.add_column(sa.Column("mailbox", sa.String(320), nullable=False, server_default=""))
        batch.add_column(sa.Column("name", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("digests", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("categories", sa.Text()))
        batch.add_column(sa.Column("used_at", sa.DateTime(timezone=True)))
        batch.create_index("ix_confirmations_mailbox", ["mailbox", "sent_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outbox")
    with op.batch_alter_table("confirmations") as batch:
        batch.drop_index("ix_confirmations_mailbox")
        for column in ("used_at", "categories", "digests", "name", "mailbox", "kind"):
            batch.drop_column(column)
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("legacy_links_until")
        batch.drop_column("link_key")
